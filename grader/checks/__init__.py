"""All checks, run in one visible order. Each is a pure function of (spec, facts)."""

from __future__ import annotations

from grader.checks.architecture import SHARES, check_architecture, matched_variant
from grader.checks.normal_form import fold_preprocessing
from grader.checks.result import CheckResult, failed, not_reached, passed
from grader.checks.submission import (
    check_augmentation,
    check_callback,
    check_compile,
    check_preprocess,
    check_unused_callbacks,
)
from grader.checks.training import (
    check_gap,
    check_tier,
    check_training,
    known_cause,
    regularise_hint,
    tier_hint,
    tier_id,
)
from grader.core.facts import ModelFacts, SubmissionFacts
from grader.spec import ChallengeSpec, Profile

__all__ = ["CheckResult", "checked_model", "run_checks", "matched_variant"]


def run_checks(spec: ChallengeSpec, profile: Profile, facts: SubmissionFacts, *, trained: bool) -> list[CheckResult]:
    """Every check for this challenge, in report order. Missing facts give 'not checked' rows."""
    results = [_check_runs(facts)]
    reason = f"{facts.failure.stage} failed" if facts.failure else "an earlier stage failed"

    model, moved = checked_model(spec, facts)
    if facts.preprocess is not None:
        results.append(
            check_preprocess(spec.preprocess_points, spec.input_shape, spec.input_scale, facts.preprocess, moved)
        )
    else:
        results.append(_missing(facts, "preprocess", "preprocess", "preprocess()", spec.preprocess_points, reason))

    arch = spec.architecture
    if model is not None:
        assert facts.model is not None  # checked_model finds a model only in facts.model
        results += check_architecture(arch, spec.input_shape, model)
        results.append(check_compile(spec.compile, spec.task, facts.model))
        if spec.augmentation:
            results.append(check_augmentation(spec.augmentation, facts.model))
    else:
        for key, title in (
            ("input", "Input shape"),
            ("layers", "Layers and settings"),
            ("shapes", "Output shapes"),
            ("params", "Parameter counts"),
        ):
            results.append(
                _missing(facts, "build_model", f"architecture.{key}", title, arch.points * SHARES[key], reason)
            )
        results.append(_missing(facts, "build_model", "compile", "compile()", spec.compile.points, reason))
        if spec.augmentation:
            results.append(
                _missing(facts, "build_model", "augmentation", "Data augmentation", spec.augmentation.points, reason)
            )

    if spec.callback:
        if facts.callbacks is not None:
            results.append(
                check_callback(
                    spec.callback, profile.target_accuracy, facts.callbacks, facts.training if trained else None
                )
            )
        else:
            results.append(
                _missing(facts, "callbacks", "callback", "Stop-at-target callback", spec.callback.points, reason)
            )
    elif facts.callbacks is not None and (unused := check_unused_callbacks(facts.callbacks)) is not None:
        results.append(unused)

    if not trained:
        return results

    if facts.training is not None and facts.failure is None:
        results.append(check_training(profile, facts.training))
    variant = matched_variant(arch, model, spec.input_shape) if model is not None else None
    hint = known_cause(results, facts.training, facts.prepared_as_trained) or tier_hint(spec)
    for index, tier in enumerate(profile.tiers, start=1):
        if facts.metrics is not None:
            results.append(check_tier(index, tier, profile.accuracy_tolerance, facts.metrics, variant, hint))
        else:
            results.append(
                not_reached(
                    tier_id(index), f"Test accuracy ≥ {tier.min_accuracy:g}", tier.points, reason, bonus=tier.stretch
                )
            )
    if profile.max_gap is not None:
        if facts.metrics is not None:
            results.append(check_gap(profile, facts.metrics, regularise_hint(spec)))
        else:
            results.append(not_reached("gap", f"Overfitting gap ≤ {profile.max_gap:g}", profile.gap_points, reason))
    return results


def checked_model(spec: ChallengeSpec, facts: SubmissionFacts) -> tuple[ModelFacts | None, tuple[str, ...]]:
    """The model as the architecture rows compare it: without leading layers that do preprocess()'s
    work (normal_form.py, rule 5), and those layers; (None, ()) without a model."""
    if facts.model is None:
        return None, ()
    return fold_preprocessing(facts.model, facts.preprocess, spec.input_shape)


def _missing(facts: SubmissionFacts, stage: str, id: str, title: str, points: float, reason: str) -> CheckResult:
    """A check whose facts are missing: its own stage's error and hint when that stage failed
    (a TODO not done yet), else 'not checked' because an earlier stage failed."""
    failure = facts.stage_failures.get(stage)
    if failure is not None:
        return failed(id, title, points, failure.message, failure.hint)
    return not_reached(id, title, points, reason)


def _check_runs(facts: SubmissionFacts) -> CheckResult:
    title = "Submission runs"
    if facts.failure is None:
        return passed("submission", title, 0, "imported and ran without errors")
    f = facts.failure
    return failed("submission", title, 0, f.message, f.hint)
