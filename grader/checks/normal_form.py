"""Bring a layer list to a normal form, so that equal computations compare equal.

Learners write the same network in several spellings, all of which compute exactly the same
function. The observed model and the spec's expected layers both pass through `normal_form`
before they are aligned, so only real differences are reported:

1. An activation layer folds into the layer before it when that layer has no activation of
   its own: `Conv2D(64, 3)` + `Activation("relu")` (or `ReLU()`) is `Conv2D(64, 3,
   activation="relu")`; `Dense(10)` + `Softmax()` is `Dense(10, activation="softmax")`. It
   also folds across BatchNormalization (`Conv2D` + `BatchNormalization` + `ReLU`, the usual
   way to write batch norm), leaving the BatchNormalization as an addition of its own.
2. Element-wise layers (Dropout and friends, left-over activations) commute with Flatten and
   Reshape: `Dropout(0.5)` + `Flatten()` computes, element for element, what `Flatten()` +
   `Dropout(0.5)` does. The normal form puts them after the reshaping layer.
3. Layers that compute the identity are left out: `Identity()`, `Activation("linear")` and
   `Rescaling(1.0)` (scale 1, offset 0) change no number, so they are neither extra layers
   nor a layer in the place of an expected one.

4. A two-unit softmax is a sigmoid: softmax([a, b])[1] = sigmoid(b - a). Where the spec ends in
   `Dense(1, activation="sigmoid")` (a yes/no task) and the model in `Dense(2,
   activation="softmax")` (with sparse categorical cross-entropy, the other common spelling),
   the model's head is compared as the sigmoid it is: one output, and half the parameters (the
   two units' difference is all that counts). `two_unit_softmax_as_sigmoid`, applied to the
   observed layers against the expected ones.

5. Preparing the images inside the model instead of in preprocess(): a `Reshape` at the start
   of the model that only adds or removes axes of size 1 (`keras.Input((28, 28))` +
   `Reshape((28, 28, 1))`), and a `Rescaling(1/255)` at the start where preprocess() returned
   the raw pixels (as floats), compute with preprocess() exactly what the reference computes.
   `fold_preprocessing` compares such a model as if those layers were in preprocess(); the
   preprocess row, whose lesson it is, names them (one deduction).

Works on `LayerFacts` (observed) and `LayerSpec` (expected) alike: both are frozen
dataclasses with `type`, `config`, `output` and `params`. Pure: no Keras.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Protocol, TypeVar


class _LayerLike(Protocol):
    """What the rules read of a layer: `LayerFacts` and `LayerSpec` both have it."""

    @property
    def type(self) -> str: ...
    @property
    def config(self) -> dict[str, Any]: ...
    @property
    def output(self) -> tuple[int | None, ...] | None: ...
    @property
    def params(self) -> int | None: ...


Layer = TypeVar("Layer", bound=_LayerLike)

# Layers with an `activation` argument an activation layer can fold into.
ACTIVATABLE = frozenset({"Conv1D", "Conv2D", "Conv3D", "SeparableConv2D", "DepthwiseConv2D", "Dense"})
# Layers an activation folds across: normalisation written between a layer and its activation.
FOLDS_ACROSS = frozenset({"BatchNormalization"})
# Layers that change nothing but the order of the numbers.
RESHAPING = frozenset({"Flatten", "Reshape"})
# Layers that act on each number on its own (in training or always): they commute with RESHAPING.
ELEMENTWISE = frozenset(
    {"Dropout", "GaussianDropout", "GaussianNoise", "AlphaDropout", "Activation", "ReLU", "LeakyReLU", "ELU", "Softmax"}
)


def computes_identity(layer: Any) -> bool:
    """A layer that returns its input unchanged, whatever its input."""
    config = layer.config
    if layer.type == "Identity":
        return True
    if layer.type == "Activation":
        return config.get("activation") == "linear"
    if layer.type == "Rescaling":
        return _is_number(config.get("scale"), 1.0) and _is_number(config.get("offset", 0.0), 0.0)
    return False


def _is_number(value: Any, number: float) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and float(value) == number


def activation_of(layer: Any) -> str | None:
    """The activation an activation layer applies, by name; None when it is not one (or has options)."""
    config = layer.config
    if layer.type == "Activation":
        return config.get("activation")
    if layer.type == "ReLU":
        plain = config.get("max_value") is None and not config.get("negative_slope") and not config.get("threshold")
        return "relu" if plain else None
    if layer.type == "Softmax":
        return "softmax" if config.get("axis", -1) in (-1, None) else None
    return None


def _has_no_activation(layer: Any) -> bool:
    return layer.type in ACTIVATABLE and layer.config.get("activation") in (None, "linear")


def _joined_name(first: Any, second: Any) -> dict[str, str]:
    if hasattr(first, "name"):
        return {"name": f"{first.name} + {second.name}"}
    return {}


def _param_sum(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else a + b


def fold_activations(layers: Sequence[Layer]) -> list[Layer]:
    out: list[Any] = []
    for layer in layers:
        act = activation_of(layer)
        if act is not None and out:
            target = len(out) - 1
            while target > 0 and out[target].type in FOLDS_ACROSS:
                target -= 1
            if _has_no_activation(out[target]):
                host = out[target]
                out[target] = replace(
                    host,
                    config={**host.config, "activation": act},
                    params=_param_sum(host.params, layer.params),
                    **_joined_name(host, layer),
                )
                continue
        out.append(layer)
    return out


def elementwise_after_reshape(layers: Sequence[Layer]) -> list[Layer]:
    out: list[Any] = []
    for layer in layers:
        if layer.type in RESHAPING:
            moved: list[Any] = []
            while out and out[-1].type in ELEMENTWISE:
                moved.insert(0, out.pop())
            out.append(layer)
            out.extend(replace(m, output=layer.output) for m in moved)
        else:
            out.append(layer)
    return out


def normal_form(layers: Sequence[Layer]) -> list[Layer]:
    return elementwise_after_reshape(fold_activations([layer for layer in layers if not computes_identity(layer)]))


def is_two_unit_softmax(layer: Any) -> bool:
    return layer.type == "Dense" and layer.config.get("units") == 2 and layer.config.get("activation") == "softmax"


def two_unit_softmax_as_sigmoid(observed: Sequence[Layer], expected: Sequence[Any]) -> list[Layer]:
    """`observed` with a final Dense(2, softmax) written as Dense(1, sigmoid), where `expected`
    ends in Dense(1, sigmoid); unchanged otherwise (both in normal form)."""
    out: list[Any] = list(observed)
    if not out or not expected:
        return out
    last, want = out[-1], expected[-1]
    if (
        is_two_unit_softmax(last)
        and want.type == "Dense"
        and want.config.get("units") == 1
        and want.config.get("activation") == "sigmoid"
    ):
        out[-1] = replace(
            last,
            config={**last.config, "units": 1, "activation": "sigmoid"},
            output=(*tuple(last.output)[:-1], 1) if last.output else last.output,
            params=None if last.params is None else last.params // 2,
        )
    return out


def _squeezed(shape: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(d for d in shape if d != 1)


def fold_preprocessing(model: Any, preprocess: Any, expected_input: Sequence[int]) -> tuple[Any, tuple[str, ...]]:
    """`model` (ModelFacts) without the leading layers that only finish what preprocess() left
    undone (rule 5), and those layers described; (model, ()) where there are none.

    `preprocess` is the PreprocessFacts of the learner's preprocess(), or None."""
    layers, input_shape, moved = list(model.layers), tuple(model.input_shape), []
    while layers:
        first = layers[0]
        # Only where preprocess() returned the shape the model takes: then the Reshape does its job.
        if (
            first.type == "Reshape"
            and tuple(first.output) == tuple(expected_input)
            and _squeezed(input_shape) == _squeezed(expected_input)
            and input_shape != tuple(expected_input)
            and preprocess is not None
            and tuple(preprocess.shape[1:]) == input_shape
        ):
            input_shape = tuple(first.output)
        elif (
            first.type == "Rescaling"
            and _is_number(first.config.get("offset", 0.0), 0.0)
            and isinstance(first.config.get("scale"), (int, float))
            and preprocess is not None
            and preprocess.factor is not None
            and abs(preprocess.factor * first.config["scale"] - 1) <= 1e-4
        ):
            pass
        else:
            break
        moved.append(first.describe())
        layers.pop(0)
    if not moved:
        return model, ()
    return replace(model, layers=tuple(layers), input_shape=input_shape), tuple(moved)
