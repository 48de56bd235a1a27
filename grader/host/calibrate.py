"""Tiers from measured variance: train a reference on N seeds, summarise, propose thresholds.

One seed says little: the fashion reference's quick-profile test accuracy moves by about
±0.01 between seeds, so a tier set just under one seed's figure fails most other seeds.
`calibrate()` grades the reference with `grader.pipeline.grade` (the same path as `grade
submit`, so the figures are exactly what learners get), once per seed, and proposes:

- the top accuracy tier at the lowest test accuracy of all seeds minus a margin, rounded down
  to STEP;
- the gap limit at the highest gap of all seeds plus a margin, rounded up to GAP_STEP.

The margin covers what the measured seeds cannot show: the seeds to come spread as these do (one
standard deviation of the figure over the seeds), and a figure moves in steps of one image of
the split it is measured on (1/n: the test split for accuracy, the validation split for the
gap). An accuracy margin is never less than MARGIN (float noise between hosts). The goal is that
the reference gets full marks on at least 19 of 20 seeds *other than* those it was calibrated on:
`--first-seed 21` measures such a held-out set.

Lower tiers keep their distance below the top tier. Stretch tiers are calibrated the same way
from the stretch reference (`--solution`), since the main reference cannot reach them.

A long calibration (20 seeds of the cats_dogs full profile take about 16 hours of a 2-core CPU)
keeps a record (`--record`): one JSON line per seed, written as each seed finishes. Run the same
command again and the seeds in it are not trained again, so an interrupted calibration loses
only the seed it was training, and it can be run in pieces. A record belongs to one experiment
(challenge, profile, the reference's bytes, device, backend and the profile's training
settings); it is refused for any other.
"""

from __future__ import annotations

import hashlib
import json
import math
import statistics
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from grader import config
from grader.spec import ChallengeSpec, Profile, load_spec

# Slack between the worst accepted seed and a threshold, for float noise across hosts with the
# same CPU family. Other hardware needs `accuracy_tolerance` (docs/measurements.md).
MARGIN = 0.002
STEP = 0.005  # tiers are round numbers a learner can read
GAP_STEP = 0.0005  # a gap limit is finer: the lessons it tells apart are a few validation images apart


@dataclass(frozen=True)
class SeedRun:
    seed: int
    test_accuracy: float
    gap: float
    epochs: int
    score: float
    max_score: float
    verdict: str
    # The thresholds the score was given under (tiers' min_accuracy, lowest first, then max_gap):
    # a seed read from a record may have been scored before the tiers last moved.
    thresholds: tuple[float | None, ...] = ()
    # How many images the test accuracy and the gap's validation accuracy are of (None: a record
    # written before they were kept).
    test_images: int | None = None
    validation_images: int | None = None

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

    def margin(self, key: str, images: str, floor: float = 0.0) -> float:
        """The seeds' spread of `key` plus one image of the split it is of, at least `floor`."""
        values = [getattr(r, key) for r in self.runs]
        spread = statistics.pstdev(values) if len(values) > 1 else 0.0
        counts = [getattr(r, images) for r in self.runs if getattr(r, images)]
        one_image = 1 / min(counts) if counts else 0.0
        return max(floor, spread + one_image)


class CalibrationError(Exception):
    """A calibration that cannot start: its reference or its record is not usable."""


class RecordError(CalibrationError):
    """The calibration record cannot be read, or holds another experiment's seeds."""


# What changes a seed's figures: a record made under other values is another experiment. The
# thresholds are not among them (changing the tiers is what a calibration is for).
TRAINING_SETTINGS = (
    "epochs",
    "batch_size",
    "train_limit",
    "validation_limit",
    "test_limit",
    "target_accuracy",
    "precision",
    "time_budget_s",
)


def thresholds(profile: Profile) -> tuple[float | None, ...]:
    return tuple(t.min_accuracy for t in profile.tiers) + (profile.max_gap,)


def experiment(*, challenge: str, profile: Profile, solution: Path, device: str, backend_name: str) -> dict[str, Any]:
    """What a record's seeds must share with the seeds a command would train."""
    return {
        "challenge": challenge,
        "profile": profile.name,
        "solution_sha256": hashlib.sha256(solution.read_bytes()).hexdigest(),
        "device": device,
        "backend": backend_name,
        "training": {name: getattr(profile, name) for name in TRAINING_SETTINGS},
    }


class CalibrationRecord:
    """One JSON object per line: the experiment's keys and one seed's figures."""

    def __init__(self, path: Path, experiment: dict[str, Any]):
        self.path, self.experiment = path, experiment

    def read(self) -> dict[int, SeedRun]:
        """The seeds recorded so far. A last line cut short (the command was killed while writing
        it) is left out: that seed trains again."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as err:
            raise RecordError(f"cannot read the calibration record {self.path}: {err}") from None
        runs: dict[int, SeedRun] = {}
        lines = text.split("\n")
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
                run = SeedRun(
                    int(doc["seed"]),
                    float(doc["test_accuracy"]),
                    float(doc["gap"]),
                    int(doc["epochs"]),
                    float(doc["score"]),
                    float(doc["max_score"]),
                    str(doc["verdict"]),
                    tuple(None if t is None else float(t) for t in doc["thresholds"]),
                    _count(doc.get("test_images")),
                    _count(doc.get("validation_images")),
                )
            except (ValueError, KeyError, TypeError) as err:
                if number == len(lines):  # no newline after it: cut short while being written
                    continue
                raise RecordError(
                    f"line {number} of {self.path} is not a calibration record ({err}): remove the "
                    f"line, or give another --record file"
                ) from None
            theirs = {key: doc.get(key) for key in self.experiment}
            if theirs != self.experiment:
                raise RecordError(
                    f"{self.path} holds seeds of another calibration "
                    f"({_difference(theirs, self.experiment)}): give another --record file"
                )
            runs[run.seed] = run
        return runs

    def check_writable(self) -> None:
        """Before any training: a seed measured for an hour must not be lost to a path it cannot keep."""
        try:
            with open(self.path, "a", encoding="utf-8"):
                pass
        except OSError as err:
            raise RecordError(f"cannot write the calibration record {self.path}: {err.strerror or err}") from None

    def append(self, run: SeedRun) -> None:
        line = json.dumps({**self.experiment, **asdict(run)}) + "\n"
        with open(self.path, "a+b") as out:
            out.seek(0)
            text = out.read()
            if text and not text.endswith(b"\n"):  # a line cut short when the command was killed: drop it
                out.truncate(text.rfind(b"\n") + 1)
            out.write(line.encode("utf-8"))
            out.flush()


def _count(value: Any) -> int | None:
    return int(value) if value is not None else None


def _difference(theirs: dict[str, Any], ours: dict[str, Any]) -> str:
    parts = []
    for key, want in ours.items():
        got = theirs.get(key)
        if key == "training" and isinstance(got, dict):
            parts += [
                f"{name} {got.get(name)!r}, not {value!r}" for name, value in want.items() if got.get(name) != value
            ]
        elif got != want:
            parts.append(f"{key} {got!r}, not {want!r}")
    return "; ".join(parts)


def proposed_top_tier(calibration: Calibration) -> float:
    margin = calibration.margin("test_accuracy", "test_images", floor=MARGIN)
    return round(math.floor((calibration.accuracy_floor() - margin) / STEP + 1e-9) * STEP, 4)


def proposed_max_gap(calibration: Calibration) -> float:
    margin = calibration.margin("gap", "validation_images")
    return round(math.ceil((calibration.gap_ceiling() + margin) / GAP_STEP - 1e-9) * GAP_STEP, 4)


def proposed_tiers(profile: Profile, calibration: Calibration, *, stretch: bool) -> list[float]:
    """New min_accuracy for each tier of the kind being calibrated (stretch or not), in order."""
    tiers = [t for t in profile.tiers if t.stretch == stretch]
    if not tiers:
        return []
    top = proposed_top_tier(calibration)
    highest = max(t.min_accuracy for t in tiers)
    return [round(top - (highest - t.min_accuracy), 4) for t in tiers]


def calibrate(
    *,
    challenge: str,
    profile: str = config.DEFAULT_PROFILE,
    seeds: int = 20,
    first_seed: int = 1,
    solution: Path | None = None,
    spec_path: Path | None = None,
    data_dir: Path | None = None,
    isolation: str | None = None,
    device: str = "cpu",
    record: Path | None = None,
    on_run: Callable[[SeedRun, bool], None] = lambda run, recorded: None,
) -> Calibration:
    """Grade the reference (or `solution`) once per seed; figures exactly as `grade submit` gives them.

    The shipped tiers are calibrated on the CPU (`device="cpu"`); a host whose gradings train on
    its GPUs measures there with `device="gpu"` (GPUs are not bitwise reproducible, docs/spec.md).
    With `record`, seeds already in it are taken from it, and each seed trained is added to it.
    """
    from grader.keras_support import backend
    from grader.pipeline import grade

    spec: ChallengeSpec = load_spec(spec_path or challenge)
    chosen = spec.profile(profile)  # a clear SpecError for an unknown profile, before any training
    path = Path(solution) if solution else config.SOLUTIONS_DIR / f"{spec.name}.py"
    if (problem := config.missing_solution(path)) is not None:
        raise CalibrationError(problem + " (--solution FILE)")
    result = Calibration(spec.name, profile, str(path), device=device)
    kept, recorded = None, {}
    if record is not None:
        kept = CalibrationRecord(
            Path(record),
            experiment(
                challenge=spec.name, profile=chosen, solution=path, device=device, backend_name=backend.backend_name()
            ),
        )
        kept.check_writable()
        recorded = kept.read()
    with tempfile.TemporaryDirectory(prefix="grade-calibrate-") as runs:
        for seed in range(first_seed, first_seed + seeds):
            if seed in recorded:
                result.runs.append(recorded[seed])
                on_run(recorded[seed], True)
                continue
            graded = grade(
                path=path,
                challenge=spec.name,
                spec_path=spec_path,
                profile=profile,
                seed=seed,
                device=device,
                out_dir=Path(runs) / f"seed-{seed}",
                data_dir=data_dir,
                isolation=isolation,
            )
            if graded.error or not graded.metrics:
                result.errors.append(f"seed {seed}: {graded.error or 'no test accuracy (the run failed)'}")
                continue
            run = SeedRun(
                seed,
                graded.metrics["test_accuracy"],
                graded.metrics["gap"],
                len(graded.history.get("loss", [])),
                graded.score,
                graded.max_score,
                graded.verdict,
                thresholds(chosen),
                _count(graded.metrics.get("test_images")),
                _count(graded.metrics.get("validation_images")),
            )
            if kept is not None:
                kept.append(run)
            result.runs.append(run)
            on_run(run, False)
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
        lines.append(f"| {r.seed} | {r.test_accuracy:.4f} | {r.gap:+.4f} | {r.epochs} | {r.score:g}/{r.max_score:g} |")
    tiers = [t for t in profile.tiers if t.stretch == stretch]
    proposal = proposed_tiers(profile, calibration, stretch=stretch)
    accuracy_margin = calibration.margin("test_accuracy", "test_images", floor=MARGIN)
    gap_margin = calibration.margin("gap", "validation_images")
    lines += [
        "",
        f"Proposed (every seed reaches each threshold with a margin of the seeds' spread plus one image: "
        f"{accuracy_margin:.4f} for accuracy (at least {MARGIN:g}), rounded to {STEP:g}; {gap_margin:.4f} "
        f"for the gap, rounded to {GAP_STEP:g}):",
    ]
    for tier, new in zip(tiers, proposal, strict=True):
        lines.append(f"- tier {tier.min_accuracy:g} ({tier.points:g} points) -> {new:g}")
    if profile.max_gap is not None and not stretch:
        lines.append(f"- max_gap {profile.max_gap:g} -> {proposed_max_gap(calibration):g}")
    if proposal:
        top, gap = max(proposal), proposed_max_gap(calibration)
        reach = sum(
            r.test_accuracy >= top and (stretch or profile.max_gap is None or r.gap <= gap) for r in calibration.runs
        )
        lines.append(f"- seeds that reach every proposed threshold: {reach} of {n}")
    earlier = [r.seed for r in calibration.runs if r.thresholds and r.thresholds != thresholds(profile)]
    if earlier:
        lines += [
            "",
            f"Seeds scored under earlier thresholds (the proposal uses only their test accuracy and "
            f"gap): {', '.join(map(str, earlier))}.",
        ]
    if calibration.errors:
        lines += ["", "Runs that gave no figures: " + "; ".join(calibration.errors)]
    return "\n".join(lines) + "\n"
