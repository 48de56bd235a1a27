"""Checks of what the learner's functions return: preprocess, compile, augmentation, callbacks.

Pure functions of (spec, facts).
"""

from __future__ import annotations

import math
import random
import re
import secrets
from dataclasses import dataclass
from typing import Any

import numpy as np

from grader.checks.architecture import shape_text
from grader.checks.keras2 import migration_hint
from grader.checks.normal_form import is_two_unit_softmax, normal_form
from grader.checks.result import CheckResult, failed, passed
from grader.core.facts import CallbackProbe, ModelFacts, PreprocessFacts, TrainingFacts
from grader.core.text import clean
from grader.spec import AugmentationSpec, CallbackSpec, CompileSpec
from grader.train.modelconfig import ACCURACY_METRICS

# What the augmentation hint suggests, in order: each keeps a photo of a cat a photo of a cat.
SUGGESTED_AUGMENTATION = (
    "RandomFlip('horizontal')",
    "RandomRotation(0.1)",
    "RandomZoom(0.2)",
    "RandomTranslation(0.2, 0.2)",
    "RandomContrast(0.2)",
)

# Keras' optimizer classes by their lower-case names (the spec's spelling).
OPTIMIZER_CLASSES = {
    "adam": "Adam",
    "adamw": "AdamW",
    "sgd": "SGD",
    "rmsprop": "RMSprop",
    "adagrad": "Adagrad",
    "adadelta": "Adadelta",
    "adamax": "Adamax",
    "nadam": "Nadam",
    "ftrl": "Ftrl",
    "lion": "Lion",
}

# preprocess() may differ from images / 255 by float rounding, nothing more.
PREPROCESS_TOLERANCE = 1e-3


def check_preprocess(
    points: float, input_shape: tuple[int, ...], scale: float, facts: PreprocessFacts, moved: tuple[str, ...] = ()
) -> CheckResult:
    """`moved`: the model's first layers that do preprocess()'s work (normal_form.fold_preprocessing)."""
    title = "preprocess()"
    want = shape_text(input_shape)
    got_shape = tuple(facts.shape[1:])
    if moved:
        return failed(
            "preprocess",
            title,
            points,
            f"returns images of shape {shape_text(got_shape)} with values from {facts.min:g} to "
            f"{facts.max:g}, and the model finishes the job with {' and '.join(moved)}",
            f"prepare the images in preprocess(): images.reshape(-1, {', '.join(map(str, input_shape))})"
            f".astype('float32') / {scale:g}, and remove {' and '.join(m.split('(')[0] for m in moved)} "
            f"from the model",
        )
    if got_shape != tuple(input_shape):
        hint = f"reshape with images.reshape(-1, {', '.join(map(str, input_shape))})"
        if got_shape == tuple(input_shape[:-1]):
            hint = f"add the channels axis: images.reshape(-1, {', '.join(map(str, input_shape))})"
        return failed(
            "preprocess", title, points, f"returns images of shape {shape_text(got_shape)}, expected {want}", hint
        )
    if not facts.dtype.startswith("float"):
        return failed(
            "preprocess",
            title,
            points,
            f"returns {facts.dtype} values, expected float32",
            f"convert and scale: images.astype('float32') / {scale:g}",
        )
    if math.isnan(facts.min) or math.isnan(facts.max):
        return failed(
            "preprocess",
            title,
            points,
            "returns NaN or infinite values",
            f"only convert and scale: images.astype('float32') / {scale:g}",
        )
    if facts.max > 1.0 + PREPROCESS_TOLERANCE or facts.min < -PREPROCESS_TOLERANCE:
        hint = f"divide the pixel values by {scale:g}"
        if facts.min < -PREPROCESS_TOLERANCE:  # standardised or centred: the test images will not be
            hint = (
                f"do not subtract a mean or standardise: only divide by {scale:g}, which is how the grader "
                f"prepares the test images"
            )
        return failed(
            "preprocess", title, points, f"values range from {facts.min:g} to {facts.max:g}, expected 0 to 1", hint
        )
    if facts.max_abs_diff is None or facts.max_abs_diff > PREPROCESS_TOLERANCE:
        by = f"by up to {facts.max_abs_diff:g}" if facts.max_abs_diff is not None else "in shape"
        return failed(
            "preprocess",
            title,
            points,
            f"values differ from images / {scale:g} {by}",
            f"only reshape and divide by {scale:g}: the grader evaluates your model on test images "
            f"prepared exactly that way",
        )
    return passed("preprocess", title, points, f"float images of shape {want}, scaled to [0, 1]")


def loss_name(loss: str | None) -> str | None:
    """'SparseCategoricalCrossentropy' and 'sparse_categorical_crossentropy' name the same loss."""
    if loss is None:
        return None
    return re.sub(r"(?<!^)(?=[A-Z])", "_", loss).lower().replace("cross_entropy", "crossentropy")


def check_compile(spec: CompileSpec, task: str, model: ModelFacts) -> CheckResult:
    title = "compile()"
    if not model.compiled:
        return failed(
            "compile",
            title,
            spec.points,
            "the model is not compiled",
            "call model.compile(optimizer=..., loss=..., metrics=['accuracy']) before returning it",
        )
    loss = loss_name(model.loss)
    # Two softmax outputs with integer labels 0/1 compute what one sigmoid does (normal_form.py).
    two_unit_head = task == "binary" and bool(model.layers) and is_two_unit_softmax(normal_form(model.layers)[-1])
    if loss not in spec.loss and not (two_unit_head and loss == "sparse_categorical_crossentropy"):
        if task == "binary":
            hint = "one sigmoid output and labels 0/1: use loss='binary_crossentropy'"
        else:
            hint = "integer labels and a softmax output: use loss='sparse_categorical_crossentropy'"
        return failed("compile", title, spec.points, f"loss is {loss}, expected {' or '.join(spec.loss)}", hint)
    if model.from_logits:
        output = "sigmoid" if task == "binary" else "softmax"
        return failed(
            "compile",
            title,
            spec.points,
            "the loss has from_logits=True, so it reads the model's outputs as raw scores (logits)",
            f"remove from_logits=True and end the model with activation='{output}': the grader reads "
            f"the outputs as probabilities",
        )
    optimizer = (model.optimizer or "").lower()
    if spec.optimizer and optimizer not in spec.optimizer:
        name = OPTIMIZER_CLASSES.get(spec.optimizer[0], spec.optimizer[0])
        return failed(
            "compile",
            title,
            spec.points,
            f"optimizer is {model.optimizer}, expected {name}",
            f"use optimizer=keras.optimizers.{name}(...)",
        )
    if spec.learning_rate is not None and (
        model.learning_rate is None or abs(model.learning_rate - spec.learning_rate) > 1e-3 * spec.learning_rate
    ):
        # None: an optimizer whose learning rate the grader could not read as one number.
        got = "is not one fixed number (a schedule?)" if model.learning_rate is None else f"is {model.learning_rate:g}"
        return failed(
            "compile",
            title,
            spec.points,
            f"learning rate {got}, expected {spec.learning_rate:g}",
            f"pass the learning rate to the optimizer: optimizer=keras.optimizers."
            f"{OPTIMIZER_CLASSES.get(optimizer, model.optimizer or 'RMSprop')}"
            f"(learning_rate={spec.learning_rate:g})",
        )
    if model.metrics is not None and not ACCURACY_METRICS & set(model.metrics):
        return failed(
            "compile",
            title,
            spec.points,
            "compile() has no accuracy metric",
            "add metrics=['accuracy']: without it training logs no accuracy, so you (and any callback) "
            "cannot see how well the model does",
        )
    noted = (
        (
            f"; not used here: {', '.join(model.unused_compile)} (the grader trains and measures with its own "
            f"settings, so this changes nothing)"
        )
        if model.unused_compile
        else ""
    )
    return passed("compile", title, spec.points, f"{optimizer or 'optimizer'} with {loss}{noted}")


def check_augmentation(spec: AugmentationSpec, model: ModelFacts) -> CheckResult:
    found = sorted({layer.type for layer in model.layers if layer.type in spec.kinds})
    title = "Data augmentation"
    # An augmentation layer changes images: after Flatten it builds, then fails at the first training batch.
    flat = [layer for layer in model.layers if layer.type in spec.kinds and len(layer.output) != 3]
    if flat:
        return failed(
            "augmentation",
            title,
            spec.points,
            f"{flat[0].type} {flat[0].name!r} gets {'x'.join(map(str, flat[0].output))} numbers per "
            f"image, not an image (height, width, channels)",
            "put the augmentation layers first, right after keras.Input, before any Flatten or Dense layer",
        )
    if len(found) >= spec.min_kinds:
        return passed("augmentation", title, spec.points, f"augments with {', '.join(found)}")
    suggestions = [s for s in SUGGESTED_AUGMENTATION if s.split("(")[0] in spec.kinds and s.split("(")[0] not in found]
    have = f"found {', '.join(found)}" if found else "found none"
    return failed(
        "augmentation",
        title,
        spec.points,
        f"expected at least {spec.min_kinds} kinds of augmentation layers, {have}",
        f"add layers such as {', '.join(suggestions[: spec.min_kinds - len(found)] or suggestions[:1])} "
        f"at the start of the model: they change each training image a little, so the network "
        f"cannot memorise them",
    )


@dataclass(frozen=True)
class ProbePlan:
    """One run of the callback probe: make_callbacks(target), then these epoch logs in order."""

    target: float
    logs: tuple[dict[str, float], ...]  # per epoch: accuracy, loss, val_accuracy, val_loss

    @property
    def accuracies(self) -> tuple[float, ...]:
        return tuple(log["accuracy"] for log in self.logs)


def _as_logged(value: float) -> float:
    """A number as Keras logs it: a float32 value, not a round decimal."""
    return float(np.float32(value))


def _plan(target: float, rng: random.Random, ceiling: float) -> ProbePlan:
    """A training curve that rises past `target` (every value under `ceiling`), with losses and
    validation figures that go with it, as a real fit() would log them."""
    epochs = rng.randint(5, 8)
    first_above = rng.randint(2, epochs - 2)
    low = max(0.05, target - rng.uniform(0.15, 0.35))
    last_below = target - rng.uniform(0.001, 0.01)
    below = sorted(rng.uniform(low, last_below) for _ in range(first_above - 1)) + [last_below]
    above, value = [], target
    for _ in range(epochs - first_above):
        value = min(value + rng.uniform(0.001, 0.01), ceiling, 1.0)
        above.append(value)
    scale, loss_noise = rng.uniform(0.9, 1.3), rng.uniform(0.005, 0.02)
    logs = []
    for accuracy in below + above:
        accuracy = _as_logged(accuracy)
        loss = -math.log(max(accuracy, 1e-3)) * scale + rng.uniform(0, loss_noise)
        val_accuracy = max(0.0, accuracy - rng.uniform(0.0, 0.03))
        logs.append(
            {
                "accuracy": accuracy,
                "loss": _as_logged(loss),
                "val_accuracy": _as_logged(val_accuracy),
                "val_loss": _as_logged(loss * rng.uniform(1.0, 1.3)),
            }
        )
    return ProbePlan(target, tuple(logs))  # at least 0.001 from the target: float32 keeps each on its side


def callback_probe_plans(target: float, rng: random.Random | None = None) -> tuple[ProbePlan, ProbePlan]:
    """The callback probe: the challenge's target, and a second, lower one whose whole curve stays
    under the first target, so that a callback with the target written into it fails.

    Random per grading (unless `rng` is given): the logs cannot be told from a real fit()'s, so a
    callback cannot recognise the probe; a correct callback passes every plan.
    """
    rng = rng or random.Random(secrets.randbits(64))
    main = _plan(target, rng, ceiling=1.0)
    second_target = round(max(0.3, target - rng.uniform(0.04, 0.12)), 3)
    second = _plan(second_target, rng, ceiling=target - 0.001)
    return main, second


def callback_probe_from(doc: dict[str, Any], plans: tuple[ProbePlan, ...], max_names: int = 8) -> CallbackProbe:
    """The child's answers ({"count", "stops": [[bool per epoch] per plan], "error", "names"}) paired
    with the parent's own plans. An answer missing for any epoch shown makes the probe incomplete,
    which earns nothing: an empty answer list is no answer."""
    count = doc.get("count")
    stops = doc["stops"] if isinstance(doc.get("stops"), list) else []
    paired, complete = [], len(stops) == len(plans)
    for plan, answers in zip(plans, stops, strict=False):
        answers = answers if isinstance(answers, list) else []
        valid = [a for a in answers[: len(plan.logs)] if isinstance(a, bool)]
        complete = complete and len(answers) == len(plan.logs) and len(valid) == len(answers)
        paired.append(tuple(zip(plan.accuracies, valid, strict=False)))
    while len(paired) < 2:
        paired.append(())
    error = doc.get("error")
    names = doc["names"] if isinstance(doc.get("names"), list) else []
    return CallbackProbe(
        count=count if isinstance(count, int) and count >= 0 else 0,
        responses=paired[0],
        error=clean(error, 600) if error else None,
        names=tuple(clean(name, 60) for name in names[:max_names] if isinstance(name, str)),
        second_target=plans[1].target if len(plans) > 1 else 0.0,
        second_responses=paired[1],
        complete=complete and bool(plans),
    )


def check_unused_callbacks(probe: CallbackProbe) -> CheckResult | None:
    """A row for 0 points where the challenge grades no callback but make_callbacks() returns some:
    the trainer runs none of the learner's callbacks (it trains for the profile's epochs), and
    nobody should count on an EarlyStopping that never ran. None where it returns none."""
    title = "Callbacks (not used here)"
    if probe.error:
        return passed(
            "callbacks.unused",
            title,
            0,
            f"{probe.error}; this challenge does not use make_callbacks(), so this costs nothing",
        )
    if probe.count == 0:
        return None
    more = probe.count - len(probe.names)
    names = ", ".join(probe.names) + (f" and {more} more" if more > 0 else "")
    return passed(
        "callbacks.unused",
        title,
        0,
        f"make_callbacks() returns {names}: this challenge trains for a fixed number of epochs and "
        f"runs none of your callbacks, so they change nothing here (and cost nothing)",
    )


def check_callback(
    spec: CallbackSpec, target: float, probe: CallbackProbe, training: TrainingFacts | None
) -> CheckResult:
    title = "Stop-at-target callback"
    hint = (
        f"in on_epoch_end, set self.model.stop_training = True once logs['{spec.metric}'] >= "
        f"target_accuracy, and return the callback from make_callbacks()"
    )
    if probe.error:
        return failed(
            "callback",
            title,
            spec.points,
            f"the callbacks failed when tested: {probe.error}",
            migration_hint(probe.error) or hint,
        )
    if probe.count == 0:
        return failed("callback", title, spec.points, "make_callbacks() returned no callbacks", hint)
    if not probe.complete:
        return failed("callback", title, spec.points, "the callbacks did not answer every epoch they were shown", hint)
    for shown_target, responses in ((target, probe.responses), (probe.second_target, probe.second_responses)):
        for accuracy, stopped in responses:
            if accuracy >= shown_target and not stopped:
                if shown_target != target:
                    return failed(
                        "callback",
                        title,
                        spec.points,
                        f"made with target_accuracy={shown_target:g}, the callback did not stop at training "
                        f"accuracy {accuracy:.4f}: it does not use the target it is given",
                        f"compare logs['{spec.metric}'] with the target_accuracy that make_callbacks() "
                        f"receives, not with a fixed number",
                    )
                return failed(
                    "callback",
                    title,
                    spec.points,
                    f"with training accuracy {accuracy:.4f} (target {shown_target:g}) training did not stop",
                    hint,
                )
            if accuracy < shown_target and stopped:
                return failed(
                    "callback",
                    title,
                    spec.points,
                    f"training stopped at accuracy {accuracy:.4f}, below the target {shown_target:g}",
                    f"compare with the target: stop only when logs['{spec.metric}'] >= target_accuracy",
                )
    if training is None:
        return passed("callback", title, spec.points, "stops exactly when the target is reached (tested directly)")
    values = training.history.get(spec.metric, [])
    if not values:
        return passed(
            "callback",
            title,
            spec.points,
            f"stops exactly when the target is reached (tested directly); training logged no "
            f"'{spec.metric}' to check it against (see compile())",
        )
    for epoch, value in enumerate(values[:-1], start=1):
        if value >= target:
            return failed(
                "callback",
                title,
                spec.points,
                f"epoch {epoch} reached {spec.metric} {value:.4f} >= {target:g}, but training went on",
                hint,
            )
    if values and values[-1] >= target and training.epochs_run < training.epochs_allowed:
        return passed(
            "callback",
            title,
            spec.points,
            f"stopped after epoch {training.epochs_run} at {spec.metric} {values[-1]:.4f} >= {target:g}",
        )
    return passed(
        "callback",
        title,
        spec.points,
        f"tested directly; the target {target:g} was not reached in {training.epochs_run} epochs",
    )
