"""Errors that mean "this is Keras 2 code", each with its one-line Keras 3 fix.

Course notebooks and books written for Keras 1 and 2 are where most learners copy from. Their
code fails under Keras 3 with messages that do not name the cause (a KeyError, "Argument(s) not
recognized"). `migration_hint` reads an error message (plain text, as the sandboxed child
reported it) and returns the fix, or None. Pure: no Keras.
"""

from __future__ import annotations

import re

LR_HINT = "Keras 3 calls it learning_rate: for example keras.optimizers.RMSprop(learning_rate=1e-4)"

# (pattern in the error message, the fix). The first match wins.
MIGRATIONS: tuple[tuple[str, str], ...] = (
    (
        r"np_utils",
        "Keras 3 has no keras.utils.np_utils: use keras.utils.to_categorical, or better, keep the integer labels: "
        "loss='sparse_categorical_crossentropy' needs no one-hot labels",
    ),
    (
        r"ImageDataGenerator|flow_from_directory|keras\.preprocessing\.image",
        "Keras 3 has no ImageDataGenerator: put augmentation layers (layers.RandomFlip, layers.RandomRotation, "
        "layers.RandomZoom) at the start of the model; the grader feeds the images itself",
    ),
    (
        r"fit_generator|evaluate_generator|predict_generator",
        "Keras 3 has no fit_generator: model.fit(...) takes generators and datasets too; keep training under "
        '`if __name__ == "__main__":`, the grader trains the model itself',
    ),
    (r"(?:not recognized|unexpected keyword argument)\W*\{?\W*'?lr'?\b|'lr'", LR_HINT),
    (
        r"KeyError: '(acc|val_acc)'",
        "Keras 3 logs the metric as 'accuracy' (and 'val_accuracy'): read logs['accuracy'], and compile with "
        "metrics=['accuracy']",
    ),
    (
        r"KeyError: '(accuracy|val_accuracy)'",
        "the logs hold only what compile() measures: compile with metrics=['accuracy']",
    ),
    (
        r"expected (?:min_)?ndim=4, found ndim=3",
        "Conv2D needs a channels axis: start with keras.Input(shape=(height, width, channels)), e.g. (28, 28, 1), "
        "and reshape the images in preprocess()",
    ),
    (
        r"border_mode",
        "that is Keras 1 syntax: rename border_mode= to padding=, and write the kernel as one tuple: "
        "Conv2D(32, (3, 3), padding='valid')",
    ),
    (
        r"nb_epoch|nb_filter|init=|subsample",
        "that is Keras 1 syntax: the arguments are now epochs=, filters=, kernel_initializer= and strides=",
    ),
)


# The learner's own call, when the message quotes its line: `Adam(lr=1e-3)` gets `Adam(learning_rate=1e-3)`.
LR_CALL = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\(\s*lr\s*=\s*([^,)\s]+)")


def migration_hint(message: str | None) -> str | None:
    if not message:
        return None
    for pattern, hint in MIGRATIONS:
        if re.search(pattern, message):
            if hint is LR_HINT and (call := LR_CALL.search(message)):
                return f"Keras 3 calls it learning_rate: write {call[1]}(learning_rate={call[2]})"
            return hint
    return None


def strides_hint(filters: int | None, kernel_size: list[int] | None, strides: list[int] | None) -> str | None:
    """A hint for a convolution whose strides shrink its output; None when its strides are 1.

    Conv2D(64, 3, 3) is Keras 1/2 for a 3x3 kernel, and Keras 3 reads the second 3 as strides=3:
    then the strides equal the kernel, and the hint writes the learner's own filters and kernel back
    in the Keras 3 spelling. Other strides were asked for on purpose, and only need removing."""
    if not strides or all(s == 1 for s in strides):
        return None
    shown = tuple(strides)
    if kernel_size and len(kernel_size) == 2 and list(strides) == list(kernel_size):
        rows, cols = kernel_size
        n = filters if isinstance(filters, int) else "filters"
        return (
            f"this layer has strides={shown}: Conv2D({n}, {rows}, {cols}) is the Keras 2 way to write a "
            f"{rows}x{cols} kernel, but Keras 3 reads the third number as strides. "
            f"Write Conv2D({n}, ({rows}, {cols}))"
        )
    return f"this layer has strides={shown}, which shrinks its output: remove strides= (the default is 1)"
