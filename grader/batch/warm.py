"""Warm workers: a batch worker process that stays, grading one job after another, each with a
sandboxed child and a trainer it started before the job came.

    WarmWorker(slot)      the driver's handle on one such process (a slot: its cores, threads, device)
      .run(job)           send the job, wait for its outcome (as run_job_in_process does for a cold one)
      .close()            end it and whatever it keeps ready

    python -m grader.batch.worker --warm SLOT_JSON      the process itself (grader/batch/worker.py)

A cold grading starts three processes (the worker, the sandboxed child, the trainer), and the two
last import Keras and TensorFlow: seconds of a small grading's ten. A warm worker imports the
grader once, and keeps the next grading's child and trainer started (grader/warm/pool.py, the
machinery of `grade check --warm`, with `eager`: each one handed over is replaced at once, so
their imports run while this grading trains and reports).

What is reused is only what the grader's own code imported: the worker runs no submission code,
and each child and trainer serves exactly one grading and is then killed with its folder, as in
a cold grading (the same commands, sandbox, limits and environment). The worker's threads and
cores are its slot's, set before anything is imported; every job it takes must be placed there.

A worker that dies mid-grading is the machine's fault (InfrastructureFault): the next job gets a
fresh worker, and run_job grades the lost one again. A grading past its watchdog has its worker
killed (the next job gets a fresh one) and is "not graded", as cold.
"""

from __future__ import annotations

import json
import select
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from grader.batch import jobs
from grader.batch.jobs import Job, Outcome
from grader.core import launch
from grader.describe.sandbox.limits import die_with_parent

WARM_FLAG = "--warm"


@dataclass(frozen=True)
class Slot:
    """Where a warm worker grades: the placement every job it takes must have."""

    device: str
    cores: tuple[int, ...] | None = None
    cpu_threads: int | None = None
    gpu_memory_fraction: float | None = None
    # What to start ahead before the first job (prime_settings): a challenge's spec and profile.
    prime_spec: str | None = None
    prime_profile: str | None = None
    isolation: str | None = None

    @classmethod
    def of(cls, job: Job) -> Slot:
        return cls(
            job.device,
            job.cores,
            job.cpu_threads,
            job.gpu_memory_fraction,
            job.spec_path or job.challenge,
            job.profile,
            job.isolation,
        )

    def fits(self, job: Job) -> bool:
        return (job.device, job.cores, job.cpu_threads, job.gpu_memory_fraction) == (
            self.device,
            self.cores,
            self.cpu_threads,
            self.gpu_memory_fraction,
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Slot:
        data = json.loads(text)
        if data.get("cores") is not None:
            data["cores"] = tuple(data["cores"])
        return cls(**data)


class WarmWorker:
    """One warm worker process, started on first use and again after it died."""

    def __init__(self, slot: Slot):
        self.slot = slot
        self.process: subprocess.Popen | None = None
        self.replies: IO[bytes] | None = None
        self.folder: Path | None = None  # its working folder and its jobs' outcome files
        self.log: IO[bytes] | None = None
        self.graded = 0  # by the current process (for tests: a warm worker grades more than one)
        self.started = 0  # processes started, the first included

    def start(self) -> None:
        """Start the process now (it imports and starts its first child and trainer meanwhile)."""
        if self.process is not None and self.process.poll() is None:
            return
        self._end()
        self.folder = launch.private_folder("grader-warm-worker-")
        (self.folder / "cwd").mkdir(mode=0o700)
        self.log = open(self.folder / "worker.log", "wb")
        self.process = subprocess.Popen(
            launch.python_command("grader.batch.worker", WARM_FLAG, self.slot.to_json()),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            cwd=self.folder / "cwd",
            env=launch.trusted_environment(),
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        self.replies = self.process.stdout
        self.graded = 0
        self.started += 1
        jobs.track(self.process)

    def run(self, job: Job, *, more: bool = True) -> Outcome:
        """Grade `job` in this worker; InfrastructureFault if the worker died without its outcome.
        `more`: another job will follow (False: the worker starts nothing ahead for one)."""
        if not self.slot.fits(job):
            raise ValueError(f"job {job.index} is placed elsewhere than this warm worker's slot")
        self.start()
        assert self.process is not None and self.process.stdin is not None and self.folder is not None
        outcome_file = self.folder / f"outcome-{self.started}-{self.graded}.json"
        request = json.dumps({"job": job.to_dict(), "outcome": str(outcome_file), "more": more}) + "\n"
        try:
            self.process.stdin.write(request.encode())
            self.process.stdin.flush()
        except OSError:
            pass  # it died before the job: no reply comes, which says so below
        reply = self._reply(job.watchdog_s)
        if reply == "timeout":
            self._end()
            return jobs.watchdog_outcome(job)
        if reply == "done" and (outcome := jobs.written_outcome(job, outcome_file)) is not None:
            outcome_file.unlink()
            self.graded += 1
            return outcome
        try:  # it closed its end: its exit status follows at once (or it only stopped answering)
            returncode: int | None = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            returncode = None
        fault = jobs.died_without_result("the warm grading process", returncode, self.folder / "worker.log")
        self._end()
        raise fault

    def _reply(self, timeout_s: float) -> str:
        """The worker's next line: "done", "" when it closed (it died), or "timeout"."""
        assert self.replies is not None
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return "timeout"
            readable, _, _ = select.select([self.replies], [], [], min(left, 1.0))
            if readable:
                return self.replies.readline().decode(errors="replace").strip()

    def _end(self) -> None:
        """Kill the process and its session (what it kept ready dies with it), remove its folder."""
        if self.process is not None:
            jobs.stop_session(self.process)
            jobs.untrack(self.process)
            for stream in (self.process.stdin, self.process.stdout):
                if stream is not None:
                    stream.close()
            self.process = self.replies = None
        if self.log is not None:
            self.log.close()
            self.log = None
        launch.remove_private_folder(self.folder)
        self.folder = None

    def close(self) -> None:
        """End the worker: its stdin closes, it discards what it kept ready and exits; killed if slow."""
        if self.process is not None and self.process.poll() is None and self.process.stdin is not None:
            try:
                self.process.stdin.close()
                self.process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self._end()

    def __enter__(self) -> WarmWorker:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def prime_settings(slot: Slot) -> dict[str, Any] | None:
    """What a grading of the slot's challenge will most likely ask the pool for (WarmProcesses.prime):
    the isolation chosen here, the profile's sandbox limits, the backend a child describes the
    challenge's skeleton with (learners start from it), the trainer on the slot's device.
    None: nothing to guess from."""
    if not slot.prime_spec or not slot.prime_profile:
        return None
    from grader import config
    from grader.describe.sandbox.isolation import IsolationError, choose
    from grader.keras_support import backend
    from grader.spec import SpecError, load_spec

    try:
        spec = load_spec(Path(slot.prime_spec))
        if spec.kind != "model":
            return None
        limits = spec.profile(slot.prime_profile).sandbox
        isolation = choose(slot.isolation)
        skeleton = config.CHALLENGES_DIR / f"{spec.name}.py"
        keras_backend = backend.describe_backend(skeleton.read_text() if skeleton.is_file() else "")
    except (SpecError, IsolationError, ValueError, OSError):
        return None  # the first grading says what is wrong; it starts its processes itself
    return {"isolation": isolation, "limits": limits, "keras_backend": keras_backend, "device": slot.device}
