"""Tiers from measured variance: train a reference on N seeds, summarise, propose thresholds.

One seed says little: the fashion reference's quick-profile test accuracy moves by about
±0.01 between seeds, so a tier set just under one seed's figure fails most other seeds.
`calibrate()` grades the reference with `grader.pipeline.grade` (the same path as `grade
submit`, so the figures are exactly what learners get), once per seed, and proposes:

- the top accuracy tier at the lowest test accuracy of all seeds minus MARGIN, rounded down to
  STEP, so that every measured seed reaches it (the goal is at least 19 of 20 seeds: the worst
  of 20 measured seeds is a fair stand-in for the unlucky one in 20 to come);
- the gap limit at the highest gap of all seeds plus MARGIN, rounded up to STEP.

Lower tiers keep their distance below the top tier. Stretch tiers are calibrated the same way
from the stretch reference (`--solution`), since the main reference cannot reach them.
"""

from __future__ import annotations

import math
import statistics
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from grader import config
from grader.spec import ChallengeSpec, Profile, load_spec

# Slack between the worst accepted seed and a threshold, for float noise across hosts with the
# same CPU family. Other hardware needs `accuracy_tolerance` (docs/measurements.md).
MARGIN = 0.002
STEP = 0.005  # thresholds are round numbers a learner can read


@dataclass(frozen=True)
class SeedRun:
    seed: int
    test_accuracy: float
    gap: float
    epochs: int
    score: float
    max_score: float
    verdict: str

    @property
    def full_marks(self) -> bool:
        return self.verdict == "passed" and self.score >= self.max_score


@dataclass
class Calibration:
    challenge: str
    profile: str
    solution: str
    runs: list[SeedRun] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    device: str = "cpu"

    def summary(self, key: str) -> tuple[float, float, float]:
        values = [getattr(r, key) for r in self.runs]
        return min(values), statistics.median(values), max(values)

    def accuracy_floor(self) -> float:
        return min(r.test_accuracy for r in self.runs)

    def gap_ceiling(self) -> float:
        return max(r.gap for r in self.runs)


def proposed_top_tier(calibration: Calibration) -> float:
    return math.floor((calibration.accuracy_floor() - MARGIN) / STEP + 1e-9) * STEP


def proposed_max_gap(calibration: Calibration) -> float:
    return math.ceil((calibration.gap_ceiling() + MARGIN) / STEP - 1e-9) * STEP


def proposed_tiers(profile: Profile, calibration: Calibration, *, stretch: bool) -> list[float]:
    """New min_accuracy for each tier of the kind being calibrated (stretch or not), in order."""
    tiers = [t for t in profile.tiers if t.stretch == stretch]
    if not tiers:
        return []
    top = proposed_top_tier(calibration)
    highest = max(t.min_accuracy for t in tiers)
    return [round(top - (highest - t.min_accuracy), 4) for t in tiers]


def calibrate(*, challenge: str, profile: str = config.DEFAULT_PROFILE, seeds: int = 20, first_seed: int = 1,
              solution: Path | None = None, spec_path: Path | None = None, data_dir: Path | None = None,
              isolation: str | None = None, device: str = "cpu",
              on_run: Callable[[SeedRun], None] = lambda run: None) -> Calibration:
    """Grade the reference (or `solution`) once per seed; figures exactly as `grade submit` gives them.

    The shipped tiers are calibrated on the CPU (`device="cpu"`); a host whose gradings train on
    its GPUs measures there with `device="gpu"` (GPUs are not bitwise reproducible, docs/spec.md).
    """
    from grader.pipeline import grade

    spec: ChallengeSpec = load_spec(spec_path or challenge)
    spec.profile(profile)  # a clear SpecError for an unknown profile, before any training
    path = Path(solution) if solution else config.SOLUTIONS_DIR / f"{spec.name}.py"
    result = Calibration(spec.name, profile, str(path), device=device)
    with tempfile.TemporaryDirectory(prefix="grade-calibrate-") as runs:
        for seed in range(first_seed, first_seed + seeds):
            graded = grade(path=path, challenge=spec.name, spec_path=spec_path, profile=profile, seed=seed,
                           device=device, out_dir=Path(runs) / f"seed-{seed}", data_dir=data_dir,
                           isolation=isolation)
            if graded.error or not graded.metrics:
                result.errors.append(f"seed {seed}: {graded.error or 'no test accuracy (the run failed)'}")
                continue
            run = SeedRun(seed, graded.metrics["test_accuracy"], graded.metrics["gap"],
                          len(graded.history.get("loss", [])), graded.score, graded.max_score, graded.verdict)
            result.runs.append(run)
            on_run(run)
    return result


def report_markdown(calibration: Calibration, spec: ChallengeSpec, *, stretch: bool = False) -> str:
    """The distribution, the per-seed table and the proposal, for docs/measurements.md."""
    profile = spec.profile(calibration.profile)
    n = len(calibration.runs)
    lo, mid, hi = calibration.summary("test_accuracy")
    glo, gmid, ghi = calibration.summary("gap")
    full = sum(r.full_marks for r in calibration.runs)
    lines = [
        f"### {calibration.challenge}, profile `{calibration.profile}`, {Path(calibration.solution).name}, "
        f"{n} seeds" + ("" if calibration.device == "cpu" else f", device {calibration.device}"),
        "",
        f"test accuracy min {lo:.4f}, median {mid:.4f}, max {hi:.4f}; "
        f"gap min {glo:+.4f}, median {gmid:+.4f}, max {ghi:+.4f}; full marks with the spec's tiers on "
        f"{full} of {n} seeds.",
        "",
        "| seed | test accuracy | gap | epochs | score |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in calibration.runs:
        lines.append(f"| {r.seed} | {r.test_accuracy:.4f} | {r.gap:+.4f} | {r.epochs} | "
                     f"{r.score:g}/{r.max_score:g} |")
    tiers = [t for t in profile.tiers if t.stretch == stretch]
    proposal = proposed_tiers(profile, calibration, stretch=stretch)
    lines += ["", f"Proposed (every seed reaches each threshold, with a margin of {MARGIN:g}, rounded to {STEP:g}):"]
    for tier, new in zip(tiers, proposal):
        lines.append(f"- tier {tier.min_accuracy:g} ({tier.points:g} points) -> {new:g}")
    if profile.max_gap is not None and not stretch:
        lines.append(f"- max_gap {profile.max_gap:g} -> {proposed_max_gap(calibration):g}")
    if proposal:
        top, gap = max(proposal), proposed_max_gap(calibration)
        reach = sum(r.test_accuracy >= top and (stretch or profile.max_gap is None or r.gap <= gap)
                    for r in calibration.runs)
        lines.append(f"- seeds that reach every proposed threshold: {reach} of {n}")
    if calibration.errors:
        lines += ["", "Runs that gave no figures: " + "; ".join(calibration.errors)]
    return "\n".join(lines) + "\n"
