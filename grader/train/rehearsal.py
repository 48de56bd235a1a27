"""What `grade check` proves in the trusted trainer, so that a check that passes means the submit runs.

A submit rebuilds the model, trains it, saves it and loads the saved file back to evaluate it.
Each of those steps can fail on a learner's choice long after the check said all was well: an
augmentation layer after Flatten builds fine and fails at the first training batch; a layer
whose saved config Keras cannot read back fails only when the trained file is loaded. The
rehearsal runs every one of those steps on a few probe images, on the backend that will train,
in seconds:

    rehearse(model, folder)     on the folder's rehearsal_x.npy and rehearsal_y.npy: one training
                                step, save, load back (with the same repairs as the real load,
                                grader/keras_support/modelfile.py), the same outputs

A failure is a TrainingFailed naming the layer and the fix; the real training explains a
failed fit() with the same words (`fit_failed`).

    warm_up(folder)             a trainer started ahead of its check (the warm helper) rehearses a
                                small built-in model first: the backend's first eager step, save
                                and load cost twice what later ones do
"""

from __future__ import annotations

import re
import traceback
from pathlib import Path
from typing import Any

from grader.core.text import keras_cause

REHEARSAL_X_FILE = "rehearsal_x.npy"
REHEARSAL_Y_FILE = "rehearsal_y.npy"
REHEARSAL_MODEL_FILE = "rehearsal.keras"
REHEARSAL_IMAGES = 8  # enough for a batch through BatchNormalization and every augmentation layer
# A loaded model computes what the saved one did, up to float rounding of its own kernels.
SAME_OUTPUTS_TOLERANCE = 1e-4


class TrainingFailed(Exception):
    def __init__(self, stage: str, message: str, hint: str = "", detail: str = ""):
        super().__init__(message)
        self.stage, self.message, self.hint, self.detail = stage, message, hint, detail


FIT_HINT = "check that the model's input matches what preprocess() returns and that the loss fits the labels"
# Keras names the layer whose call failed: "Exception encountered when calling RandomFlip.call()".
_FAILED_LAYER = re.compile(r"when calling (?:layer )?'?(\w+)'?(?:\.call\(\))?")


def failed_layer(exc: BaseException) -> str | None:
    """The class name of the layer whose call raised `exc`, where Keras says so."""
    match = _FAILED_LAYER.search(str(exc))
    return match.group(1) if match else None


def fit_failed(exc: BaseException, *, images: int | None = None) -> TrainingFailed:
    """What a learner is told when model.fit() raised `exc` (the rehearsal's `images`: how many it trained on)."""
    layer = failed_layer(exc)
    where = f"one training step on {images} probe images" if images else "model.fit()"
    message = f"{where} failed{f' in a {layer} layer' if layer else ''}: {keras_cause(exc)}"
    if layer and layer.startswith("Random"):
        hint = (
            f"{layer} changes images, so it needs images (height, width, channels): put the augmentation "
            f"layers first, right after keras.Input, before any Flatten or Dense layer"
        )
    elif layer:
        hint = f"look at the {layer} layer and the layer before it: the shape it gets is not one it can take"
    else:
        hint = FIT_HINT
    return TrainingFailed("train", message, hint, traceback.format_exc()[-4000:])


def save(model: Any, path: Path) -> None:
    """How the trainer saves a model (the trained one, each checkpoint, the rehearsal's)."""
    import keras

    keras.saving.save_model(model, path)


def rehearse(model: Any, folder: Path) -> None:
    """Train `model` (built and compiled as the trainer builds it) one step on the folder's
    rehearsal images, save it and load it back as the trained model will be; raise
    TrainingFailed where a submit would fail."""
    import keras
    import numpy as np

    from grader.keras_support import backend
    from grader.keras_support.modelfile import ModelFileError, load_checked

    x = np.load(folder / REHEARSAL_X_FILE, allow_pickle=False)
    y = np.load(folder / REHEARSAL_Y_FILE, allow_pickle=False)
    backend.prepare_for_training(model)
    # Eagerly: the same layers, loss and optimizer step, without tracing a graph that one step
    # does not pay back (0.15 s against 0.7 s for the fashion reference on a 2-core CPU).
    model.run_eagerly = True
    feed = backend.training_inputs(x, y, batch_size=len(x), seed=0, shuffle=False)
    try:
        model.fit(**feed, epochs=1, verbose=0)
    except Exception as exc:
        raise fit_failed(exc, images=len(x)) from None
    path = folder / REHEARSAL_MODEL_FILE
    save(model, path)
    try:
        loaded = load_checked(path)
    except ModelFileError as err:
        raise TrainingFailed(
            "load",
            f"the model does not load back once saved: {err}",
            "use only built-in Keras layers with their usual arguments; where one layer is named "
            "above, write its settings the simplest way (a single number for a range)",
        ) from None
    before = np.asarray(keras.ops.convert_to_numpy(model(x, training=False)), dtype="float32")
    after = np.asarray(keras.ops.convert_to_numpy(loaded(x, training=False)), dtype="float32")
    if before.shape != after.shape or not np.allclose(before, after, atol=SAME_OUTPUTS_TOLERANCE, rtol=0):
        raise TrainingFailed(
            "load",
            "the model computes something else once saved and loaded back",
            "use only built-in Keras layers with their usual arguments",
        )


def warm_up(folder: Path) -> None:
    """Rehearse a small model of the grader's own (convolution, pooling, dropout, dense) in
    `folder`, then forget it: what is left is the backend's warmed kernels and caches, nothing of
    the model (Keras' session is cleared, so layer names start afresh). Never raises."""
    try:
        import keras
        import numpy as np

        rng = np.random.default_rng(0)
        np.save(folder / REHEARSAL_X_FILE, rng.random((REHEARSAL_IMAGES, 28, 28, 1), dtype="float32"))
        np.save(folder / REHEARSAL_Y_FILE, np.arange(REHEARSAL_IMAGES) % 10)
        model = keras.Sequential(
            [
                keras.Input((28, 28, 1)),
                keras.layers.Conv2D(4, 3, activation="relu"),
                keras.layers.MaxPooling2D(),
                keras.layers.Flatten(),
                keras.layers.Dropout(0.2),
                keras.layers.Dense(10, activation="softmax"),
            ]
        )
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        rehearse(model, folder)
    except Exception:
        pass  # only a head start: the real rehearsal reports whatever goes wrong
    finally:
        for name in (REHEARSAL_X_FILE, REHEARSAL_Y_FILE, REHEARSAL_MODEL_FILE):
            (folder / name).unlink(missing_ok=True)
        try:
            import keras

            keras.backend.clear_session()
        except Exception:
            pass
