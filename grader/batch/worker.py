"""The process that grades a batch's jobs.

    python -m grader.batch.worker JOB_FILE OUTCOME_FILE     one job, then it exits (a cold worker)
    python -m grader.batch.worker --warm SLOT_JSON          job after job from stdin (a warm worker,
                                                            grader/batch/warm.py)

It is `grade submit --learner` without a terminal: it bounds its threads, cores and GPU memory
before Keras is imported (they are inherited by the trainer and the sandboxed child), grades,
and writes {"result": ..., "private": ...} to the outcome file. It records nothing: the driver does.
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


def grade_job(job, processes=None):
    """(result document, private figures) of one job; `processes`: a warm worker's pool."""
    from grader.keras_support import backend
    from grader.leaderboard.records import LeaderboardRun
    from grader.pipeline import grade
    from grader.pipeline.processes import COLD

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
        processes=processes or COLD,
    )
    private = {f.name: getattr(run, f.name) for f in dataclasses.fields(run)}
    return result.to_dict(), private


def write_outcome(path: Path, result: dict, private: dict, **more) -> None:
    from grader.core.result import _jsonable

    temporary = path.with_suffix(".tmp")
    document = {"result": result, "private": private, **more}
    temporary.write_text(json.dumps(document, allow_nan=False, default=_jsonable))
    os.replace(temporary, path)


def serve_warm(slot_json: str) -> int:
    """A warm worker: bound to its slot, grade each job that comes on stdin with processes started
    ahead, write its outcome, say "done" on stdout; exit when stdin closes."""
    from grader.batch.jobs import Job
    from grader.batch.warm import Slot, prime_settings
    from grader.keras_support import backend
    from grader.warm.pool import WarmProcesses

    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything else printed goes to the log, never into the replies
    slot = Slot.from_json(slot_json)
    bound_resources(slot)
    backend.configure_process(slot.device)  # as grade() does: what is started ahead gets the same environment
    backend.bound_gpu_memory()
    import grader.pipeline  # noqa: F401  (the grader's own imports, once)

    # Each process handed over is replaced at once; only the latest grading's settings are kept
    # ready; CPU trainers are forked by a zygote that imported Keras once; a trainer started
    # ahead does not rehearse (a batch's cores are busy grading).
    pool = WarmProcesses(depth=1, eager=True, follow_last=True, warm_up=False, zygotes=True)
    try:
        if (settings := prime_settings(slot)) is not None:
            pool.prime(**settings)
        for line in sys.stdin:
            request = json.loads(line)
            job = Job.from_dict(request["job"])
            if not slot.fits(job):
                print(f"job {job.index} is not placed in this worker's slot: refused", file=sys.stderr)
                return 2
            pool.eager = bool(request.get("more", True))  # the last job: nothing to start ahead for
            result, private = grade_job(job, processes=pool)
            processes = {"handed_over": pool.handed_over, "forked": pool.forked, "started_cold": pool.started_cold}
            write_outcome(Path(request["outcome"]), result, private, processes=processes)
            replies.write("done\n")
    finally:
        pool.close()
    return 0


def main(argv: list[str]) -> int:
    from grader.batch.jobs import Job

    if argv[:1] == ["--warm"]:
        return serve_warm(argv[1])
    job_file, outcome_file = map(Path, argv)
    job = Job.from_dict(json.loads(job_file.read_text()))
    bound_resources(job)
    result, private = grade_job(job)
    write_outcome(outcome_file, result, private)
    return 0


if __name__ == "__main__":
    sys.stdout.flush()
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # no atexit work or lingering threads (Keras, TensorFlow) can hold the worker up
