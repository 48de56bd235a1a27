"""Checks of the training run and of the parent's own measurements: budget, accuracy tiers, gap."""

from __future__ import annotations

from grader.checks.result import CheckResult, failed, passed
from grader.core.facts import Metrics, TrainingFacts, exact
from grader.spec import ChallengeSpec, Profile, Tier


def check_training(profile: Profile, training: TrainingFacts) -> CheckResult:
    title = "Training"
    if training.nan_loss:
        return failed(
            "training",
            title,
            0,
            f"the loss became NaN in epoch {training.epochs_run}",
            "lower the learning rate, and check that preprocess() scales the images to [0, 1]",
        )
    if training.stopped_for_time:
        how = "was stopped by" if training.killed else "stopped early to stay within"
        return passed(
            "training",
            title,
            0,
            f"{how} the time budget of {profile.time_budget_s:.0f} s after {training.epochs_run} of "
            f"{profile.epochs} epochs: graded on epoch {training.epochs_run}. To use every epoch, make "
            f"training cheaper (fewer or smaller layers, or pool earlier)",
        )
    return passed(
        "training",
        title,
        0,
        f"{training.epochs_run} of {profile.epochs} epochs in {training.seconds:.0f} s "
        f"(budget {profile.time_budget_s:.0f} s)",
    )


def tier_id(index: int) -> str:
    return f"accuracy.tier{index}"


# The learner cannot change the epochs (the profile sets them), so the hint names what they can change.
# Regularisation means the challenge's own layers, where its file puts them: an extra Dropout is penalised on
# fashion, and cats_dogs puts its augmentation first and its Dropout after Flatten. A challenge without
# either (fashion) is told what it does have: its layer sizes.
def regularise_hint(spec: ChallengeSpec) -> str:
    """What a model that memorises its training images should change, in this challenge's terms."""
    kinds = [
        name
        for name, present in (
            ("Dropout", any(layer.type == "Dropout" for layer in spec.architecture.main.layers)),
            ("data augmentation", spec.augmentation is not None),
        )
        if present
    ]
    if kinds:
        return (
            f"give it the challenge's {' and '.join(kinds)} layers, where the challenge file puts them "
            f"(see the architecture rows)"
        )
    return (
        "keep the layers and sizes of the challenge file (see the architecture rows): more filters or units "
        "memorise more"
    )


def tier_hint(spec: ChallengeSpec) -> str:
    return (
        "look at the learning curves in report.html: validation accuracy still rising at the last epoch means "
        "the model learns too slowly for the epochs given (compare its layers with the challenge file); training "
        f"far above validation means it overfits: {regularise_hint(spec)}"
    )


def known_cause(
    earlier: list[CheckResult], training: TrainingFacts | None, prepared_as_trained: bool = False
) -> str | None:
    """The most likely reason a tier was missed, from what the grader already knows; None: no idea.
    `prepared_as_trained`: the test images were prepared as the training images were (then a
    preprocess() mistake is not why)."""
    failed_ids = {c.id for c in earlier if not c.passed}
    if "preprocess" in failed_ids and not prepared_as_trained:
        return (
            "fix preprocess() first (see its row): the grader tests on images prepared as images / 255, so a "
            "model trained on other values does worse on them"
        )
    if training is not None and training.nan_loss:
        return "the loss became NaN: lower the learning rate"
    architecture = [c for c in earlier if c.id.startswith("architecture.") and not c.passed]
    if architecture or "compile" in failed_ids:
        return f"fix the {'architecture' if architecture else 'compile() settings'} first (see the rows above)"
    return None


def check_tier(
    index: int, tier: Tier, tolerance: float, metrics: Metrics, variant: str | None, hint: str
) -> CheckResult:
    """`hint`: what to change when the tier is missed (known_cause, else tier_hint)."""
    title = f"Test accuracy ≥ {tier.min_accuracy:g}"
    if tier.architecture:
        title += f" ({tier.architecture})"
    got = metrics.test_accuracy
    if tier.architecture and variant != tier.architecture:
        return failed(
            tier_id(index),
            title,
            tier.points,
            f"needs the {tier.architecture} architecture (the model matches {variant or 'no variant'})",
            f"see the {tier.architecture} goal in the challenge file",
            bonus=tier.stretch,
        )
    if metrics.exact_test_accuracy() >= exact(tier.min_accuracy) - exact(tolerance):
        return passed(tier_id(index), title, tier.points, f"test accuracy {got:.4f}{_of(metrics)}", bonus=tier.stretch)
    return failed(
        tier_id(index),
        title,
        tier.points,
        f"test accuracy {got:.4f}{_of(metrics)} is below {tier.min_accuracy:g}",
        hint,
        bonus=tier.stretch,
    )


def _of(metrics: Metrics) -> str:
    """How many test images the accuracy is of, and of which half in leaderboard mode."""
    half = f" of the {metrics.test_half} of the test set" if metrics.test_half else ""
    if metrics.test_images:
        return f" ({metrics.test_images[0]:,} of {metrics.test_images[1]:,} images{half})"
    return f" ({half.strip()})" if half else ""


def check_gap(profile: Profile, metrics: Metrics, hint: str) -> CheckResult:
    """`hint`: how this challenge's model memorises less (regularise_hint)."""
    title = f"Overfitting gap ≤ {profile.max_gap:g}"
    measured = (
        f"training accuracy {metrics.train_accuracy:.4f} - validation accuracy "
        f"{metrics.validation_accuracy:.4f} = {metrics.gap:+.4f}"
    )
    if profile.max_gap is not None and metrics.exact_gap() <= exact(profile.max_gap):
        return passed("gap", title, profile.gap_points, measured)
    if profile.max_gap is not None and metrics.validation_images:
        count = metrics.validation_images[1]
        measured += (
            f": {float(metrics.exact_gap() * count):.1f} of {count:,} validation images, where the limit "
            f"allows {float(exact(profile.max_gap) * count):.1f}"
        )
    return failed("gap", title, profile.gap_points, measured, f"the model memorises its training images: {hint}")
