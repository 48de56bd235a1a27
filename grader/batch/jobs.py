"""One grading of a batch: what it is (a Job), what came back (an Outcome), and how it runs.

A job runs in a fresh process of its own (`python -m grader.batch.worker`), on this machine or
inside a Ray task: a grading that crashes, leaks memory or is killed takes nothing else with
it, and its threads and cores are set before Keras is imported. The worker returns the result
as JSON; only the batch's driver writes the database (grader/batch/record.py).

The grading key says when two gradings would be the same: the learner, the submission's bytes,
the spec's bytes, the profile, the seed and the kit's version. A batch run again skips every
job whose key is already recorded, so a stopped batch continues where it stopped.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import signal
import subprocess
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.core import launch
from grader.describe.sandbox.limits import die_with_parent

# Beyond the profile's own budgets (describe, train), what a grading may take before its
# process is stopped: loading data, evaluating, writing the report, importing Keras three times.
WATCHDOG_SLACK_S = 600.0
OUTPUT_TAIL_BYTES = 4000

_running: set[subprocess.Popen] = set()  # the worker processes of this driver, for stop_all()
_running_lock = threading.Lock()
_stopping = threading.Event()


class InfrastructureFault(Exception):
    """The grading process died without a result: the machine's fault, not the submission's.

    Raised inside a Ray task so that Ray runs the grading once more (retry_exceptions).
    """


@dataclass(frozen=True)
class Job:
    index: int  # its place in the batch, for a stable order in the gradebook
    learner: str
    path: str
    challenge: str | None
    key: str  # grading_key(); "" when the file could not be read (it is graded as not graded)
    run_dir: str
    profile: str
    seed: int
    device: str
    spec_path: str | None = None
    data_dir: str | None = None
    isolation: str | None = None
    # What the grading needs (its profile's cpus, gpus and memory_mb) and what it is given.
    cpus: int = 1
    gpus: float = 0.0
    memory_mb: int = 4096
    cpu_threads: int | None = None
    cores: tuple[int, ...] | None = None  # CPU affinity (local engine: each slot its own cores)
    gpu_memory_fraction: float | None = None
    watchdog_s: float = 3600.0
    # Where the worker appends its progress (one JSON line per stage, epoch and batch), for a
    # front end that shows a running grading (the live service); None: nowhere.
    progress_path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Job:
        data = dict(data)
        if data.get("cores") is not None:
            data["cores"] = tuple(data["cores"])
        return cls(**data)


@dataclass
class Outcome:
    """What a grading returned: the result document and the host-only private half, or a fault."""

    job: Job
    result: dict[str, Any] | None = None  # GradeResult.to_dict()
    private: dict[str, Any] | None = None  # LeaderboardRun's private figures
    problem: str | None = None  # why no result came back (the process died twice; the file cannot be graded)
    attempts: int = 1
    interrupted: bool = False  # the batch was stopped while this one ran: graded again next time
    # A warm worker's count of the processes its gradings used so far (grader/batch/warm.py):
    # started ahead and handed over, forked by the trainer zygote, or started on the spot.
    processes: dict[str, Any] | None = None


def file_sha256(path: Path) -> str | None:
    try:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()
    except OSError:
        return None


def grading_key(
    *, learner: str, challenge: str, submission_sha256: str, spec_sha256: str, profile: str, seed: int, kit_version: str
) -> str:
    """The identity of a grading: the same key means the same inputs, so the same verdict."""
    parts = {
        "learner": learner,
        "challenge": challenge,
        "submission": submission_sha256,
        "spec": spec_sha256,
        "profile": profile,
        "seed": seed,
        "kit": kit_version,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


# --------------------------------------------------------------------------- running one job


def run_job_in_process(job: Job) -> Outcome:
    """Grade `job` in a fresh worker process and wait for it (here, or inside a Ray task).

    Raises InfrastructureFault when the worker dies without a result; a watchdog that stops a
    grading gone far past its budgets gives a "not graded" outcome instead (no retry: a hang
    is as likely the submission's doing as the machine's).
    """
    with tempfile.TemporaryDirectory(prefix="grader-batch-job-") as spool:
        job_file, outcome_file, log_file = (Path(spool) / name for name in ("job.json", "outcome.json", "worker.log"))
        job_file.write_text(json.dumps(job.to_dict()))
        with open(log_file, "wb") as log:
            # A trusted process (grader/core/launch.py): its own working folder, nothing of the host's
            # folder on its import path, and never the signing key, which only the driver reads.
            workdir = Path(spool) / "cwd"
            workdir.mkdir(mode=0o700)
            process = subprocess.Popen(
                launch.python_command("grader.batch.worker", str(job_file), str(outcome_file)),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=workdir,
                env=launch.trusted_environment(),
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
            track(process)
            try:
                returncode = process.wait(timeout=job.watchdog_s)
                timed_out = False
            except subprocess.TimeoutExpired:
                timed_out = True
                returncode = None
            finally:
                stop_session(process)
                untrack(process)
        outcome = written_outcome(job, outcome_file)
        if outcome is not None:
            return outcome
        if timed_out:
            return watchdog_outcome(job)
        raise died_without_result("the grading process", returncode, log_file)


# What a worker process, cold or warm (grader/batch/warm.py), leaves for the driver.


def written_outcome(job: Job, outcome_file: Path) -> Outcome | None:
    """The outcome the worker wrote to `outcome_file`; None when it wrote none."""
    if not outcome_file.is_file():
        return None
    document = json.loads(outcome_file.read_text())
    return Outcome(job, result=document["result"], private=document["private"], processes=document.get("processes"))


def watchdog_outcome(job: Job) -> Outcome:
    return Outcome(
        job, problem=f"the grading was stopped after {job.watchdog_s:.0f} s, far beyond the profile's budgets"
    )


def died_without_result(what: str, returncode: int | None, log_file: Path) -> InfrastructureFault:
    """The fault of a worker that ended (returncode) or stopped answering (None) without a result,
    with the end of its log."""
    if returncode is None:
        how = "stopped answering"
    else:
        how = f"was killed by signal {-returncode}" if returncode < 0 else f"exited with code {returncode}"
    try:
        tail = log_file.read_bytes()[-OUTPUT_TAIL_BYTES:].decode(errors="replace").strip()
    except OSError:
        tail = ""
    return InfrastructureFault(f"{what} {how} without a result" + (f": {tail[-600:]}" if tail else ""))


def _kill_session(process: subprocess.Popen) -> None:
    """Kill the worker and its whole session (its trainer and sandboxed child die with it)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def stop_session(process: subprocess.Popen) -> None:
    """Kill a worker that still runs, with its session, and reap it."""
    if process.poll() is None:
        _kill_session(process)
    process.wait()


def track(process: subprocess.Popen) -> None:
    """A worker process of this driver (cold or warm), for stop_all()."""
    with _running_lock:
        _running.add(process)


def untrack(process: subprocess.Popen) -> None:
    with _running_lock:
        _running.discard(process)


def allow_new_work() -> None:
    """A new batch in this process: forget an earlier stop_all()."""
    _stopping.clear()


def stop_all() -> None:
    """Kill every worker this process started, and start no more (the driver was interrupted)."""
    _stopping.set()
    with _running_lock:
        running = list(_running)
    for process in running:
        _kill_session(process)


def run_job(job: Job, grade: Callable[[Job], Outcome] = run_job_in_process) -> Outcome:
    """The driver's side on one machine: run the job (in a fresh worker process, or with `grade`:
    a warm worker's run), and once more if its process died."""
    stopped = Outcome(job, problem="the batch was interrupted before this grading finished", interrupted=True)
    if _stopping.is_set():
        return stopped
    try:
        return grade(job)
    except OSError as err:  # no temporary folder, no process: this machine cannot run gradings now
        return Outcome(job, problem=f"the grading could not be started here: {err}")
    except InfrastructureFault as first:
        if _stopping.is_set():
            return stopped
        try:
            outcome = grade(job)
        except (InfrastructureFault, OSError) as second:
            return Outcome(job, problem=f"{second} (also the first time: {first})"[:2000], attempts=2)
        outcome.attempts = 2
        return outcome
