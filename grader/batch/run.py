"""`grade batch`: grade a whole course, step by step, composed in `grade_batch`.

    discover (grader/batch/inputs.py) -> plan jobs (spec, file hash, grading key, resources)
    -> prepare data once -> skip what is recorded -> run (grader/batch/engines.py)
    -> record each result as it arrives (the leaderboard database) -> gradebook CSV -> summary

Only this driver writes: the database (each grading with its key, in one transaction), the
signed records, the gradebook. Workers write their own run folders and return results. A batch
stopped at any point (Ctrl-C, SIGTERM, a killed driver) has recorded each grading fully or not
at all, and the same command continues it.
"""

from __future__ import annotations

import hashlib
import signal
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader import config
from grader.batch.engines import LocalEngine, RayEngine, make_engine
from grader.batch.gradebook import Row, row_from_record, row_from_result, write_gradebook
from grader.batch.inputs import BatchInputError, Submission, discover
from grader.batch.jobs import WATCHDOG_SLACK_S, Job, Outcome, grading_key
from grader.describe.sandbox import isolation as iso
from grader.leaderboard import LeaderboardError

if TYPE_CHECKING:
    from grader.spec import ChallengeSpec

DEFAULT_OUT = config.DEFAULT_RUNS_DIR / "batch"
GRADEBOOK_FILE = "gradebook.csv"
EXIT_INTERRUPTED = 130
RESUMED_NOTE = "recorded by an earlier run"


class BatchError(Exception):
    """The batch cannot start (its input, the database, the data): nothing was graded."""


@dataclass
class BatchEvents:
    """What a front end shows: the plan, then each submission as it is done."""

    on_plan: Callable[[int, int], None] = lambda total, before: None  # submissions, recorded before
    on_done: Callable[[Row], None] = lambda row: None


@dataclass
class BatchSummary:
    rows: list[Row] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    gradebook: Path | None = None
    gradebook_problem: str | None = None
    recorded_before: int = 0
    interrupted: bool = False
    layout: str = ""

    @property
    def counts(self) -> Counter:
        return Counter(row.verdict for row in self.rows)

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return EXIT_INTERRUPTED
        if self.gradebook_problem:
            return config.EXIT_NOT_GRADED
        unrecorded = any(row.verdict != "not_graded" and row.note.startswith("not recorded") for row in self.rows)
        return config.EXIT_NOT_GRADED if unrecorded or self.counts["not_graded"] else 0


# --------------------------------------------------------------------------- planning


@dataclass
class Plan:
    jobs: list[Job] = field(default_factory=list)  # to grade
    refused: list[tuple[Job, str]] = field(default_factory=list)  # cannot be graded, and why
    datasets: dict[str, str] = field(default_factory=dict)  # grading key -> the dataset it trains on


def job_resources(spec: Any, profile: str) -> dict[str, Any]:
    """What a grading of `spec` on `profile` asks of its machine (Job's fields): cores, GPUs (a
    fraction shares one), memory, and the watchdog past its budgets. SpecError for an unknown profile."""
    if spec.kind == "functions":
        return {}
    chosen = spec.profile(profile)
    return dict(
        cpus=chosen.cpus,
        gpus=chosen.gpus,
        memory_mb=chosen.memory_mb,
        watchdog_s=chosen.describe_budget_s + chosen.time_budget_s + WATCHDOG_SLACK_S,
    )


def plan(
    submissions: list[Submission],
    *,
    spec_path: Path | None,
    profile: str,
    seed: int,
    device: str,
    data_dir: Path | None,
    out_dir: Path,
    isolation: str | None,
) -> Plan:
    """The jobs to grade and those that cannot be graded, with the grader's own checks first.

    What `grade submit` would refuse before any training (an unknown challenge, a missing, linked
    or oversized file) is refused here, without starting a worker. Each spec is read and hashed once.
    """
    from grader.core.result import grader_version
    from grader.pipeline import resolve_spec
    from grader.spec import SpecError
    from grader.submission.files import NotGraded, read_submission

    planned = Plan()
    seen: dict[str, Path] = {}
    spec_hashes: dict[Path, str] = {}
    specs: dict[str, ChallengeSpec] = {}
    version = grader_version()
    for index, submission in enumerate(submissions):
        # Absolute paths: a worker runs in a folder of its own (grader/core/launch.py), not the driver's.
        path = Path(submission.path).absolute()
        job = Job(
            index=index,
            learner=submission.learner,
            path=str(path),
            challenge=submission.challenge,
            key="",
            run_dir="",
            profile=profile,
            seed=seed,
            device=device,
            spec_path=str(Path(spec_path).absolute()) if spec_path else None,
            data_dir=str(Path(data_dir).absolute()) if data_dir else None,
            isolation=isolation,
        )
        try:
            name = submission.challenge or path.stem
            if name not in specs:
                specs[name] = resolve_spec(path, submission.challenge, spec_path)
            spec = specs[name]
            if path.is_symlink():
                raise NotGraded(f"{path} is a symbolic link: submit the file itself")
            _, sha256 = read_submission(path)
            resources = job_resources(spec, profile)
        except (NotGraded, SpecError) as err:
            planned.refused.append((job, str(err)))
            continue
        assert spec.path is not None  # load_spec records the file it read
        if spec.path not in spec_hashes:
            spec_hashes[spec.path] = hashlib.sha256(Path(spec.path).read_bytes()).hexdigest()
        key = grading_key(
            learner=submission.learner,
            challenge=spec.name,
            submission_sha256=sha256,
            spec_sha256=spec_hashes[spec.path],
            profile=profile,
            seed=seed,
            kit_version=version,
        )
        if key in seen:
            planned.refused.append((job, f"the same file as {seen[key]}, already in this batch: graded once"))
            continue
        seen[key] = path
        run_dir = Path(out_dir).absolute() / submission.learner / f"{spec.name}-{key[:12]}"
        planned.jobs.append(replace(job, challenge=spec.name, key=key, run_dir=str(run_dir), **resources))
        if spec.kind != "functions":
            planned.datasets[key] = spec.dataset
    return planned


# --------------------------------------------------------------------------- recording


def record_outcome(outcome: Outcome, *, db_path: Path, key: bytes | None, signed_dir: Path | None) -> Row:
    """Store a graded outcome with its grading key; the gradebook row of any outcome."""
    from grader.leaderboard.commands import record
    from grader.leaderboard.records import LeaderboardRun

    job = outcome.job
    if outcome.result is None:
        why = outcome.problem or "no result"
        return Row(
            job.index,
            job.learner,
            job.challenge or "",
            None,
            None,
            "not_graded",
            None,
            None,
            job.run_dir,
            why,
            reason=why,
        )
    document = outcome.result
    if document["verdict"] == "not_graded":  # the grader's side: not recorded, graded again next time
        return row_from_result(job.index, job.learner, document)
    note = "graded again after its process died" if outcome.attempts > 1 else ""
    submission_id = ""
    assert outcome.private is not None  # the worker writes it with the result
    try:
        submission_id = record(
            document,
            LeaderboardRun(**outcome.private),
            db_path=db_path,
            key=key,
            signed_dir=signed_dir,
            batch_grading=(job.key, job.run_dir),
        ).submission_id
    except LeaderboardError as err:
        note = "recorded by another run of this batch" if "already recorded" in str(err) else f"not recorded: {err}"
    return row_from_result(job.index, job.learner, document, note, submission_id)


# --------------------------------------------------------------------------- the whole


def grade_batch(
    *,
    source: Path,
    challenge: str | None = None,
    spec_path: Path | None = None,
    profile: str = config.DEFAULT_PROFILE,
    device: str = config.DEFAULT_DEVICE,
    seed: int = config.DEFAULT_SEED,
    data_dir: Path | None = None,
    out_dir: Path | None = None,
    db_path: Path = config.DEFAULT_LEADERBOARD_DB,
    gradebook: Path | None = None,
    engine: str | LocalEngine | RayEngine = "local",
    jobs: int = 1,
    address: str | None = None,
    warm: bool = config.BATCH_WARM,
    isolation: str | None = None,
    key: bytes | None = None,
    signed_dir: Path | None = None,
    events: BatchEvents | None = None,
) -> BatchSummary:
    """Grade every submission under `source`; record each once; write the gradebook. See the module doc."""
    from grader.data import DataError, fetch
    from grader.leaderboard.db import open_db
    from grader.spec import challenge_names

    events = events or BatchEvents()
    out_dir = Path(out_dir or DEFAULT_OUT).absolute()
    gradebook = Path(gradebook or out_dir / GRADEBOOK_FILE)
    for what, path in (("--out", out_dir), ("--gradebook's folder", gradebook.parent)):
        if path.exists() and not path.is_dir():
            raise BatchError(f"{what} {path} exists and is not a folder: give a folder for the run folders")
    if gradebook.is_dir():
        raise BatchError(
            f"--gradebook {gradebook} is a folder: give the path of a CSV file, for example "
            f"{gradebook / GRADEBOOK_FILE}"
        )
    if engine == "local":
        # Every grading of a batch is recorded, so none runs unisolated: on this machine that is
        # known now, and said once, not once per learner. (Ray workers on other machines decide there.)
        try:
            iso.require_isolated(iso.choose(isolation), "grade batch (it records every grading)")
        except iso.IsolationError as err:
            raise BatchError(str(err)) from None
    runner = make_engine(engine, jobs=jobs, address=address, warm=warm) if isinstance(engine, str) else engine
    try:
        found = discover(Path(source), challenge=challenge, challenges=challenge_names())
    except BatchInputError as err:
        raise BatchError(str(err)) from None
    summary = BatchSummary(skipped=found.skipped, layout=found.layout)
    planned = plan(
        found.submissions,
        spec_path=spec_path,
        profile=profile,
        seed=seed,
        device=device,
        data_dir=data_dir,
        out_dir=out_dir,
        isolation=isolation,
    )
    try:  # a damaged or locked database is refused before anything trains
        with open_db(db_path, create=True) as db:
            recorded = db.batch_gradings([job.key for job in planned.jobs])
    except LeaderboardError as err:
        raise BatchError(str(err)) from None
    to_run = [job for job in planned.jobs if job.key not in recorded]
    if to_run:
        try:
            fetch(
                sorted({planned.datasets[job.key] for job in to_run if job.key in planned.datasets}),
                data_dir=data_dir,
                progress=False,
            )
        except DataError as err:
            raise BatchError(str(err)) from None

    summary.recorded_before = len(planned.jobs) - len(to_run)
    events.on_plan(len(found.submissions), summary.recorded_before)
    for job, why in planned.refused:
        _add(
            summary,
            events,
            Row(
                job.index,
                job.learner,
                job.challenge or Path(job.path).stem,
                None,
                None,
                "not_graded",
                None,
                None,
                "",
                why,
                reason=why,
            ),
        )
    for job in planned.jobs:
        if job.key in recorded:
            _add(summary, events, row_from_record(job.index, recorded[job.key], RESUMED_NOTE))

    outcomes = runner.run(to_run)
    previous = signal.signal(signal.SIGTERM, _interrupt) if _main_thread() else None
    try:
        for outcome in outcomes:
            if outcome.interrupted:
                continue
            _add(summary, events, record_outcome(outcome, db_path=db_path, key=key, signed_dir=signed_dir))
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        outcomes.close()  # an interrupted engine stops what it still runs
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        rowed = {row.index for row in summary.rows}
        for job in to_run:
            if job.index not in rowed:  # never started, or stopped half-way
                summary.rows.append(
                    Row(
                        job.index,
                        job.learner,
                        job.challenge or "",
                        None,
                        None,
                        "not_graded",
                        None,
                        None,
                        job.run_dir,
                        "interrupted: graded when the batch runs again",
                        reason="not graded yet: the batch was interrupted",
                    )
                )
        if isinstance(runner, RayEngine) and runner.address is None:
            runner.stop()  # a local cluster ends with its batch
        try:
            summary.gradebook = write_gradebook(gradebook, summary.rows)
        except OSError as err:  # what was graded is recorded all the same: the database has it
            summary.gradebook_problem = f"cannot write the gradebook {gradebook}: {err.strerror or err}"
    return summary


def _add(summary: BatchSummary, events: BatchEvents, row: Row) -> None:
    summary.rows.append(row)
    events.on_done(row)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # SIGTERM (a shutdown, a cluster scheduler) ends the batch like Ctrl-C


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
