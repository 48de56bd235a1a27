"""The process that grades one job of a batch: `python -m grader.batch.worker JOB_FILE OUTCOME_FILE`.

It is `grade submit --learner` without a terminal: it bounds its threads, cores and GPU memory
before Keras is imported (they are inherited by the trainer and the sandboxed child), grades,
and writes {"result": ..., "private": ...} to OUTCOME_FILE. It records nothing: the driver does.
No outcome file means the process died: the driver treats that as the machine's fault.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path


def bound_resources(job) -> None:
    from grader.keras_support import backend

    os.environ.update(backend.resource_env(cpu_threads=job.cpu_threads, gpu_memory_fraction=job.gpu_memory_fraction))
    if job.cores and hasattr(os, "sched_setaffinity"):
        allowed = os.sched_getaffinity(0)
        cores = {c for c in job.cores if c in allowed}
        if cores:
            os.sched_setaffinity(0, cores)


def progress_events(path: str | None):
    """Events that append each stage, epoch and batch to `path` as JSON lines (None: no events).

    The reader (grader/serve/dispatch.py) takes the last complete line; a batch line is written
    at most every half second, so a long epoch costs a few hundred short writes, not thousands."""
    from grader.core.events import Events

    if path is None:
        return None
    import time

    last_batch = [0.0]

    def write(kind: str, line: dict) -> None:
        try:
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps({"kind": kind, **line}, default=str) + "\n")
        except OSError:  # progress is a courtesy: never a reason to stop grading
            pass

    def on_batch(line: dict) -> None:
        now = time.monotonic()
        if now - last_batch[0] >= 0.5:
            last_batch[0] = now
            write("batch", line)

    return Events(
        on_stage=lambda stage: write("stage", {"stage": stage}),
        on_epoch=lambda line: write("epoch", line),
        on_batch=on_batch,
    )


def grade_job(job):
    """(result document, private figures) of one job."""
    from grader.keras_support import backend
    from grader.leaderboard.records import LeaderboardRun
    from grader.pipeline import grade

    run = LeaderboardRun(learner=job.learner)
    backend.configure_process(job.device)
    backend.bound_gpu_memory()  # PyTorch only; the other backends read their environment
    result = grade(
        path=Path(job.path),
        challenge=job.challenge,
        spec_path=Path(job.spec_path) if job.spec_path else None,
        profile=job.profile,
        device=job.device,
        out_dir=Path(job.run_dir),
        seed=job.seed,
        data_dir=Path(job.data_dir) if job.data_dir else None,
        train=True,
        leaderboard=run,
        isolation=job.isolation,
        events=progress_events(job.progress_path),
    )
    private = {f.name: getattr(run, f.name) for f in dataclasses.fields(run)}
    return result.to_dict(), private


def main(argv: list[str]) -> int:
    from grader.batch.jobs import Job
    from grader.core.result import _jsonable

    job_file, outcome_file = map(Path, argv)
    job = Job.from_dict(json.loads(job_file.read_text()))
    bound_resources(job)
    result, private = grade_job(job)
    temporary = outcome_file.with_suffix(".tmp")
    temporary.write_text(json.dumps({"result": result, "private": private}, allow_nan=False, default=_jsonable))
    os.replace(temporary, outcome_file)
    return 0


if __name__ == "__main__":
    sys.stdout.flush()
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # no atexit work or lingering threads (Keras, TensorFlow) can hold the worker up
