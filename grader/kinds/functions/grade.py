"""Grading a challenge of kind "functions" (challenges/convolution.toml): no data, no training.

    read submission -> make the cases (seeded) -> call the learner's functions (child)
    -> Keras' answers (parent, meanwhile) -> compare -> checks -> result

`grade()` in grader/pipeline/__init__.py hands specs of this kind here and finishes the result
(durations, result.json) itself. `grade check` and `grade submit` grade alike: there is
nothing to train. The learner's functions run only in the child; the parent makes the
inputs, asks Keras for the answers and compares.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from grader.checks.functions import CaseFacts, Mismatch, check_cases
from grader.checks.result import CheckResult, failed, not_reached, passed
from grader.core.facts import Failure
from grader.core.result import GradeResult
from grader.core.text import clean, learner_output
from grader.describe.sandbox.calls import CallsRun, Returned, call_functions
from grader.keras_support import backend
from grader.kinds.functions.spec import FunctionsSpec, suite_module
from grader.submission.files import make_run_dir, read_submission, syntax_failure


def grade_functions(result: GradeResult, spec: FunctionsSpec, request: Any) -> None:
    """Fill `result` in (grader/pipeline/__init__.py's Request says what was asked); NotGraded for problems
    on the grader's side. Nothing is trained, so the report has no figures: returns None."""
    path, events, isolation = request.path, request.events, request.isolation
    result.challenge = spec.name
    result.seed = spec.seed  # the cases come from the spec's seed: every learner gets the same ones
    result.device = "cpu"
    source, result.submission_sha256 = read_submission(path)
    workdir = make_run_dir(request.out_dir, spec.name, result.submission_sha256)
    result.run_dir = str(workdir)

    suite = suite_module(spec.suite)
    cases = {check.name: suite.make_cases(check.name, check.cases, spec.seed) for check in spec.checks}
    failure = syntax_failure(source, path)
    run: CallsRun | None = None
    events.on_stage("functions")
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=1) as pool:
        if failure is None:
            calls = [case.call for one_check in cases.values() for case in one_check]
            child = pool.submit(
                call_functions,
                source,
                calls,
                time_budget_s=spec.time_budget_s,
                call_time_limit_s=spec.call_time_limit_s,
                isolation=isolation,
            )
        # Meanwhile, Keras' answers: the parent's own, from the inputs it made.
        keras = backend.import_keras()
        answers = {check: [suite.expected(case, keras) for case in one_check] for check, one_check in cases.items()}
        if failure is None:
            run = child.result()
            failure = run.failure
    result.durations["evaluate"] = round(time.perf_counter() - started, 3)

    events.on_stage("score")
    result.checks = [_runs_check(failure)]
    passed_checks: set[str] = set()
    for check in spec.checks:
        info = suite.CHECKS[check.name]
        if failure is not None and failure.stage in ("read", "import"):
            result.checks.append(not_reached(check.name, info.title, check.points, f"{failure.stage} failed"))
            continue
        facts = []
        shown_hint = False  # the value hint may ask Keras again: only for the case the message shows
        for case, want in zip(cases[check.name], answers[check.name], strict=False):
            waits_for = tuple(
                suite.CHECKS[need].title
                for need in case.needs
                if spec.check(need) is not None and need not in passed_checks
            )
            returned = run.returned.get(case.call.id) if run is not None else None
            fact = compare(
                case,
                returned,
                want,
                suite=suite,
                keras=keras,
                tolerance=spec.tolerance,
                failure=failure,
                explain=not shown_hint and not waits_for,
                waits_for=waits_for,
                file_name=path.name,
            )
            shown_hint = shown_hint or (not fact.passed and not waits_for)
            facts.append(fact)
        outcome = check_cases(check.name, info.title, check.points, info.reference, facts)
        if outcome.passed:
            passed_checks.add(check.name)
        result.checks.append(outcome)

    _fill_run_details(result, run, failure, workdir)


def compare(
    case: Any,
    returned: Returned | None,
    want: np.ndarray,
    *,
    suite: Any,
    keras: Any,
    tolerance: float,
    failure: Failure | None,
    explain: bool,
    waits_for: tuple[str, ...],
    file_name: str,
) -> CaseFacts:
    """One case's facts: what went wrong, if anything, and where. `explain`: work out the value
    hint (it may ask Keras for the answers to likely mistakes), for the case a message shows."""
    text = case.call.text
    base = dict(call=text, waits_for=waits_for, expected_shape=tuple(want.shape))
    if returned is None:
        why = failure.message if failure is not None else "the child did not get to it"
        return CaseFacts(**base, error=f"{text} was not run: {why}", hint=failure.hint if failure else "")
    if returned.value is None:
        hint = returned.hint or f"run `python {file_name}` to try your functions on the example at its end"
        return CaseFacts(**base, error=returned.error, hint=hint)
    got = returned.value
    if got.shape != want.shape:
        return CaseFacts(**base, got_shape=tuple(got.shape), hint=suite.shape_hint(case, tuple(got.shape)))
    close = np.isclose(got, want, rtol=tolerance, atol=tolerance)  # NaN is never close
    if close.all():
        return CaseFacts(**base, got_shape=tuple(got.shape))
    row, col = (int(i) for i in np.argwhere(~close)[0])
    mismatch = Mismatch(row, col, float(want[row, col]), float(got[row, col]), int((~close).sum()), int(close.size))
    hint = suite.value_hint(case, got, want, keras, tolerance) if explain else ""
    return CaseFacts(**base, got_shape=tuple(got.shape), mismatch=mismatch, hint=hint)


def _runs_check(failure: Failure | None) -> CheckResult:
    title = "Submission runs"
    if failure is None:
        return passed("submission", title, 0, "imported, and every function was called")
    return failed("submission", title, 0, failure.message, failure.hint)


def _fill_run_details(result: GradeResult, run: CallsRun | None, failure: Failure | None, workdir: Path) -> None:
    versions = dict(backend.library_versions())
    if run is not None:
        child = run.child
        result.isolation = child.isolation
        result.output = learner_output(child.output)
        (workdir / "output.log").write_text(result.output)
        result.durations["child"] = round(child.seconds, 3)
        stages = child.result.get("stages")
        if isinstance(stages, dict):
            result.durations.update(
                {clean(k, 40): float(v) for k, v in stages.items() if isinstance(v, (int, float)) and 0 <= v < 1e9}
            )
    result.versions = versions
    if failure is not None:
        result.failure = {
            "stage": failure.stage,
            "message": failure.message,
            "hint": failure.hint,
            "detail": failure.detail,
        }
