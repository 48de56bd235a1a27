"""Evaluation in the trusted trainer: it predicts, the parent measures, and the parent never imports Keras.

The trainer gets the raw images of every split (no labels) and writes back the saved model's
outputs and the report's journey (grader/train/evaluation.py); the parent turns the outputs
into figures with labels only it holds (grader.measure.evaluate.measure).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from grader import config
from grader.keras_support import backend
from grader.measure.evaluate import canonical_inputs, evaluate, evaluated_images
from grader.pipeline import model as pipeline
from grader.report.visual.journey import journey_steps
from grader.spec import load_spec
from grader.submission.files import TRAINED_MODEL_FILE
from grader.train.evaluation import (
    BACKEND_PROBLEM,
    LOAD_PROBLEM,
    MODEL_PROBLEM,
    EvaluationJob,
    EvaluationOutcome,
    read_outcome,
    run_evaluation,
)
from tests.grading import tiny_spec

keras = backend.import_keras()
SHAPE = (28, 28, 1)


def small_model(convolutions: bool = True) -> keras.Model:
    layers = [keras.layers.Conv2D(3, 3, activation="relu"), keras.layers.MaxPooling2D(2)] if convolutions else []
    model = keras.Sequential(
        [keras.Input(SHAPE), *layers, keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")]
    )
    rng = np.random.default_rng(3)
    model.set_weights([rng.normal(0, 0.3, w.shape).astype("float32") for w in model.get_weights()])
    return model


def evaluated_folder(tmp_path: Path, model: keras.Model | None, images: np.ndarray) -> Path:
    """A job folder as the trainer has it after training: model.keras and the parent's images."""
    folder = tmp_path / "job"
    folder.mkdir()
    if model is not None:
        keras.saving.save_model(model, folder / "model.keras")
    settings = EvaluationJob(images, images[:2], SHAPE, 255.0, 1).write(folder)
    (folder / "settings.json").write_text(json.dumps(settings))
    return folder


def run_in(folder: Path) -> EvaluationOutcome:
    run_evaluation(folder, json.loads((folder / "settings.json").read_text()), "model.keras")
    return read_outcome(folder)


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (40, 28, 28), dtype=np.uint8)


def test_the_trainer_returns_the_saved_models_outputs_and_journey(tmp_path, images):
    model = small_model()
    outcome = run_in(evaluated_folder(tmp_path, model, images))
    assert outcome.problem == ""
    np.testing.assert_allclose(
        outcome.outputs, model.predict(canonical_inputs(images, SHAPE, 255.0), verbose=0), rtol=1e-6, atol=1e-6
    )
    expected = journey_steps(model, images[:2], input_shape=SHAPE, scale=255.0, filter_index=1)
    assert [(s.name, s.type, s.shape) for s in outcome.journey] == [(s.name, s.type, s.shape) for s in expected]
    for got, want in zip(outcome.journey, expected, strict=True):
        np.testing.assert_allclose(got.maps, want.maps, rtol=1e-6, atol=1e-6)


def test_a_model_without_convolutions_is_measured_and_its_journey_says_why_not(tmp_path, images):
    outcome = run_in(evaluated_folder(tmp_path, small_model(convolutions=False), images))
    assert outcome.problem == "" and outcome.outputs.shape == (40, 10)
    assert outcome.journey is None and "no convolution or pooling layers" in outcome.journey_error


def test_a_saved_model_that_cannot_be_loaded_is_a_load_problem(tmp_path, images):
    folder = evaluated_folder(tmp_path, None, images)
    (folder / "model.keras").write_bytes(b"not a zip archive at all")
    outcome = run_in(folder)
    assert outcome.problem == LOAD_PROBLEM and "is not a .keras archive" in outcome.message
    assert outcome.outputs is None


def fashion_run(tmp_path: Path, data_dir: Path) -> pipeline.Run:
    spec = load_spec(tiny_spec(tmp_path, "fashion"))
    run = pipeline.Run(spec, spec.profile("tiny"), tmp_path / "fashion.py", tmp_path, 1, "cpu")
    pipeline.load_data(run, data_dir)
    return run


def test_what_the_trainer_could_not_evaluate_fails_the_grading_with_its_reason(tmp_path, data_dir):
    run = fashion_run(tmp_path, data_dir)
    (tmp_path / TRAINED_MODEL_FILE).write_bytes(b"trained")
    run.evaluated = EvaluationOutcome(problem=MODEL_PROBLEM, message="MemoryError: cannot allocate 80 GiB")
    pipeline.measure_trained_model(run, train=True)
    assert run.facts.failure.stage == "evaluate" and "cannot allocate 80 GiB" in run.facts.failure.message
    assert "make it smaller" in run.facts.failure.hint and run.facts.metrics is None

    run.facts.failure, run.evaluated = None, None  # the trainer died (or ran out of time) while evaluating
    run.trainer = pipeline.TrainerOutcome(timed_out=True)
    pipeline.measure_trained_model(run, train=True)
    assert f"took longer than {config.EVALUATE_BUDGET_S} s" in run.facts.failure.message

    run.facts.failure, run.evaluated = None, EvaluationOutcome(problem=LOAD_PROBLEM, message="config.json is too large")
    pipeline.measure_trained_model(run, train=True)
    assert (
        run.facts.failure.stage == "load"
        and "cannot be loaded again: config.json is too large" in run.facts.failure.message
    )


class XlaRuntimeError(RuntimeError):
    """Stands in for jaxlib's error type: the grader must judge it by what it says, not import it."""


@pytest.mark.parametrize(
    "error, problem",
    [
        (XlaRuntimeError("NOT_FOUND: Failed to get configs for: 3 out of 15 instructions."), BACKEND_PROBLEM),
        (RuntimeError("CUDA error: an illegal memory access was encountered"), BACKEND_PROBLEM),
        (MemoryError(), MODEL_PROBLEM),
        (XlaRuntimeError("RESOURCE_EXHAUSTED: Out of memory while trying to allocate 80 GiB"), MODEL_PROBLEM),
        (RuntimeError("CUDA out of memory. Tried to allocate 80.00 GiB"), MODEL_PROBLEM),
        # A model's own mistake stays the model's (an input fixed to the training batch size, say).
        (
            ValueError("Input 0 of layer 'conv2d' is incompatible with the layer: expected shape=(20, 28, 28, 1)"),
            MODEL_PROBLEM,
        ),
    ],
)
def test_a_failed_prediction_is_the_hosts_only_when_the_backend_or_device_failed(
    tmp_path, images, monkeypatch, error, problem
):
    # Only the backend's runtime or the device failing is the host's (the XLA autotuner failure
    # was seen on a shared H200); running out of memory or a model's own error is the model's.
    import grader.measure.evaluate

    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(grader.measure.evaluate, "predict_outputs", fail)
    outcome = run_in(evaluated_folder(tmp_path, small_model(), images))
    assert outcome.problem == problem and outcome.outputs is None


def test_a_backend_failure_is_evaluated_again_by_a_fresh_trainer_and_is_never_blamed_on_the_learner(tmp_path, data_dir):
    from grader.core.events import Events
    from grader.submission.files import NotGraded

    run = fashion_run(tmp_path, data_dir)
    keras.saving.save_model(small_model(), tmp_path / TRAINED_MODEL_FILE)
    run.evaluated = EvaluationOutcome(
        problem=BACKEND_PROBLEM, message="XlaRuntimeError: NOT_FOUND: Failed to get configs"
    )
    stages = []
    pipeline.evaluate_again_where_needed(run, Events(on_stage=stages.append))
    assert stages == ["evaluate"] and run.evaluated is not None and run.evaluated.problem == ""
    assert run.evaluated.outputs.shape == (len(evaluated_images(pipeline.evaluation_splits(run))), 10)

    run.evaluated = EvaluationOutcome(
        problem=BACKEND_PROBLEM, message="XlaRuntimeError: NOT_FOUND: Failed to get configs"
    )
    with pytest.raises(NotGraded, match="not the submission") as raised:
        pipeline.measure_trained_model(run, train=True)
    assert "Failed to get configs" in str(raised.value) and "grade again" in str(raised.value).lower()
    assert run.facts.failure is None and run.facts.metrics is None


def test_a_checkpoint_is_evaluated_by_a_fresh_trainer(tmp_path, data_dir):
    """A run killed mid-epoch: its trainer is gone, so a new one evaluates the last complete epoch."""
    run = fashion_run(tmp_path, data_dir)
    model = small_model()
    keras.saving.save_model(model, tmp_path / TRAINED_MODEL_FILE)
    outcome = pipeline.evaluate_checkpoint(run)
    splits = pipeline.evaluation_splits(run)
    assert outcome is not None and outcome.problem == ""
    np.testing.assert_allclose(
        outcome.outputs,
        model.predict(canonical_inputs(evaluated_images(splits), SHAPE, 255.0), verbose=0),
        rtol=1e-5,
        atol=1e-6,
    )
    assert len(outcome.journey) == 2


PARENT = """
import json, sys
from pathlib import Path
from grader.pipeline import grade
result = grade(path=Path(sys.argv[1]), spec_path=Path(sys.argv[2]), profile="tiny", out_dir=Path(sys.argv[3]))
print(json.dumps({"imported": sorted(m for m in ("keras", "tensorflow", "jax", "torch") if m in sys.modules),
                  "metrics": result.metrics, "verdict": result.verdict, "failure": result.failure}))
"""


def test_a_submit_is_measured_without_keras_in_the_parent_and_as_a_direct_evaluation_would(tmp_path, data_dir):
    spec_path = tiny_spec(tmp_path, "fashion")
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-c", PARENT, str(config.SOLUTIONS_DIR / "fashion.py"), str(spec_path), str(out)],
        capture_output=True,
        text=True,
        cwd=config.REPO_ROOT,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    graded = json.loads(done.stdout.strip().splitlines()[-1])
    assert graded["imported"] == [] and graded["failure"] is None
    # The figures are those of the saved model evaluated here directly, on the same splits.
    run = fashion_run(tmp_path, data_dir)
    direct = evaluate(
        keras.saving.load_model(out / TRAINED_MODEL_FILE),
        splits=pipeline.evaluation_splits(run),
        input_shape=SHAPE,
        scale=255.0,
        task=run.spec.task,
        num_classes=10,
    )
    assert graded["metrics"]["test_accuracy"] == direct.metrics.test_accuracy
    assert graded["metrics"]["train_accuracy"] == direct.metrics.train_accuracy
    assert graded["metrics"]["validation_accuracy"] == direct.metrics.validation_accuracy
    report = (out / "report.html").read_text()
    assert 'id="journey"' in report and "Could not draw" not in report


GPU_PARENT = """
import json, sys
from pathlib import Path
from grader.pipeline import grade
result = grade(path=Path(sys.argv[1]), spec_path=Path(sys.argv[2]), profile="tiny", out_dir=Path(sys.argv[3]),
               device="gpu")
print(json.dumps({"imported": sorted(m for m in ("keras", "tensorflow", "jax", "torch") if m in sys.modules),
                  "verdict": result.verdict, "error": result.error}))
"""


@pytest.mark.skipif(bool(backend.gpu_names()), reason="this machine has a GPU: --device gpu would train")
def test_asking_for_a_gpu_where_there_is_none_is_not_graded_and_the_parent_imports_no_backend(tmp_path):
    # The parent forks the child and the trainer: a backend imported there to look for GPUs
    # would be running its threads at those forks (JAX warned of deadlocks on every grading).
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            GPU_PARENT,
            str(config.SOLUTIONS_DIR / "fashion.py"),
            str(tiny_spec(tmp_path, "fashion")),
            str(tmp_path / "run"),
        ],
        capture_output=True,
        text=True,
        cwd=config.REPO_ROOT,
        timeout=300,
    )
    graded = json.loads(done.stdout.strip().splitlines()[-1])
    assert graded["imported"] == [] and graded["verdict"] == "not_graded"
    assert "--device gpu, but the" in graded["error"] and "sees no GPU" in graded["error"]


def test_a_batch_worker_asks_for_gpus_once_they_are_seen_and_again_while_none_are(monkeypatch):
    answers = [[], ["NVIDIA H200"]]
    asked = []

    def ask(timeout_s):
        asked.append(timeout_s)
        return answers[min(len(asked), len(answers)) - 1]

    monkeypatch.setattr(backend, "_ask_a_fresh_process_for_gpus", ask)
    monkeypatch.setattr(backend, "_GPUS_SEEN", {})
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    assert backend.gpu_names_from_a_fresh_process() == []  # a probe that found none is not remembered
    assert backend.gpu_names_from_a_fresh_process() == ["NVIDIA H200"]
    assert backend.gpu_names_from_a_fresh_process() == ["NVIDIA H200"] and len(asked) == 2
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4")  # another GPU for the next task: asked again
    backend.gpu_names_from_a_fresh_process()
    assert len(asked) == 3
