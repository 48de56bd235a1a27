"""Checks of the training run and of the parent's own measurements: budget, accuracy tiers, gap."""

from __future__ import annotations

from grader.checks.result import CheckResult, failed, passed
from grader.facts import Metrics, TrainingFacts
from grader.spec import Profile, Tier


def check_training(profile: Profile, training: TrainingFacts) -> CheckResult:
    title = "Training"
    if training.nan_loss:
        return failed("training", title, 0, f"the loss became NaN in epoch {training.epochs_run}",
                      "lower the learning rate, and check that preprocess() scales the images to [0, 1]")
    if training.stopped_for_time:
        how = "was stopped by" if training.killed else "stopped early to stay within"
        return passed("training", title, 0,
                      f"{how} the time budget of {profile.time_budget_s:.0f} s after {training.epochs_run} of "
                      f"{profile.epochs} epochs: graded on epoch {training.epochs_run}. To use every epoch, make "
                      f"training cheaper (fewer or smaller layers, or pool earlier)")
    return passed("training", title, 0,
                  f"{training.epochs_run} of {profile.epochs} epochs in {training.seconds:.0f} s "
                  f"(budget {profile.time_budget_s:.0f} s)")


def tier_id(index: int) -> str:
    return f"accuracy.tier{index}"


# The learner cannot change the epochs (the profile sets them), so the hint names what they can change.
# Regularisation means the challenge's own layers, where its file puts them: an extra Dropout is penalised on
# fashion, and cats_dogs puts its augmentation first and its Dropout after Flatten.
REGULARISE = ("give it the challenge's Dropout and data augmentation layers, where the challenge file puts them "
              "(see the architecture rows)")
DEFAULT_TIER_HINT = ("look at the learning curves in report.html: validation accuracy still rising at the last epoch "
                     "means the model learns too slowly for the epochs given (compare its layers with the challenge "
                     f"file); training far above validation means it overfits: {REGULARISE}")


def known_cause(earlier: list[CheckResult], training: TrainingFacts | None) -> str | None:
    """The most likely reason a tier was missed, from what the grader already knows; None: no idea."""
    failed_ids = {c.id for c in earlier if not c.passed}
    if "preprocess" in failed_ids:
        return ("fix preprocess() first (see its row): the grader tests on images prepared as images / 255, so a "
                "model trained on other values does worse on them")
    if training is not None and 0 < training.epochs_run < training.epochs_allowed and "callback" in failed_ids:
        return (f"fix the callback first (see its row): it stopped training after epoch {training.epochs_run} "
                f"of {training.epochs_allowed}")
    if training is not None and training.nan_loss:
        return "the loss became NaN: lower the learning rate"
    architecture = [c for c in earlier if c.id.startswith("architecture.") and not c.passed]
    if architecture or "compile" in failed_ids:
        return f"fix the {'architecture' if architecture else 'compile() settings'} first (see the rows above)"
    return None


def check_tier(index: int, tier: Tier, tolerance: float, metrics: Metrics, variant: str | None,
               cause: str | None = None) -> CheckResult:
    title = f"Test accuracy ≥ {tier.min_accuracy:g}"
    if tier.architecture:
        title += f" ({tier.architecture})"
    got = metrics.test_accuracy
    if tier.architecture and variant != tier.architecture:
        return failed(tier_id(index), title, tier.points,
                      f"needs the {tier.architecture} architecture (the model matches {variant or 'no variant'})",
                      f"see the {tier.architecture} goal in the challenge file", bonus=tier.stretch)
    if got >= tier.min_accuracy - tolerance:
        return passed(tier_id(index), title, tier.points, f"test accuracy {got:.4f}", bonus=tier.stretch)
    return failed(tier_id(index), title, tier.points,
                  f"test accuracy {got:.4f} is below {tier.min_accuracy:g}", cause or DEFAULT_TIER_HINT,
                  bonus=tier.stretch)


def check_gap(profile: Profile, metrics: Metrics) -> CheckResult:
    title = f"Overfitting gap ≤ {profile.max_gap:g}"
    gap = metrics.gap
    measured = (f"training accuracy {metrics.train_accuracy:.4f} - validation accuracy "
                f"{metrics.validation_accuracy:.4f} = {gap:+.4f}")
    if profile.max_gap is not None and gap <= profile.max_gap:
        return passed("gap", title, profile.gap_points, measured)
    return failed("gap", title, profile.gap_points, measured,
                  f"the model memorises its training images: {REGULARISE}")
