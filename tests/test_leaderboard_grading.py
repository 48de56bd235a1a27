"""Leaderboard mode of grading: the parent's evaluation splits the test set into public and private halves,
the learner sees only the public half, and `grade submit --learner` records the rest for the host."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from click.testing import CliRunner

from grader import config
from grader.cli import main
from grader.leaderboard.db import open_db
from grader.leaderboard.signing import verify
from grader.leaderboard.split import public_test_mask
from grader.measure.evaluate import measure
from tests.grading import needs_sandbox, tiny_spec

SUBMISSIONS = Path(__file__).parent / "submissions"
SCHEMA = json.loads((config.REPO_ROOT / "docs" / "result.schema.json").read_text())
KEY = "grading-host-secret-for-tests-0123"


def test_evaluation_reports_only_the_public_half_and_keeps_the_private_accuracy_apart():
    rng = np.random.default_rng(7)
    test_labels = np.repeat(np.arange(4), 50)
    mask = public_test_mask(test_labels, "fashion")
    # Right on every public image, right on only a quarter of the private ones (tuned to the public board).
    predicted = test_labels.copy()
    private_positions = np.flatnonzero(~mask)
    wrong = private_positions[np.arange(len(private_positions)) % 4 != 0]
    predicted[wrong] = (test_labels[wrong] + 1) % 4
    train_labels = rng.integers(0, 4, 30)
    splits = {
        "test": (np.zeros((200, 2, 2, 1)), test_labels),
        "validation": (np.zeros((20, 2, 2, 1)), train_labels[:20]),
        "train": (np.zeros((30, 2, 2, 1)), train_labels),
    }
    # The model's outputs, as the trainer returns them: one-hot rows, in the order of the splits.
    outputs = np.eye(4, dtype="float32")[np.concatenate([predicted, train_labels[:20], train_labels])]
    evaluation = measure(outputs, splits=splits, task="categorical", num_classes=4, public_mask=mask)
    assert evaluation.metrics.test_accuracy == 1.0
    assert evaluation.private_test_accuracy == pytest.approx(np.mean(predicted[~mask] == test_labels[~mask]))
    assert evaluation.private_test_accuracy == pytest.approx(0.25)
    assert sum(map(sum, evaluation.confusion)) == mask.sum() == 100  # public images only
    assert np.trace(np.array(evaluation.confusion)) == 100 and len(evaluation.test_predictions) == 100
    # Without a mask, nothing changes: the whole test set, no private figure.
    whole = measure(outputs, splits=splits, task="categorical", num_classes=4)
    assert whole.private_test_accuracy is None and sum(map(sum, whole.confusion)) == 200
    assert whole.metrics.test_accuracy == pytest.approx(0.625)


def keys_anywhere(document) -> set[str]:
    if isinstance(document, dict):
        return set(document) | {k for v in document.values() for k in keys_anywhere(v)}
    if isinstance(document, list):
        return {k for v in document for k in keys_anywhere(v)}
    return set()


@pytest.mark.core  # the fast tier's one training: a tiny submit, recorded
@pytest.mark.slow
@needs_sandbox
def test_grade_submit_with_a_learner_records_the_private_half_for_the_host_only(tmp_path, monkeypatch, data_dir):
    monkeypatch.setenv("GRADER_SECRET_KEY", KEY)
    spec = tiny_spec(tmp_path, "fashion", train_limit=512, epochs=1)
    submission = tmp_path / "fashion.py"
    submission.write_text((SUBMISSIONS / "fashion_ok.py").read_text())
    db_path, run_dir, signed_dir = tmp_path / "board.sqlite", tmp_path / "learner-run", tmp_path / "host-only"
    invoked = CliRunner().invoke(
        main,
        [
            "submit",
            str(submission),
            "--spec",
            str(spec),
            "--profile",
            "tiny",
            "--out",
            str(run_dir),
            "--json",
            "--data-dir",
            str(data_dir),
            "--learner",
            "alice",
            "--db",
            str(db_path),
            "--sign",
            "--signed-dir",
            str(signed_dir),
        ],
    )
    assert invoked.exit_code in (0, 1), invoked.output
    printed = json.loads(invoked.stdout)

    # What the learner gets: schema-valid, marked as public-half, and no private figure anywhere.
    written = json.loads((run_dir / "result.json").read_text())
    assert written == printed
    jsonschema.validate(written, SCHEMA)
    assert written["verdict"] != "not_graded" and written["leaderboard"] == {"learner": "alice", "test_half": "public"}
    assert not [k for k in keys_anywhere(written) if "private" in k]

    with open_db(db_path, create=False) as db:
        [row] = db.submissions()
    assert (row["learner"], row["challenge"], row["profile"], row["origin"]) == ("alice", "fashion", "tiny", "local")
    assert row["submission_sha256"] == written["submission_sha256"]
    assert row["verdict"] == written["verdict"] and row["public_score"] == written["score"]
    assert row["public_accuracy"] == written["metrics"]["test_accuracy"]
    assert row["gap"] == written["metrics"]["gap"] and row["device"] == written["device"] == "cpu"
    assert row["versions"] == written["versions"] and row["private_score"] is not None
    assert row["public_images"] + row["private_images"] == 512  # the tiny profile's test images
    assert sum(map(sum, written["confusion_matrix"])) == row["public_images"]  # the matrix too is public-only

    # The recorded accuracies are right: re-measure the saved model on each half ourselves.
    from grader.data import load_dataset
    from grader.keras_support.inspect_model import load_model
    from grader.pipeline.model import stratified_take

    test = load_dataset("fashion_mnist", data_dir=data_dir).split("test")
    keep = stratified_take(test.labels, 512)
    images, labels = test.images[keep], test.labels[keep]
    predicted = (
        load_model(run_dir / "model.keras")
        .predict(images.reshape(-1, 28, 28, 1).astype("float32") / 255.0, verbose=0)
        .argmax(axis=1)
    )
    mask = public_test_mask(labels, "fashion")
    assert row["public_accuracy"] == pytest.approx(np.mean(predicted[mask] == labels[mask]), abs=1e-9)
    assert row["private_accuracy"] == pytest.approx(np.mean(predicted[~mask] == labels[~mask]), abs=1e-9)

    # Nothing in the learner's folder (result.json, reports, logs) mentions the private half; if the two
    # halves happen to score differently, the private figure itself appears nowhere in it either.
    for path in run_dir.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".html", ".log", ".txt", ".jsonl"):
            text = path.read_text(errors="replace")
            assert "private_accuracy" not in text and "private_score" not in text, path
            if row["private_accuracy"] != row["public_accuracy"]:
                assert repr(row["private_accuracy"]) not in text, path
    assert "public rank 1 of 1" in invoked.stderr and repr(row["private_accuracy"]) not in invoked.stderr
    # Every test figure the learner reads says which half it is of, and the report names no host folder.
    tiers = [c for c in written["checks"] if c["id"].startswith("accuracy.tier")]
    assert tiers and all("of the public half of the test set" in c["message"] for c in tiers)
    report = (run_dir / "report.html").read_text()
    assert "(public half of the test set)" in report
    assert str(tmp_path) not in report and "fashion.py" in report

    # The host-signed record sits apart from the learner's folder, carries the private half, and verifies.
    [signed_path] = signed_dir.iterdir()
    signed = verify(json.loads(signed_path.read_text()), KEY.encode(), str(signed_path))
    assert signed["submission_id"] == row["submission_id"]
    assert signed["private_accuracy"] == row["private_accuracy"]
    assert signed_path.stat().st_mode & 0o077 == 0  # readable by the host's user only
