"""Evaluation in the trusted trainer: the trained model's raw outputs, and the report's journey.

The trainer has Keras imported and the model just trained. Evaluating there spares the parent
its own Keras import and a second load of the model: seconds of CPU on the same cores that
train, and the parent, which holds the grader's secrets, never runs Keras on a model at all.

The trainer runs no learner code, and it sees no label. It gets the raw images of every split,
in the order grader/measure/evaluate.py `evaluated_images` puts them, and writes back the model's outputs;
the parent turns those into figures (`grader.measure.evaluate.measure`). In a job folder:

    eval_images.npy       in: the raw images of every split evaluated
    journey_images.npy    in: the few test images whose journey the report draws
    eval_outputs.npy      out: the model's outputs, one row per image
    journey_NN.npy        out: the chosen filter's output of each followed layer, per journey image
    evaluation.json       out: seconds, and the journey's layers or why there is none; or why the
                          model could not be loaded or evaluated

The model evaluated is the saved one (model.keras), loaded back through the same checks as any
.keras file (grader/keras_support/modelfile.py): a model that does not survive saving earns nothing.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

EVAL_IMAGES_FILE = "eval_images.npy"
JOURNEY_IMAGES_FILE = "journey_images.npy"
OUTPUTS_FILE = "eval_outputs.npy"
EVALUATION_FILE = "evaluation.json"


def _journey_file(index: int) -> str:
    return f"journey_{index:02d}.npy"


def write_json(path: Path, doc: Any) -> None:
    """Write `doc` whole or not at all: the parent never reads half a file."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc))
    os.replace(tmp, path)


# --------------------------------------------------------------------------- the parent's side


@dataclass(frozen=True)
class EvaluationJob:
    """What the parent asks the trainer to evaluate (no labels)."""

    images: np.ndarray  # raw images of every split, in the order of evaluated_images()
    journey_images: np.ndarray  # raw test images, for the report's journey
    input_shape: tuple[int, ...]
    scale: float
    filter_index: int

    def write(self, folder: Path) -> dict[str, Any]:
        """The arrays into the job folder; returns the job.json entry."""
        np.save(folder / EVAL_IMAGES_FILE, self.images, allow_pickle=False)
        np.save(folder / JOURNEY_IMAGES_FILE, self.journey_images, allow_pickle=False)
        return {"input_shape": list(self.input_shape), "scale": self.scale, "filter_index": self.filter_index}


# Why an evaluation gave no outputs, and so whose fault it is:
LOAD_PROBLEM = "load"  # the saved model cannot be loaded again (the learner's)
MODEL_PROBLEM = "evaluate"  # predicting failed because of the model, out of memory say (the learner's)
BACKEND_PROBLEM = "backend"  # the backend's runtime or the device failed (the host's)


@dataclass(frozen=True)
class EvaluationOutcome:
    """What came back. `problem` set: no outputs; `journey` None: `journey_error` says why."""

    outputs: np.ndarray | None = None
    journey: tuple[Any, ...] | None = None  # grader.report.visual.journey.JourneyStep, one per followed layer
    journey_error: str = ""
    problem: str = ""  # LOAD_PROBLEM, MODEL_PROBLEM or BACKEND_PROBLEM (below); "" when it worked
    message: str = ""
    seconds: float = 0.0


def read_outcome(folder: Path) -> EvaluationOutcome | None:
    """The trainer's evaluation, or None when it wrote none (it died or ran out of time)."""
    from grader.report.visual.journey import JourneyStep

    try:
        doc = json.loads((folder / EVALUATION_FILE).read_text())
    except (OSError, ValueError):
        return None
    if doc.get("problem"):
        return EvaluationOutcome(problem=str(doc["problem"]), message=str(doc.get("message", "")))
    try:
        outputs = np.load(folder / OUTPUTS_FILE, allow_pickle=False)
        journey = None
        if doc.get("journey") is not None:
            journey = tuple(
                JourneyStep(
                    layer["name"],
                    layer["type"],
                    tuple(layer["shape"]),
                    np.load(folder / _journey_file(i), allow_pickle=False),
                )
                for i, layer in enumerate(doc["journey"])
            )
    except (OSError, ValueError, KeyError) as err:
        return EvaluationOutcome(problem=MODEL_PROBLEM, message=f"its outputs could not be read back ({err})")
    return EvaluationOutcome(outputs, journey, str(doc.get("journey_error", "")), seconds=float(doc["seconds"]))


# --------------------------------------------------------------------------- the trainer's side

# How each backend says it ran out of memory (TensorFlow's ResourceExhaustedError, XLA's
# RESOURCE_EXHAUSTED status under JAX, PyTorch's "CUDA out of memory"), besides MemoryError.
_OUT_OF_MEMORY_WORDS = ("resource_exhausted", "resourceexhausted", "out of memory", "outofmemory")
# How a backend's runtime or the device says that it failed: the error types of XLA's runtime
# (JAX), TensorFlow's internal errors and PyTorch's accelerator errors, and the words of CUDA's
# libraries. A model's own mistakes (a shape that does not fit) are ValueErrors and the like.
_BACKEND_ERROR_TYPES = frozenset(
    {"XlaRuntimeError", "JaxRuntimeError", "InternalError", "UnknownError", "AcceleratorError"}
)
_BACKEND_WORDS = ("cuda error", "cudnn", "cublas", "autotun", "failed to get configs")


def prediction_problem(exc: BaseException) -> str:
    """Whose fault a failed prediction is: MODEL_PROBLEM (the learner's) or BACKEND_PROBLEM (the host's).

    The model predicting here was validated, built and trained in this same process, and its
    validation pass ran after every epoch. Running out of memory stays the model's (it may be too
    large for the evaluation batches); a failure of the backend's runtime or of the device is
    the host's, for instance XLA's GPU autotuner ("NOT_FOUND: Failed to get configs"), seen when
    ten gradings shared one H200: a learner must not be told to shrink a correct model for it.
    """
    text = f"{type(exc).__name__}: {exc}".lower()
    if isinstance(exc, MemoryError) or any(word in text for word in _OUT_OF_MEMORY_WORDS):
        return MODEL_PROBLEM
    if type(exc).__name__ in _BACKEND_ERROR_TYPES or any(word in text for word in _BACKEND_WORDS):
        return BACKEND_PROBLEM
    return MODEL_PROBLEM


def run_evaluation(folder: Path, settings: dict[str, Any], model_file: str) -> None:
    """Evaluate the model saved in `folder` on the images the parent left there."""
    from grader.core.text import keras_cause
    from grader.keras_support.modelfile import ModelFileError, load_checked
    from grader.measure.evaluate import predict_outputs
    from grader.report.visual.journey import journey_steps

    started = time.perf_counter()
    shape, scale = tuple(settings["input_shape"]), float(settings["scale"])
    try:
        model = load_checked(folder / model_file)
    except ModelFileError as err:
        write_json(folder / EVALUATION_FILE, {"problem": LOAD_PROBLEM, "message": str(err)})
        return
    try:
        images = np.load(folder / EVAL_IMAGES_FILE, mmap_mode="r", allow_pickle=False)
        np.save(folder / OUTPUTS_FILE, predict_outputs(model, images, shape, scale), allow_pickle=False)
    except Exception as exc:  # MemoryError included: the model is too large to evaluate here
        write_json(folder / EVALUATION_FILE, {"problem": prediction_problem(exc), "message": keras_cause(exc)})
        return
    doc: dict[str, Any] = {}
    try:
        steps = journey_steps(
            model,
            np.load(folder / JOURNEY_IMAGES_FILE, allow_pickle=False),
            input_shape=shape,
            scale=scale,
            filter_index=int(settings["filter_index"]),
        )
        for index, step in enumerate(steps):
            np.save(folder / _journey_file(index), step.maps, allow_pickle=False)
        doc["journey"] = [{"name": s.name, "type": s.type, "shape": list(s.shape)} for s in steps]
    except Exception as err:  # the report says why in the figure's place; the grade is not touched
        doc["journey_error"] = f"{type(err).__name__}: {err}"
    doc["seconds"] = round(time.perf_counter() - started, 3)
    write_json(folder / EVALUATION_FILE, doc)
