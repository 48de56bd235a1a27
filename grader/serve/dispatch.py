"""The dispatcher: threads that take jobs from the queue, grade them on the kit's engines, and
record what came back.

    claim (a lease) ─> write the file by id ─> engine.run([job]) ─> complete (fenced by the lease)
         └─ a heartbeat renews the lease and reads the worker's progress while it grades

- Each grading is the batch worker's (grader/batch/worker.py): `grade submit --learner`,
  sandboxed, with the isolation leaderboard mode requires. On this machine each worker thread
  has a warm worker (grader/batch/warm.py), started with the service, that keeps the next
  grading's sandbox and trainer ready (--cold: a fresh worker process per grading); on Ray, a task.
- A worker process that dies is run once more by the engine; dying twice gives "could not grade
  (infrastructure)", which costs the learner nothing. A server that dies leaves its leases to
  run out: the next start gives its jobs back to the queue at once (they were this machine's).
- A result is recorded only while the lease is held, once per grading key (grader/serve/queue.py).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader import config
from grader.serve import live
from grader.serve.queue import Claim, Outcome
from grader.serve.store import Store

log = logging.getLogger("grader.serve")

NOT_GRADED_REASON = (
    "could not grade: the service could not grade this file on its side (the host can see why); "
    "it does not count against your daily limit"
)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class Progress:
    """The latest progress a running grading reported: its stage, epoch and batch."""

    stage: str = "starting"
    epoch: int | None = None
    epochs: int | None = None
    batch: int | None = None
    steps: int | None = None

    def text(self) -> str:
        if self.epoch and self.epochs:
            where = f"epoch {self.epoch}/{self.epochs}"
            if self.batch and self.steps:
                where += f", batch {self.batch}/{self.steps}"
            return f"running: training, {where}"
        return f"running: {self.stage}"


def read_progress(path: Path, progress: Progress) -> bool:
    """Fold the worker's progress file into `progress`; True when it moved."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()[-50:]
    except OSError:
        return False
    before = (progress.stage, progress.epoch, progress.batch)
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a line being written
        if not isinstance(event, dict):
            continue
        kind = event.get("kind")
        if kind == "stage" and isinstance(event.get("stage"), str):
            progress.stage = event["stage"][:40]
        elif kind in ("epoch", "batch"):
            progress.stage = "train"
            progress.epoch = _int(event.get("epoch"))
            progress.epochs = _int(event.get("epochs"))
            progress.batch = _int(event.get("batch")) if kind == "batch" else None
            progress.steps = _int(event.get("steps")) if kind == "batch" else None
    return (progress.stage, progress.epoch, progress.batch) != before


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**7 else None


@dataclass
class GradingSettings:
    """How the service grades: where, on what, with which engine."""

    state_dir: Path
    data_dir: Path | None = None
    engine: str = "local"  # local | ray
    address: str | None = None  # a Ray cluster's address (engine ray)
    workers: int = 1  # gradings at once
    lease_s: float = 60.0
    isolation: str | None = None  # None: the best there is; leaderboard mode refuses none
    device: str = config.DEFAULT_DEVICE
    seed: int = config.DEFAULT_SEED
    poll_s: float = 1.0  # how often an idle worker looks at the queue when nobody wakes it
    warm: bool = config.BATCH_WARM  # the local engine: warm workers (grader/batch/warm.py)


@dataclass
class Dispatcher:
    store: Store
    settings: GradingSettings
    changes: live.Changes
    clock: Callable[[], dt.datetime] = utc_now
    running: dict[int, Progress] = field(default_factory=dict)  # submission id -> its progress

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._engine: Any = None
        # The local engine: each worker thread's own share of this machine's cores (Ray places its tasks).
        self._cores: list[tuple[int, ...]] = []
        self._warm: dict[str, Any] = {}  # worker thread name -> its warm worker (local engine, warm)
        if self.settings.engine == "local":
            from grader.batch.engines import available_cores, core_slots

            self._cores = core_slots(self.settings.workers, available_cores())
        self.worker_prefix = f"serve:{socket.gethostname()}:"
        self.worker_name = f"{self.worker_prefix}{os.getpid()}"

    # ------------------------------------------------------------------ life

    def start(self) -> None:
        self.recover()
        from grader.batch.engines import make_engine
        from grader.batch.jobs import allow_new_work

        self._engine = make_engine(self.settings.engine, jobs=1, address=self.settings.address)
        if hasattr(self._engine, "start"):
            self._engine.start()  # Ray: connect (or start a local cluster) once, before the workers share it
        else:
            allow_new_work()
        for number in range(self.settings.workers):
            thread = threading.Thread(target=self._work, args=(f"{self.worker_name}-{number}",), daemon=True)
            thread.start()
            self._threads.append(thread)
        reaper = threading.Thread(target=self._reap, daemon=True)
        reaper.start()
        self._threads.append(reaper)

    def stop(self) -> None:
        """Stop taking jobs and kill the gradings under way: their leases run out, and the next start
        gives them back to the queue."""
        from grader.batch.jobs import stop_all

        self._stop.set()
        self._wake.set()
        stop_all()
        for thread in self._threads:
            thread.join(timeout=30)
        if self._engine is not None and hasattr(self._engine, "stop") and self.settings.engine == "ray":
            self._engine.stop()

    def wake(self) -> None:
        """A job was queued: an idle worker looks now rather than at its next poll."""
        self._wake.set()

    def recover(self) -> None:
        """Jobs a previous run of the service on this machine held died with it: queue them again now."""
        from grader.serve.queue import release_workers

        for expired in release_workers(self.store, self.worker_prefix, keep=f"{self.worker_name}-", now=self.clock()):
            log.warning("submission %s: its grading died with the service; %s", expired.submission_id, expired.action)
            self.changes.publish(live.learner_topic(expired.learner))

    # ------------------------------------------------------------------ the loops

    def _reap(self) -> None:
        while not self._stop.wait(max(self.settings.lease_s / 4, 0.5)):
            for expired in self.store.expire_leases(self.clock()):
                log.warning("submission %s: lease expired, %s", expired.submission_id, expired.action)
                self.changes.publish(live.learner_topic(expired.learner))
                self._wake.set()

    def _work(self, worker: str) -> None:
        if self._cores and self.settings.warm:
            # Started by this thread, which lives as long as the service: the warm worker dies with it.
            try:
                self._warm[worker] = self.warm_worker(worker)
                self._warm[worker].start()
            except Exception:  # this thread grades cold instead
                log.exception("%s: the warm worker could not start; grading with fresh processes", worker)
                self._warm.pop(worker, None)
        try:
            while not self._stop.is_set():
                claim = self.store.claim(worker, self.clock(), self.settings.lease_s)
                if claim is None:
                    self._wake.wait(self.settings.poll_s)
                    self._wake.clear()
                    continue
                try:
                    self.grade(claim, worker)
                except Exception:  # the service's own fault: the lease runs out and the job is tried again
                    log.exception("submission %s: the dispatcher failed", claim.submission_id)
        finally:
            if worker in self._warm:
                self._warm.pop(worker).close()

    def warm_worker(self, worker: str) -> Any:
        """The warm worker of a worker thread: placed as its jobs will be, primed for the host's first challenge."""
        from grader.batch.jobs import Job
        from grader.batch.warm import Slot, WarmWorker

        first = self.store.host.challenges[0]
        spec = self.store.host.spec_path(first.name)
        like_its_jobs = Job(
            index=-1,
            learner="",
            path="",
            challenge=first.name,
            key="",
            run_dir="",
            profile=first.profile,
            seed=self.settings.seed,
            device=self.settings.device,
            spec_path=str(spec) if spec else None,
            isolation=self.settings.isolation,
        )
        return WarmWorker(Slot.of(self.place(like_its_jobs, worker)))

    # ------------------------------------------------------------------ one grading

    def grade(self, claim: Claim, worker: str) -> None:
        self.running[claim.submission_id] = Progress()
        self._changed(claim)
        folder = self.settings.state_dir / "runs" / str(claim.submission_id) / f"job-{claim.job_id}"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            job = self.batch_job(claim, folder)
        except Exception as err:  # the host's setup (a spec gone, a full disk): not the learner's doing
            log.error("submission %s cannot be graded here: %s", claim.submission_id, err)
            self.store.fail(claim.lease_id, NOT_GRADED_REASON, self.clock(), infrastructure=True)
            self.running.pop(claim.submission_id, None)
            self._changed(claim)
            return
        stop_heartbeat = threading.Event()
        heartbeat = threading.Thread(
            target=self._heartbeat, args=(claim, Path(folder / "progress.jsonl"), stop_heartbeat), daemon=True
        )
        heartbeat.start()
        try:
            outcome = self.run_job(job, worker)
        finally:
            stop_heartbeat.set()
            heartbeat.join()
            self.running.pop(claim.submission_id, None)
        if self._stop.is_set() and outcome.interrupted:
            return  # stopped with the service: the lease runs out, the next start queues it again
        self.record(claim, job, outcome, folder)
        self._changed(claim, board=True)

    def run_job(self, job: Any, worker: str) -> Any:
        """One grading on the engine: on this machine in the worker's own share of the cores (its
        threads bounded to match), on Ray as a task with its profile's resources."""
        if not self._cores:
            return next(iter(self._engine.run([job])))
        from grader.batch.jobs import run_job

        placed = self.place(job, worker)
        warm = self._warm.get(worker)
        if warm is not None and warm.slot.fits(placed):
            return run_job(placed, warm.run)
        return run_job(placed)

    def place(self, job: Any, worker: str) -> Any:
        """The job pinned to the cores of the worker thread named `worker` (...-N), with its share of a GPU."""
        from grader.batch.engines import placed

        cores = self._cores[int(worker.rsplit("-", 1)[1]) % len(self._cores)]
        return placed(job, cores, len(self._cores))

    def batch_job(self, claim: Claim, folder: Path) -> Any:
        """The batch engines' Job for a claim: the file written by id, the key, the profile's resources."""
        from grader.batch.jobs import Job, file_sha256, grading_key
        from grader.batch.run import job_resources
        from grader.core.result import grader_version
        from grader.leaderboard.records import check_learner_id
        from grader.pipeline import resolve_spec

        suffix = ".ipynb" if claim.filename.lower().endswith(".ipynb") else ".py"
        path = folder / f"{claim.challenge}{suffix}"
        path.write_bytes(self.store.submission_content(claim.submission_id))
        spec = resolve_spec(path, claim.challenge, self.store.host.spec_path(claim.challenge))
        assert spec.path is not None  # load_spec records the file it read
        spec_sha256 = file_sha256(Path(spec.path))
        assert spec_sha256 is not None  # resolve_spec has just read it
        key = grading_key(
            learner=check_learner_id(claim.learner),
            challenge=claim.challenge,
            submission_sha256=claim.sha256,
            spec_sha256=spec_sha256,
            profile=claim.profile,
            seed=self.settings.seed,
            kit_version=grader_version(),
        )
        return Job(
            index=claim.submission_id,
            learner=claim.learner,
            path=str(path),
            challenge=claim.challenge,
            key=key,
            run_dir=str(folder / "run"),
            profile=claim.profile,
            seed=self.settings.seed,
            device=self.settings.device,
            spec_path=str(spec.path),
            data_dir=str(self.settings.data_dir) if self.settings.data_dir else None,
            isolation=self.settings.isolation,
            progress_path=str(folder / "progress.jsonl"),
            **job_resources(spec, claim.profile),
        )

    def _heartbeat(self, claim: Claim, progress_file: Path, stop: threading.Event) -> None:
        beat = max(min(self.settings.lease_s / 3, 5.0), 0.2)
        renew_every = max(self.settings.lease_s / 3, 0.2)
        since_renewal = 0.0
        while not stop.wait(beat):
            since_renewal += beat
            if since_renewal >= renew_every:
                since_renewal = 0.0
                if not self.store.renew(claim.lease_id, self.clock(), self.settings.lease_s):
                    log.warning(
                        "submission %s: the lease was lost; its result will not be recorded", claim.submission_id
                    )
            progress = self.running.get(claim.submission_id)
            if progress is not None and read_progress(progress_file, progress):
                self._changed(claim)

    def record(self, claim: Claim, job: Any, outcome: Any, folder: Path) -> None:
        """What the engine returned, into the store: a result, or why there is none."""
        from grader.leaderboard.records import LeaderboardRun, build_record

        now = self.clock()
        document = outcome.result
        if document is None or document.get("verdict") == "not_graded" or outcome.private is None:
            why = outcome.problem or (document or {}).get("error") or "no result"
            log.warning("submission %s could not be graded: %s", claim.submission_id, why)
            self.store.fail(claim.lease_id, NOT_GRADED_REASON, now, infrastructure=True)
            return
        record = build_record(document, LeaderboardRun(**outcome.private))
        recorded = self.store.complete(
            claim.lease_id,
            Outcome(
                grading_key=job.key,
                verdict=record["verdict"],
                max_score=float(record["max_score"]),
                public_score=record["public_score"],
                private_score=record["private_score"],
                public_accuracy=record["public_accuracy"],
                private_accuracy=record["private_accuracy"],
                result=public_result(document, claim.filename),
            ),
            now,
        )
        if recorded:
            keep_report(folder / "run", self.settings.state_dir, claim.submission_id)

    def _changed(self, claim: Claim, board: bool = False) -> None:
        self.changes.publish(live.learner_topic(claim.learner))
        if board:
            self.changes.publish(live.BOARD)


def public_result(document: dict[str, Any], filename: str) -> dict[str, Any]:
    """The result as its learner may read it: no host path, no private half."""
    shown = {key: value for key, value in document.items() if key not in ("run_dir", "submission_path", "output")}
    shown["submission_path"] = filename
    return shown


REPORTS = "reports"


def keep_report(run_dir: Path, state_dir: Path, submission_id: int) -> None:
    """The HTML report, kept by submission id, with the service's own folders taken out of it."""
    report = run_dir / "report.html"
    if not report.is_file():
        return
    text = report.read_text(encoding="utf-8", errors="replace")
    for folder in {str(run_dir.resolve()), str(state_dir.resolve()), str(state_dir)}:
        text = text.replace(folder, "…")
    target = state_dir / REPORTS / f"{submission_id}.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, target)


def report_path(state_dir: Path, submission_id: int) -> Path:
    return state_dir / REPORTS / f"{int(submission_id)}.html"
