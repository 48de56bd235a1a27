"""`grade calibrate`: tiers from the spread of the reference over seeds."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from grader import config
from grader.cli import main as cli
from grader.host.calibrate import (
    Calibration,
    CalibrationRecord,
    RecordError,
    SeedRun,
    experiment,
    proposed_max_gap,
    proposed_tiers,
    proposed_top_tier,
    report_markdown,
    thresholds,
)
from grader.keras_support import backend
from grader.spec import load_spec
from tests.grading import tiny_spec


def calibration(*figures, test_images=None, validation_images=None):
    runs = [
        SeedRun(seed, acc, gap, 5, 100, 100, "passed", (), test_images, validation_images)
        for seed, (acc, gap) in enumerate(figures, start=1)
    ]
    return Calibration("fashion", "quick", "fashion.py", runs)


def test_tiers_sit_under_the_worst_seed_by_the_spread_and_one_image_and_keep_their_spacing():
    result = calibration(
        (0.8783, 0.0386), (0.8540, 0.0335), (0.8801, 0.0462), test_images=10_000, validation_images=2_000
    )
    # 0.8540 - (spread 0.0119 + one test image 0.0001) = 0.8420, rounded down to a multiple of 0.005.
    assert proposed_top_tier(result) == pytest.approx(0.84)
    # The gap limit sits over the worst seed: 0.0462 + (spread 0.0052 + one validation image 0.0005) = 0.0519,
    # rounded up to a multiple of 0.0005.
    assert proposed_max_gap(result) == pytest.approx(0.052)
    quick = load_spec("fashion").profile("quick")
    top = max(t.min_accuracy for t in quick.tiers)
    low = min(t.min_accuracy for t in quick.tiers)
    assert proposed_tiers(quick, result, stretch=False) == pytest.approx([0.84 - (top - low), 0.84])
    assert proposed_tiers(quick, result, stretch=True) == []


def test_seeds_that_agree_closely_keep_the_accuracy_margin_but_the_gap_margin_is_spread_and_one_image():
    # The cnn lesson: a gap limit between the reference (about +0.012) and the model without dropout
    # (+0.014 and more) is only possible where the gap's margin is not the accuracy's 0.002.
    result = calibration(
        (0.9790, 0.0120), (0.9795, 0.0123), (0.9800, 0.0118), test_images=10_000, validation_images=10_000
    )
    assert proposed_top_tier(result) == pytest.approx(0.975)  # 0.9790 - 0.002 (more than spread + one image)
    assert proposed_max_gap(result) == pytest.approx(0.0130)  # 0.0123 + 0.0002 + 0.0001 = 0.0126, rounded up


def test_calibrate_trains_each_seed_writes_the_table_and_resumes_from_its_record(tmp_path):
    spec = tiny_spec(tmp_path, "fashion")
    out, record = tmp_path / "measurements.md", tmp_path / "seeds.jsonl"
    command = [
        "calibrate",
        "fashion",
        "--spec",
        str(spec),
        "--profile",
        "tiny",
        "--first-seed",
        "7",
        "--record",
        str(record),
        "--markdown",
        str(out),
    ]
    result = CliRunner().invoke(cli, command + ["--seeds", "2"])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "### fashion, profile `tiny`, fashion.py, 2 seeds" in text
    rows = [line for line in text.splitlines() if line.startswith("| 7 |") or line.startswith("| 8 |")]
    assert len(rows) == 2
    assert "- tier 0.1 (10 points) -> " in text and "- max_gap 0.5 -> " in text
    assert [json.loads(line)["seed"] for line in record.read_text().splitlines()] == [7, 8]

    # Run again for seeds 7 to 9: only seed 9 trains; 7 and 8 come from the record.
    out.unlink()
    result = CliRunner().invoke(cli, command + ["--seeds", "3"])
    assert result.exit_code == 0, result.output
    assert result.output.count("(recorded)") == 2 and "seed    9:" in result.output
    assert [json.loads(line)["seed"] for line in record.read_text().splitlines()] == [7, 8, 9]
    again = out.read_text()
    assert "3 seeds" in again and all(row in again for row in rows)  # the same figures as they were measured


def run_of(seed: int, accuracy: float = 0.9, tiers: tuple = (0.1, 0.2, 0.5)) -> SeedRun:
    return SeedRun(seed, accuracy, 0.01, 3, 100, 100, "passed", tiers)


def test_a_record_keeps_seeds_across_a_line_cut_short_and_refuses_another_experiment(tmp_path):
    spec = load_spec(tiny_spec(tmp_path, "fashion"))
    key = experiment(
        challenge="fashion",
        profile=spec.profile("tiny"),
        solution=config.SOLUTIONS_DIR / "fashion.py",
        device="cpu",
        backend_name="tensorflow",
    )
    path = tmp_path / "seeds.jsonl"
    record = CalibrationRecord(path, key)
    record.append(run_of(1))
    path.write_text(path.read_text() + '{"seed": 2, "test_acc')  # the command was killed mid-line
    assert list(record.read()) == [1]  # seed 2 trains again
    record.append(run_of(2, 0.8))
    assert len(path.read_text().splitlines()) == 2  # the cut line is gone, not kept beside seed 2
    assert {seed: run.test_accuracy for seed, run in record.read().items()} == {1: 0.9, 2: 0.8}

    other = CalibrationRecord(path, {**key, "device": "gpu", "training": {**key["training"], "epochs": 99}})
    with pytest.raises(RecordError, match="another calibration .*device 'cpu', not 'gpu'; epochs 1, not 99"):
        other.read()
    path.write_text(path.read_text().replace('"seed": 1', '"seed": "one"', 1))
    with pytest.raises(RecordError, match="line 1 of .* is not a calibration record"):
        record.read()


def test_calibrate_refuses_a_record_of_another_reference_before_training(tmp_path):
    spec = tiny_spec(tmp_path, "fashion")
    other = tmp_path / "other.py"
    other.write_text("# another reference\n")
    record = tmp_path / "seeds.jsonl"
    key = experiment(
        challenge="fashion",
        profile=load_spec(spec).profile("tiny"),
        solution=other,
        device="cpu",
        backend_name=backend.backend_name(),
    )
    CalibrationRecord(record, key).append(run_of(1))
    result = CliRunner().invoke(
        cli, ["calibrate", "fashion", "--spec", str(spec), "--profile", "tiny", "--seeds", "2", "--record", str(record)]
    )
    assert result.exit_code == 2 and "holds seeds of another calibration (solution_sha256" in result.output
    assert "seed" not in result.output.split("Error")[0]  # refused before any seed trained


def test_the_table_says_which_seeds_were_scored_under_earlier_thresholds(tmp_path):
    spec = load_spec(tiny_spec(tmp_path, "fashion"))
    now = thresholds(spec.profile("tiny"))
    runs = [
        SeedRun(1, 0.9, 0.01, 3, 100, 100, "passed", now),
        SeedRun(2, 0.9, 0.01, 3, 90, 100, "passed", (0.95,) + now[1:]),
    ]
    text = report_markdown(Calibration("fashion", "tiny", "fashion.py", runs), spec)
    assert "Seeds scored under earlier thresholds (the proposal uses only their test accuracy and gap): 2." in text


def test_calibrate_names_an_unknown_profile():
    result = CliRunner().invoke(cli, ["calibrate", "fashion", "--profile", "nope", "--seeds", "1"])
    assert result.exit_code == 2 and "has no profile 'nope'" in result.output


@pytest.mark.skipif(bool(backend.gpu_names()), reason="this machine has a GPU: the seed would train")
def test_calibrate_on_a_gpu_says_where_there_is_none(tmp_path):
    result = CliRunner().invoke(
        cli,
        [
            "calibrate",
            "fashion",
            "--spec",
            str(tiny_spec(tmp_path, "fashion")),
            "--profile",
            "tiny",
            "--seeds",
            "1",
            "--device",
            "gpu",
        ],
    )
    assert result.exit_code == 1
    assert "no seed gave figures: seed 1: --device gpu, but the" in result.output and "sees no GPU" in result.output
