"""Grading, step by step, composed in one place.

    load spec -> read submission -> load data -> describe (sandboxed child) -> train and predict
    (trusted trainer) -> measure -> score -> result -> report

The learner's code runs only in the describe step, in a sandbox (grader/describe/sandbox/isolation.py)
that never sees the test split, the run folder, the grader's secrets or its files. The model
that earns points is rebuilt from its validated config and trained by the trusted trainer
(grader/train/), which runs no learner code; it also computes the saved model's outputs on
the evaluation images, and the parent measures them against labels only it holds. The parent
of a `grade submit` never imports Keras.

Each step is a small function. This module composes them: `grade()` does what every kind of
challenge shares (the request, the spec, the result, the report) and hands over to the kind's
chain in KINDS: the model kind's steps are in grader/pipeline/model.py, the functions kind's in
grader/kinds/functions/. `grade()` is what `grade check` and `grade submit` call; it
always returns a GradeResult: a submission that crashes, hangs or lies is graded (and fails),
and only problems on the grader's side (unknown challenge, missing file or data) give a
result with `error` set, the "not graded" verdict.
"""

from __future__ import annotations

import datetime as dt
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader import config
from grader.core.events import Events
from grader.core.result import GradeResult
from grader.describe.sandbox import isolation as iso
from grader.keras_support import backend
from grader.kinds.functions.grade import grade_functions
from grader.leaderboard.records import LeaderboardRun
from grader.pipeline.model import Run, grade_model
from grader.pipeline.processes import COLD, Processes
from grader.report import REPORT_FILE
from grader.spec import ChallengeSpec, SpecError, challenge_names, load_spec
from grader.submission.files import NotGraded, path_problem

# --------------------------------------------------------------------------- steps every kind shares


def resolve_spec(submission: Path, challenge: str | None, spec_path: Path | None) -> ChallengeSpec:
    """The spec given, or the one named, or the one the file name implies (fashion.py -> fashion)."""
    try:
        if spec_path is not None:
            return load_spec(spec_path)
        name = challenge or submission.stem
        if name not in challenge_names():
            known = ", ".join(challenge_names())
            raise NotGraded(
                f"cannot tell which challenge {submission.name!r} is for: no challenge named {name!r}. "
                f"Name the file after its challenge or pass --challenge NAME (one of: {known})"
            )
        return load_spec(name)
    except SpecError as err:
        raise NotGraded(str(err)) from None


def write_report(result: GradeResult, run: Run | None = None) -> None:
    """report.html beside result.json: the same facts with figures. It never changes or stops a grading.

    Without a `run` (a challenge that trains nothing) the page holds the checks only."""
    started = time.perf_counter()
    try:
        from grader.report.html import EvaluatedModel
        from grader.report.html import write_report as write_html_report

        evaluated = None
        options: dict[str, Any] = {}  # write_report's keyword arguments
        if run is not None:
            options = {"task": run.spec.task, "max_gap": run.profile.max_gap}
            if run.evaluated is not None and run.evaluation is not None:
                evaluated = EvaluatedModel(run.evaluation, run.evaluated.journey, run.evaluated.journey_error)
        assert result.run_dir is not None  # grade() writes a report only into a run folder
        write_html_report(Path(result.run_dir) / REPORT_FILE, result, evaluated=evaluated, **options)
    except Exception as err:  # each figure already fails alone; this is the page itself (a full disk, say)
        warnings.warn(f"could not write the HTML report: {type(err).__name__}: {err}", stacklevel=2)
    result.durations["report"] = round(time.perf_counter() - started, 3)


# --------------------------------------------------------------------------- the whole


@dataclass(frozen=True)
class Request:
    """What one grading was asked to do: the options of `grade check` / `grade submit`, resolved."""

    path: Path  # the submission, resolved
    out_dir: Path | None
    profile: str
    device: str
    seed: int
    data_dir: Path | None
    train: bool  # False: `grade check`
    events: Events
    isolation: iso.Isolation
    leaderboard: LeaderboardRun | None = None
    processes: Processes = COLD


def grade(
    *,
    path: Path,
    challenge: str | None = None,
    spec_path: Path | None = None,
    profile: str = config.DEFAULT_PROFILE,
    device: str = config.DEFAULT_DEVICE,
    out_dir: Path | None = None,
    seed: int = config.DEFAULT_SEED,
    data_dir: Path | None = None,
    train: bool = True,
    events: Events | None = None,
    leaderboard: LeaderboardRun | None = None,
    isolation: str | None = None,
    require_isolation: str | None = None,
    processes: Processes = COLD,
) -> GradeResult:
    """Grade one submission. `train=False` is `grade check`: the architecture only, in seconds.

    `leaderboard` (grade submit --learner): test figures are of the public half of the test set
    only, and the private half's accuracy and points are left in `leaderboard` for the host.
    `isolation`: auto (None), namespaces, uid or none (grader/describe/sandbox/isolation.py);
    `require_isolation` names a mode that refuses to run unisolated ("--sign", "Gradescope").
    `processes`: where the sandboxed child and the trainer come from (the warm helper's, or
    started on the spot).

    What is common to every kind of challenge happens here; the spec's kind then grades
    (KINDS, below: `grade_model`, and `grade_functions` in grader/kinds/functions/grade.py).
    """
    events = events or Events()
    started = time.perf_counter()
    given = Path(path)  # a link is refused below: resolving first would hide it
    path = Path(path).resolve()
    result = GradeResult(
        challenge=challenge or path.stem,
        profile=profile,
        mode="submit" if train else "check",
        submission_path=str(path),
        submission_sha256="",
        seed=seed,
        backend=backend.backend_name(),
        started_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    )
    if leaderboard is not None:
        result.leaderboard = {"learner": leaderboard.learner, "test_half": "public"}
    try:
        if (problem := path_problem(given)) is not None:
            raise NotGraded(problem)
        if data_dir is not None and not Path(data_dir).is_dir():
            raise NotGraded(
                f"the data folder {data_dir} (--data-dir or $GRADER_DATA_DIR) does not exist: give the "
                f"folder with the raw datasets, or leave it out to use the cache"
            )
        if device not in backend.DEVICES:
            raise NotGraded(f"unknown device {device!r}: use one of {', '.join(backend.DEVICES)}")
        if (problem := backend.missing_backend()) is not None:
            raise NotGraded(problem)
        backend.configure_process(device)
        chosen_isolation = choose_isolation(
            isolation, require_isolation or ("the leaderboard" if leaderboard else None)
        )
        result.isolation = chosen_isolation.level
        events.on_stage("spec")
        spec = resolve_spec(path, challenge, spec_path)
        request = Request(
            path=path,
            out_dir=out_dir,
            profile=profile,
            device=device,
            seed=seed,
            data_dir=data_dir,
            train=train,
            events=events,
            isolation=chosen_isolation,
            leaderboard=leaderboard,
            processes=processes,
        )
        run = KINDS[spec.kind](result, spec, request)
        if train and result.run_dir:
            write_report(result, run)
    except NotGraded as err:
        result.error = str(err)
    return finish(result, started)


# Each kind of challenge (a spec's [challenge] kind) and the function that grades it: it fills the
# result in, raises NotGraded for the grader's own problems, and returns the Run that the report
# draws its figures from (None: the report shows the checks only).
KINDS: dict[str, Callable[[GradeResult, Any, Request], Run | None]] = {
    "model": grade_model,
    "functions": grade_functions,  # NumPy functions checked against Keras layers: no data, nothing to train
}


def finish(result: GradeResult, started: float) -> GradeResult:
    """The last step of every grading, whatever the challenge's kind: total time, result.json."""
    result.durations["total"] = round(time.perf_counter() - started, 3)
    if result.run_dir:
        result.write_json(Path(result.run_dir) / "result.json")
    return result


def choose_isolation(requested: str | None, required_by: str | None) -> iso.Isolation:
    try:
        chosen = iso.choose(requested)
        if required_by:
            iso.require_isolated(chosen, required_by)
    except iso.IsolationError as err:
        raise NotGraded(str(err)) from None
    return chosen
