"""The describe step: the sandboxed child runs the learner's functions; the parent keeps facts.

    box = prepare_box(...)          inputs: the submission, probe/training/validation images
    child = run_child(...)          grader/describe/sandbox/child.py, isolated
    collect(...)                    facts computed here, from raw answers only

Nothing the child says about itself earns a point: the parent compares preprocess()'s output
with the canonical preprocessing itself, reads the callbacks' raw stop/no-stop answers, and
validates the model's config as data. The child never gets the test split.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from grader.checks.keras2 import migration_hint
from grader.checks.submission import ProbePlan, callback_probe_from, loss_name
from grader.core.facts import Failure, PreprocessFacts, SubmissionFacts
from grader.core.text import clean
from grader.describe.sandbox.box import Box, BoxFileError, read_array
from grader.describe.sandbox.child import MAX_CALLBACK_NAMES, PREPROCESSED_FILES
from grader.describe.sandbox.runner import ChildRun
from grader.train.modelconfig import ConfigRejected, ModelDescription, validate

PROBE_IMAGES = 32  # training images preprocess() is checked on
SUBMISSION_NAME = "submission.py"


@dataclass
class Described:
    """What the describe step leaves for training: validated, or None where a stage failed."""

    model: ModelDescription | None = None
    preprocessed: dict[str, np.ndarray] | None = None  # "train"/"validation" -> the learner's arrays
    probe: np.ndarray | None = None  # preprocess() of the probe images, where usable (the check's rehearsal)


def output_mismatch(output_shape: Any, task: str, num_classes: int, compile_config: Any = None) -> Failure | None:
    """A model whose output does not fit the task cannot be trained meaningfully on any backend
    (TensorFlow and PyTorch fail, JAX silently trains nonsense): say so before training.

    A yes/no task takes one sigmoid output, or two softmax outputs trained with sparse
    categorical cross-entropy on the labels 0 and 1 (the same computation: normal_form.py)."""
    want = 1 if task == "binary" else num_classes
    if not isinstance(output_shape, list) or not all(isinstance(d, int) or d is None for d in output_shape):
        return None  # not described: the architecture checks report the layers
    if output_shape == [want]:
        return None
    if task == "binary" and output_shape == [2] and _loss_of(compile_config) == "sparse_categorical_crossentropy":
        return None
    got = "x".join("?" if d is None else str(d) for d in output_shape) or "a scalar"
    layer = "Dense(1, activation='sigmoid')" if task == "binary" else f"Dense({num_classes}, activation='softmax')"
    what = "one probability (a yes/no task)" if task == "binary" else f"one probability per class ({num_classes})"
    numbers = "number" if got == "1" else "numbers"
    return Failure(
        "build_model",
        f"the model outputs {got} {numbers} per image, but this task needs {what}",
        f"end the model with {layer}; nothing was trained",
    )


def _loss_of(compile_config: Any) -> str | None:
    """The loss of a validated compile config by its snake_case name ("SparseCategoricalCrossentropy" too)."""
    loss = compile_config.get("loss") if isinstance(compile_config, dict) else None
    if isinstance(loss, dict):
        loss = loss.get("class_name")
    return loss_name(loss) if isinstance(loss, str) else None


def prepare_box(box: Box, source: str, images: dict[str, np.ndarray]) -> None:
    box.add_input(SUBMISSION_NAME, source)
    for split, array in images.items():
        box.add_array(f"{split}_images.npy", array)


def job(
    *,
    mode: str,
    submission: str,
    seed: int,
    input_shape: tuple[int, ...],
    scale: float,
    target_accuracy: float,
    probe: tuple[ProbePlan, ...] | None,
) -> dict[str, Any]:
    """The child's job; `probe` is the callback probe's plans (None: the challenge has no callback check)."""
    return {
        "mode": mode,
        "submission": submission,
        "seed": seed,
        "input_shape": list(input_shape),
        "input_scale": scale,
        "target_accuracy": target_accuracy,
        "callback_probe": [{"target": plan.target, "logs": list(plan.logs)} for plan in probe]
        if probe is not None
        else None,
    }


def preprocess_facts(
    out: np.ndarray, images: np.ndarray, input_shape: tuple[int, ...], scale: float
) -> PreprocessFacts:
    """preprocess()'s output for the probe images against images / scale, reshaped."""
    canonical = images.astype("float32").reshape((-1, *input_shape)) / scale
    finite = bool(np.all(np.isfinite(out)))
    diff = None
    if finite and out.shape == canonical.shape:
        diff = float(np.max(np.abs(out.astype("float64") - canonical)))
    return PreprocessFacts(
        shape=tuple(int(n) for n in out.shape),
        dtype=str(out.dtype),
        min=float(out.min()) if finite else math.nan,
        max=float(out.max()) if finite else math.nan,
        max_abs_diff=diff,
        factor=preparation_factor(out, images, scale) if finite else None,
    )


def preparation_factor(out: np.ndarray, images: np.ndarray, scale: float) -> float | None:
    """c where `out` is `images` / scale * c, number for number in the same order (any shape);
    None where preprocess() did something else (standardised, cropped, another order)."""
    if out.size != images.size or out.dtype.kind != "f" or len(out) != len(images):
        return None
    canonical = images.astype("float64").reshape(len(images), -1) / scale
    mine = out.astype("float64").reshape(len(out), -1)
    peak = float(canonical.max()) if canonical.size else 0.0
    if peak <= 0:
        return None
    factor = float(mine.max()) / peak
    if not math.isfinite(factor) or factor <= 0:
        return None
    # float32 keeps about 7 digits: the learner's division rounds where ours does not.
    return factor if np.allclose(mine, canonical * factor, rtol=1e-5, atol=1e-7 * factor) else None


@dataclass(frozen=True)
class Preparation:
    """How the trained model's own inputs were made: the raw images reshaped to `shape` and
    divided by `scale`. The grader prepares the test images the same way, so a model is measured
    on what it was trained on (a preprocess() that rescales or reshapes costs its own row only)."""

    shape: tuple[int, ...]
    scale: float


def reproduced_preparation(
    arrays: dict[str, np.ndarray], images: dict[str, np.ndarray], scale: float
) -> Preparation | None:
    """The Preparation of `arrays` (preprocess() of `images`, split by split) where every split is
    the same reshape and one factor of the raw images; None where it is not (then the test
    images are prepared as the contract says, images / scale)."""
    factors = [preparation_factor(arrays[split], images[split], scale) for split in arrays]
    measured = [f for f in factors if f is not None]
    if not factors or len(measured) < len(factors) or max(measured) > min(measured) * (1 + 1e-5):
        return None
    shapes = {tuple(arrays[split].shape[1:]) for split in arrays}
    if len(shapes) != 1:
        return None
    return Preparation(shapes.pop(), scale / measured[0])


def _max_bytes(rows: int, input_shape: tuple[int, ...]) -> int:
    """As much as float64 images of the input shape take, and a little for the header."""
    return rows * int(np.prod(input_shape)) * 8 + 4096


def _failure(doc: dict[str, Any], key: str = "failure") -> Failure | None:
    f = doc.get(key)
    if not isinstance(f, dict):
        return None
    message, detail = clean(f.get("message"), 2000), clean(f.get("detail"), 4000)
    # Keras 2 code fails with messages that do not name the cause: the known ones get their fix.
    hint = migration_hint(message) or migration_hint(detail) or clean(f.get("hint"), 1000)
    return Failure(clean(f.get("stage"), 40) or "crash", message, hint, detail)


# Durations the parent measures itself (pipeline.py and the training step); a child's stage never replaces one.
PARENT_DURATIONS = frozenset({"data", "child", "trainer", "train", "evaluate", "report", "total"})


def collect(
    facts: SubmissionFacts,
    child: ChildRun,
    box: Box,
    *,
    images: dict[str, np.ndarray],
    input_shape: tuple[int, ...],
    scale: float,
    budget_s: float,
    train: bool,
    task: str = "multiclass",
    num_classes: int = 10,
    probe: tuple[ProbePlan, ...] = (),
) -> Described:
    """Facts from the child's raw answers; what to train on, validated."""
    doc = child.result
    described = Described()
    stages = doc.get("stages")
    if isinstance(stages, dict):
        # The child's stage times are its own claims: kept only when plausible, and never under a name that the
        # parent measures itself.
        facts.seconds.update(
            {
                clean(k, 40): float(v)
                for k, v in stages.items()
                if clean(k, 40) not in PARENT_DURATIONS
                and isinstance(v, (int, float))
                and not isinstance(v, bool)
                and 0 <= v < 1e9
            }
        )
    failures = doc.get("stage_failures")
    if isinstance(failures, dict):
        for stage in failures:
            if (failure := _failure(failures, stage)) is not None:
                facts.stage_failures[clean(stage, 40)] = failure
    facts.failure = _failure(doc)

    # preprocess(): the parent reads the arrays and measures them itself.
    if isinstance(doc.get("preprocessed"), dict) and "preprocess" not in facts.stage_failures:
        try:
            arrays = {
                split: read_array(
                    box.work,
                    PREPROCESSED_FILES[split],
                    rows=len(images[split]),
                    max_bytes=_max_bytes(len(images[split]), input_shape),
                )
                for split in (("probe", "train", "validation") if train else ("probe",))
            }
            facts.preprocess = preprocess_facts(arrays["probe"], images["probe"], input_shape, scale)
            if not all(np.all(np.isfinite(a)) for a in arrays.values()):
                raise BoxFileError("preprocess() returned NaN or infinite values")
            described.probe = arrays["probe"]
            if train:
                described.preprocessed = {"train": arrays["train"], "validation": arrays["validation"]}
        except BoxFileError as err:
            _stage_failed(
                facts,
                Failure(
                    "preprocess",
                    f"preprocess() output unusable: {clean(err, 300)}",
                    "return one float32 array row per image, the images reshaped and scaled",
                ),
            )

    # Callbacks: only whether they stopped, per epoch of the logs we chose; the accuracies are ours.
    callbacks = doc.get("callbacks")
    if isinstance(callbacks, dict):
        facts.callbacks = callback_probe_from(callbacks, probe, max_names=MAX_CALLBACK_NAMES)

    # The model: data to validate, never code.
    if isinstance(doc.get("model"), dict) and "build_model" not in facts.stage_failures:
        try:
            described.model = validate(doc["model"])
        except ConfigRejected as err:
            _stage_failed(facts, Failure("build_model", clean(err.message, 600), err.hint))
        else:
            if (
                wrong := output_mismatch(doc["model"].get("output_shape"), task, num_classes, described.model.compile)
            ) is not None:
                _stage_failed(facts, wrong)

    if facts.failure is None:
        facts.failure = _run_failure(child, doc, budget_s)
    return described


def _stage_failed(facts: SubmissionFacts, failure: Failure) -> None:
    facts.stage_failures[failure.stage] = failure
    if facts.failure is None:
        facts.failure = failure


# The sandboxed child calls the learner's functions in this order (grader/describe/sandbox/child.py).
CALLS_IN_ORDER = (
    ("preprocess", "preprocess()"),
    ("build_model", "build_model()"),
    ("callbacks", "make_callbacks() or one of its callbacks"),
)


def _run_failure(child: ChildRun, doc: dict[str, Any], budget_s: float) -> Failure | None:
    if child.exceeded == "disk":
        return Failure(
            "crash",
            "the submission wrote more to disk than allowed and was stopped",
            "do not write files: the grader needs only what your functions return",
        )
    if child.timed_out and child.unreadable:
        # Without the child's record of its stages the grader cannot say what was running, so it blames nothing.
        return Failure(
            "timeout",
            f"stopped at the time budget of {budget_s:.0f} s",
            "make sure nothing in your file waits or loops forever: keep only imports and definitions "
            "at the top level, and let build_model() build and compile, not train",
        )
    if child.timed_out:
        done = {
            stage for key in ("stages", "stage_failures") if isinstance(doc.get(key), dict) for stage in doc[key]
        }  # the stages that finished, well or not
        if "keras" in done and "import" not in done:
            return Failure(
                "timeout",
                f"your file was still running its top-level code after {budget_s:.0f} s "
                f"(the grader only imports it, then calls its functions)",
                'move training and anything slow under `if __name__ == "__main__":`; at the top '
                "level keep only imports and definitions",
            )
        if "import" not in done:
            return Failure(
                "timeout",
                f"stopped at the time budget of {budget_s:.0f} s while the grader was still "
                f"starting (importing Keras), before your file ran",
                "nothing in your file caused this: the machine was too busy; grade again",
            )
        running = next((call for stage, call in CALLS_IN_ORDER if stage not in done), None)
        if running is None:
            return Failure(
                "timeout",
                f"stopped at the time budget of {budget_s:.0f} s after your functions had returned",
                "your functions had all returned, so either something they started kept running (a "
                "thread, or a replaced sys.stdout) or the machine was too busy: remove threads and "
                "stream changes, then grade again",
            )
        if running.startswith("make_callbacks"):
            hint = (
                "make_callbacks() should only create the callbacks, and on_epoch_end only read the logs and "
                "set self.model.stop_training; nothing in them should wait or loop"
            )
        else:
            hint = (
                "make sure nothing in your functions waits or loops forever; build_model() should only build "
                "and compile, not train"
            )
        return Failure("timeout", f"stopped at the time budget of {budget_s:.0f} s while {running} was running", hint)
    if "seconds" not in doc:
        last = (
            next(reversed(doc["stages"]), "start") if isinstance(doc.get("stages"), dict) and doc["stages"] else "start"
        )
        return Failure(
            "crash",
            f"the submission's process ended early (exit code {child.returncode}) after the {clean(last, 40)} stage",
            "remove os._exit()/os.kill() and anything that ends the process, and keep memory use "
            "modest; the output below may show why",
            clean(child.output[-2000:], 2000),
        )
    return None
