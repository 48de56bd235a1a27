"""End-to-end grading on real data, small profiles: the result document, reproducibility,
the overfitting gap and the stop-at-target callback."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from grader import config
from grader.pipeline import grade
from tests.grading import fashion_submission, tiny_spec

SUBMISSIONS = Path(__file__).parent / "submissions"
SCHEMA = json.loads((config.REPO_ROOT / "docs" / "result.schema.json").read_text())


def check(result, id):
    return next(c for c in result.checks if c.id == id)


@pytest.fixture(scope="module")
def graded_twice(tmp_path_factory):
    """The same submission graded twice, each in its own folder."""
    results = []
    for attempt in ("first", "second"):
        tmp = tmp_path_factory.mktemp(attempt)
        spec = tiny_spec(tmp, "fashion", train_limit=1024, epochs=2)
        results.append(grade(path=fashion_submission(tmp), spec_path=spec, profile="tiny", out_dir=tmp / "run"))
    return results


def test_result_json_follows_the_schema(graded_twice, tmp_path):
    result = graded_twice[0]
    written = json.loads((Path(result.run_dir) / "result.json").read_text())
    jsonschema.validate(written, SCHEMA)
    assert written["verdict"] == "passed", [c for c in written["checks"] if not c["passed"]]
    assert written["submission_sha256"] == result.submission_sha256 and len(result.submission_sha256) == 64
    assert len(written["history"]["loss"]) == 2 and "val_accuracy" in written["history"]
    assert sum(map(sum, written["confusion_matrix"])) == 512  # the tiny profile's test images
    assert written["versions"]["keras"] and written["device"] == "cpu"
    # Check-only and not-graded results follow the same schema.
    checked = grade(path=fashion_submission(tmp_path), train=False, out_dir=tmp_path / "check")
    jsonschema.validate(checked.to_dict(), SCHEMA)
    missing = grade(path=tmp_path / "nothing" / "fashion.py", train=False)
    jsonschema.validate(missing.to_dict(), SCHEMA)


def test_grading_twice_gives_identical_results(graded_twice):
    first, second = graded_twice
    assert first.metrics == second.metrics
    assert first.history == second.history

    # Every check the same, points and messages, except the one message that reports wall-clock seconds.
    def comparable(result):
        return [{**c.to_dict(), "message": None} if c.id == "training" else c.to_dict() for c in result.checks]

    assert comparable(first) == comparable(second)
    assert [c.points for c in first.checks] == [c.points for c in second.checks]


def test_the_child_never_sees_the_test_split(graded_twice):
    from grader.submission.files import RUN_FOLDER_FILES

    run_dir = Path(graded_twice[0].run_dir)
    # The child's inputs and work folder live in a box outside the run folder, deleted after the
    # run; the run folder holds only what the parent wrote, and no data at all.
    assert {path.name for path in run_dir.iterdir()} <= RUN_FOLDER_FILES
    assert not list(run_dir.glob("*.npy"))


def test_overfitting_model_fails_the_gap_check(tmp_path):
    spec = tiny_spec(tmp_path, "cnn", train_limit=200, validation_limit=500, epochs=25, max_gap=0.05)
    path = tmp_path / "cnn.py"
    path.write_text((SUBMISSIONS / "mnist_overfit.py").read_text())
    result = grade(path=path, spec_path=spec, profile="tiny", out_dir=tmp_path / "run")
    gap = check(result, "gap")
    assert not gap.passed
    assert result.metrics["train_accuracy"] >= 0.95
    assert result.metrics["gap"] > 0.05
    assert "Dropout" in gap.hint
    assert check(result, "architecture.layers").message.startswith("missing Dropout")


def test_callback_stops_training_once_the_target_is_reached(tmp_path):
    spec = tiny_spec(tmp_path, "fashion", train_limit=2048, epochs=6, target_accuracy=0.7)
    result = grade(path=fashion_submission(tmp_path), spec_path=spec, profile="tiny", out_dir=tmp_path / "run")
    callback = check(result, "callback")
    epochs = len(result.history["accuracy"])
    assert callback.passed and epochs < 6
    assert callback.message.startswith(f"stopped after epoch {epochs} at accuracy")
    assert result.history["accuracy"][-1] >= 0.7 > max(result.history["accuracy"][:-1], default=0)


@pytest.mark.parametrize(
    "condition, message",
    [
        ('logs["accuracy"] > 2', "did not stop"),
        ("True", "below the target"),
    ],
)
def test_broken_callbacks_are_caught_directly(tmp_path, condition, message):
    path = fashion_submission(tmp_path, 'logs["accuracy"] >= self.target', condition)
    result = grade(path=path, train=False, out_dir=tmp_path / "run")
    callback = check(result, "callback")
    assert not callback.passed and message in callback.message
