"""The train step of the pipeline: a private job folder for the trusted trainer, and its facts.

The job folder is the grader's own (0700, never mounted into a sandbox). It gets the
validated model description, the learner's preprocessed arrays (already read back and
checked) and the grader's training labels, and the raw images to evaluate on (no labels); the
trainer writes the trained model there, and its outputs on those images, which the parent
then measures.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

from grader.core.facts import Failure, ModelFacts, SubmissionFacts, TrainingFacts
from grader.submission.files import NotGraded
from grader.train import trainer as files
from grader.train.evaluation import EvaluationJob
from grader.train.modelconfig import ModelDescription
from grader.train.precision import FLOAT32
from grader.train.runner import TrainerOutcome


class JobFolder:
    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="grader-train-"))  # 0700

    def write(
        self,
        *,
        description: ModelDescription,
        mode: str,
        seed: int,
        epochs: int,
        batch_size: int,
        stop_metric: str,
        stop_at: float | None,
        arrays: dict[str, np.ndarray] | None = None,
        budget_s: float | None = None,
        evaluation: EvaluationJob | None = None,
        precision: str = FLOAT32,
        max_params: int | None = None,
        max_activations: int | None = None,
        rehearsal: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        """A job to build, or to train and then evaluate on `evaluation`'s images; the trainer refuses
        a model over `max_params` parameters or with a layer over `max_activations` values per image.
        `rehearsal` (images as the model eats them, labels): a check's rehearsal of the submit
        (grader/train/rehearsal.py)."""
        (self.path / files.MODEL_FILE).write_text(
            json.dumps({"config": description.config, "compile": description.compile})
        )
        self._write_job(
            {
                "mode": mode,
                "seed": seed,
                "epochs": epochs,
                "batch_size": batch_size,
                "stop_metric": stop_metric,
                "stop_at": stop_at,
                "budget_s": budget_s,
                "precision": precision,
                "max_params": max_params,
                "max_activations": max_activations,
                "evaluate": evaluation.write(self.path) if evaluation is not None else None,
                "rehearse": rehearsal is not None,
            }
        )
        if rehearsal is not None:
            arrays = {**(arrays or {}), "rehearsal_x": rehearsal[0], "rehearsal_y": rehearsal[1]}
        for name, array in (arrays or {}).items():
            np.save(self.path / f"{name}.npy", array, allow_pickle=False)

    def write_evaluation(self, model: Path, evaluation: EvaluationJob) -> None:
        """A job that only evaluates `model`, a .keras file trained earlier."""
        shutil.copyfile(model, self.trained_model)
        self._write_job({"mode": "evaluate", "evaluate": evaluation.write(self.path)})

    def _write_job(self, job: dict) -> None:
        (self.path / files.JOB_FILE).write_text(json.dumps(job))

    @property
    def trained_model(self) -> Path:
        return self.path / files.TRAINED_MODEL_FILE

    @property
    def checkpoint(self) -> Path:
        return self.path / files.CHECKPOINT_FILE

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def collect(facts: SubmissionFacts, outcome: TrainerOutcome, *, epochs: int, deadline_s: float, train: bool) -> None:
    """The trainer's facts (trusted: no learner code ran there) into the submission's facts.

    Raises NotGraded where the trainer failed on its own (its job unreadable, or its code raised
    what no model causes): that is the grader's problem, not a failed submission."""
    if outcome.returncode == files.EXIT_UNREADABLE_JOB:
        raise NotGraded(
            "the grader's trainer could not read its job (was the grader upgraded during this grading?): grade again"
        )
    if outcome.failure is not None and outcome.failure.get("stage") == files.GRADER_FAULT_STAGE:
        raise NotGraded(
            f"the grader's trainer failed, not the submission: {outcome.failure.get('message')}; "
            f"grade again, and report it if it happens again"
        )
    if outcome.facts is not None:
        facts.model = ModelFacts.from_dict(outcome.facts)
    if outcome.training is not None:
        t = outcome.training
        stop = t.get("stopped_for_time")
        facts.training = TrainingFacts(
            epochs_run=int(t["epochs_run"]),
            epochs_allowed=epochs,
            history=t["history"],
            seconds=float(t["seconds"]),
            nan_loss=bool(t["nan_loss"]),
            stopped_for_time=isinstance(stop, dict),
            budget_s=deadline_s,
        )
        facts.seconds["train"] = round(float(t["seconds"]), 3)
    elif outcome.timed_out and outcome.failure is None and outcome.progress and train:
        # Killed at the deadline in the middle of an epoch: the epochs before it count, graded on
        # the checkpoint saved after the last of them (the pipeline evaluates that one).
        lines = outcome.progress
        keys = [k for k in lines[0] if k not in ("epoch", "epochs", "seconds", "estimated_total_s")]
        history = {k: [float(line[k]) for line in lines if isinstance(line.get(k), (int, float))] for k in keys}
        facts.training = TrainingFacts(
            epochs_run=len(lines),
            epochs_allowed=epochs,
            history=history,
            seconds=float(lines[-1].get("seconds", 0.0)),
            stopped_for_time=True,
            budget_s=deadline_s,
            killed=True,
        )
        facts.timed_out = True
        facts.seconds["train"] = round(outcome.seconds, 3)
        return
    if outcome.failure is not None:
        f = outcome.failure
        failure = Failure(f["stage"], f["message"], f.get("hint", ""), f.get("detail", ""))
        facts.stage_failures.setdefault(failure.stage, failure)
        facts.failure = facts.failure or failure
    elif outcome.timed_out and facts.failure is None and outcome.training is None:
        facts.timed_out = True
        facts.failure = Failure(
            "timeout",
            f"stopped at the time budget of {deadline_s:.0f} s after {len(outcome.progress)} of {epochs} epochs",
            "make training cheaper: fewer or smaller layers, or pool earlier",
        )
    elif facts.failure is None and (outcome.facts is None or (train and outcome.training is None)):
        facts.failure = Failure(
            "crash",
            f"training stopped unexpectedly (exit code {outcome.returncode})",
            "the model may need more memory than allowed: make it smaller",
            outcome.output[-2000:],
        )
    if facts.training is not None and facts.training.nan_loss and facts.failure is None:
        facts.failure = Failure(
            "train",
            f"the loss became NaN in epoch {facts.training.epochs_run}",
            "lower the learning rate, and check that preprocess() scales images to [0, 1]",
        )
