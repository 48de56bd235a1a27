"""`grade calibrate`: tiers from the spread of the reference over seeds."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from grader import backend
from grader.calibrate import Calibration, SeedRun, proposed_max_gap, proposed_tiers, proposed_top_tier
from grader.cli import main as cli
from grader.spec import load_spec
from tests.grading import tiny_spec


def calibration(*figures):
    runs = [SeedRun(seed, acc, gap, 5, 100, 100, "passed") for seed, (acc, gap) in enumerate(figures, start=1)]
    return Calibration("fashion", "quick", "fashion.py", runs)


def test_tiers_sit_under_the_worst_seed_and_keep_their_spacing():
    result = calibration((0.8783, 0.0386), (0.8540, 0.0335), (0.8801, 0.0462))
    # 0.8540 - margin 0.002 = 0.852, rounded down to a multiple of 0.005.
    assert proposed_top_tier(result) == pytest.approx(0.85)
    # The gap limit sits over the worst seed: 0.0462 + 0.002, rounded up.
    assert proposed_max_gap(result) == pytest.approx(0.05)
    quick = load_spec("fashion").profile("quick")
    top = max(t.min_accuracy for t in quick.tiers)
    low = min(t.min_accuracy for t in quick.tiers)
    assert proposed_tiers(quick, result, stretch=False) == pytest.approx([0.85 - (top - low), 0.85])
    assert proposed_tiers(quick, result, stretch=True) == []


def test_calibrate_trains_each_seed_and_writes_the_table(tmp_path):
    spec = tiny_spec(tmp_path, "fashion")
    out = tmp_path / "measurements.md"
    result = CliRunner().invoke(cli, ["calibrate", "fashion", "--spec", str(spec), "--profile", "tiny",
                                      "--seeds", "2", "--first-seed", "7", "--markdown", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "### fashion, profile `tiny`, fashion.py, 2 seeds" in text
    rows = [line for line in text.splitlines() if line.startswith("| 7 |") or line.startswith("| 8 |")]
    assert len(rows) == 2
    assert "- tier 0.1 (10 points) -> " in text and "- max_gap 0.5 -> " in text


def test_calibrate_names_an_unknown_profile():
    result = CliRunner().invoke(cli, ["calibrate", "fashion", "--profile", "nope", "--seeds", "1"])
    assert result.exit_code == 2 and "has no profile 'nope'" in result.output


@pytest.mark.skipif(bool(backend.gpu_names()), reason="this machine has a GPU: the seed would train")
def test_calibrate_on_a_gpu_says_where_there_is_none(tmp_path):
    result = CliRunner().invoke(cli, ["calibrate", "fashion", "--spec", str(tiny_spec(tmp_path, "fashion")),
                                      "--profile", "tiny", "--seeds", "1", "--device", "gpu"])
    assert result.exit_code == 1
    assert "no seed gave figures: seed 1: --device gpu, but the" in result.output and "sees no GPU" in result.output
