"""A run that cannot finish in its time budget is graded on what it finished, and says so."""

from __future__ import annotations

import json

from grader import config
from grader.core.facts import SubmissionFacts
from grader.pipeline import grade
from grader.train import trainer
from grader.train.runner import TrainerOutcome, TrainerProcess
from grader.train.step import JobFolder, collect
from tests.grading import send_job, tiny_model_description, tiny_spec


def test_training_that_cannot_fit_its_budget_stops_itself_and_keeps_its_credit(tmp_path):
    # Far more epochs than 25 s allow on any machine (one tiny epoch takes well under a second), and
    # no callback to stop earlier: cnn's spec has none.
    spec = tiny_spec(tmp_path, "cnn", epochs=100_000, time_budget_s=25, min_accuracy=0.1, max_gap=1.0)
    path = tmp_path / "cnn.py"
    path.write_text((config.SOLUTIONS_DIR / "cnn.py").read_text())
    result = grade(path=path, spec_path=spec, profile="tiny", out_dir=tmp_path / "run")
    training = next(c for c in result.checks if c.id == "training")
    epochs_run = len(result.history["loss"])
    assert 0 < epochs_run < 100_000
    # The trainer's own budget callback should stop it ("stopped early to stay within"); on a loaded
    # machine the parent's deadline can still come first ("was stopped by"). Which one wins depends
    # on wall-clock time, so both are accepted: what must hold is the credit for the last epoch.
    assert (
        "stopped early to stay within the time budget of 25 s" in training.message
        or "was stopped by the time budget of 25 s" in training.message
    ), training.message
    assert f"graded on epoch {epochs_run}" in training.message
    # Evaluated and scored on the last complete epoch: the tier and the gap earn their points.
    assert result.metrics["test_accuracy"] > 0.1
    assert next(c for c in result.checks if c.id == "accuracy.tier1").passed
    assert result.verdict == "passed", [(c.id, c.message) for c in result.checks if not c.passed]


def test_a_trainer_killed_mid_epoch_is_graded_on_its_last_complete_epoch():
    progress = [
        {
            "epoch": 1,
            "epochs": 15,
            "seconds": 140.0,
            "estimated_total_s": 2100.0,
            "loss": 0.69,
            "accuracy": 0.52,
            "val_loss": 0.68,
            "val_accuracy": 0.55,
        },
        {
            "epoch": 2,
            "epochs": 15,
            "seconds": 281.0,
            "estimated_total_s": 2107.5,
            "loss": 0.66,
            "accuracy": 0.60,
            "val_loss": 0.64,
            "val_accuracy": 0.63,
        },
    ]
    facts = SubmissionFacts()
    collect(
        facts, TrainerOutcome(timed_out=True, progress=progress, seconds=300.0), epochs=15, deadline_s=300.0, train=True
    )
    assert facts.failure is None and facts.timed_out
    assert facts.training.epochs_run == 2 and facts.training.killed and facts.training.stopped_for_time
    assert facts.training.history["val_accuracy"] == [0.55, 0.63]


def test_a_trainer_killed_in_its_first_epoch_is_a_timeout():
    facts = SubmissionFacts()
    collect(facts, TrainerOutcome(timed_out=True, seconds=300.0), epochs=15, deadline_s=300.0, train=True)
    assert facts.failure.stage == "timeout" and "after 0 of 15 epochs" in facts.failure.message


def test_the_next_epoch_must_fit_with_the_reserve():
    reserve = trainer.BUDGET_RESERVE * 100
    assert trainer.next_epoch_fits(spent_s=50.0, longest_epoch_s=40.0, budget_s=100.0)
    assert trainer.next_epoch_fits(spent_s=50.0, longest_epoch_s=50.0 - reserve, budget_s=100.0)
    assert not trainer.next_epoch_fits(spent_s=50.0, longest_epoch_s=50.0 - reserve + 0.01, budget_s=100.0)


def test_the_trainer_counts_its_budget_from_the_instant_the_parent_sends():
    # The trainer may still be importing Keras when its job arrives; that wait counts against the
    # budget on both sides, so the parent sends the instant its deadline started. A job whose
    # deadline started 1,000 s ago on a budget of 25 s has no room for a second epoch, however fast
    # this machine is: the trainer stops after the first one, on its own, with that epoch kept.
    import numpy as np

    description = tiny_model_description()
    rng = np.random.default_rng(0)
    arrays = {
        "train_x": rng.random((64, 4), dtype=np.float32),
        "train_y": rng.integers(0, 2, 64),
        "validation_x": rng.random((16, 4), dtype=np.float32),
        "validation_y": rng.integers(0, 2, 16),
    }
    folder = JobFolder()
    process = TrainerProcess.start("cpu")
    try:
        folder.write(
            description=description,
            mode="train",
            seed=1,
            epochs=50,
            batch_size=16,
            stop_metric="accuracy",
            stop_at=None,
            arrays=arrays,
            budget_s=25.0,
        )
        assert send_job(process, trainer.job_request(folder.path, trainer.budget_clock() - 1000.0)) == 0, (
            process.output.text()
        )
        training = json.loads((folder.path / trainer.TRAINING_FILE).read_text())
        assert training["epochs_run"] == 1
        assert training["stopped_for_time"]["after_epoch"] == 1
        assert (folder.path / trainer.TRAINED_MODEL_FILE).is_file()
    finally:
        process.close()
        folder.remove()
