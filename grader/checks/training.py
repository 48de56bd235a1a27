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
    return passed("training", title, 0,
                  f"{training.epochs_run} of {profile.epochs} epochs in {training.seconds:.0f} s "
                  f"(budget {profile.time_budget_s:.0f} s)")


def tier_id(index: int) -> str:
    return f"accuracy.tier{index}"


def check_tier(index: int, tier: Tier, tolerance: float, metrics: Metrics, variant: str | None) -> CheckResult:
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
                  f"test accuracy {got:.4f} is below {tier.min_accuracy:g}",
                  "check the architecture first; then look at the learning curves: still rising means it needs "
                  "more epochs, a large gap means overfitting", bonus=tier.stretch)


def check_gap(profile: Profile, metrics: Metrics) -> CheckResult:
    title = f"Overfitting gap ≤ {profile.max_gap:g}"
    gap = metrics.gap
    measured = (f"training accuracy {metrics.train_accuracy:.4f} - validation accuracy "
                f"{metrics.validation_accuracy:.4f} = {gap:+.4f}")
    if profile.max_gap is not None and gap <= profile.max_gap:
        return passed("gap", title, profile.gap_points, measured)
    return failed("gap", title, profile.gap_points, measured,
                  "the model memorises its training images: add Dropout, data augmentation, or train fewer epochs")
