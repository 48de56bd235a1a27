"""The journey of an image through the convolutions: what each Conv2D and pooling layer makes of it.

For a few test images and one filter (a channel index), `compute_journey` collects the output
of every convolution and pooling layer of a loaded model. The layers are found by their Keras
class, never by name, so any submission's model works. Only Keras' own API is used (a
multi-output keras.Model, keras.ops), so this runs unchanged on TensorFlow, JAX and PyTorch.

`draw_journey` is `grade journey`: it finds the model and its challenge, draws the figure
(grader.report.plots.journey_figure) and saves it as a PNG.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

from grader.keras_support import backend

DEFAULT_IMAGES = (0, 23, 28)
DEFAULT_FILTER = 1
JOURNEY_FILE = "journey.png"


class JourneyError(Exception):
    """Bad input for a journey (no such run, image or filter; no convolutions): said plainly."""


@dataclass(frozen=True)
class JourneyStep:
    """One convolution or pooling layer: its output for the chosen filter, for every image."""

    name: str
    type: str
    shape: tuple[int, int, int]  # the layer's whole output per image: height, width, channels
    maps: np.ndarray  # (images, height, width): the chosen filter's channel only


@dataclass(frozen=True)
class Journey:
    image_indices: tuple[int, ...]  # positions in the test split
    images: np.ndarray  # the raw test images, for display: (N, H, W) or (N, H, W, 3)
    labels: tuple[str, ...]  # their true class names
    filter_index: int
    steps: tuple[JourneyStep, ...]


# --------------------------------------------------------------------------- activations


def _spatial_layer_types() -> tuple[type, ...]:
    """The Keras classes whose outputs are feature maps: 2-D convolutions and 2-D pooling."""
    keras = backend.import_keras()
    layers = keras.layers
    return (
        layers.Conv2D,
        layers.SeparableConv2D,
        layers.DepthwiseConv2D,
        layers.Conv2DTranspose,
        layers.MaxPooling2D,
        layers.AveragePooling2D,
    )


def _leaf_layers(model: Any) -> list[Any]:
    keras = backend.import_keras()
    leaves = []
    for layer in model.layers:
        leaves.extend(_leaf_layers(layer) if isinstance(layer, keras.Model) else [layer])
    return leaves


def conv_and_pool_layers(model: Any) -> list[Any]:
    """The model's convolution and pooling layers, in order (nested models included)."""
    kinds = _spatial_layer_types()
    return [layer for layer in _leaf_layers(model) if isinstance(layer, kinds)]


def _channels_last(layer: Any, output: np.ndarray) -> np.ndarray:
    if getattr(layer, "data_format", "channels_last") == "channels_first":
        return np.moveaxis(output, 1, -1)
    return output


def layer_outputs(model: Any, x: np.ndarray, layers: Sequence[Any]) -> list[np.ndarray]:
    """Each layer's output for inputs `x`, in inference mode (augmentation and dropout off).

    One model with an output per layer is built on the loaded model's own graph. A layer inside
    a nested Sequential is not on that graph (its output belongs to the inner model); for such
    chains of Sequential models, the layers are called one after another instead.
    """
    keras = backend.import_keras()
    try:
        # The single input itself, not a list of one: calling a model whose inputs are a list
        # with a bare array makes Keras warn that the structures differ.
        inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
        probe = keras.Model(inputs=inputs, outputs=[layer.output for layer in layers])
    except (ValueError, AttributeError, KeyError):
        probe = None
    if probe is not None:
        outputs = probe(x, training=False)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        return [
            _channels_last(layer, keras.ops.convert_to_numpy(out)) for layer, out in zip(layers, outputs, strict=False)
        ]
    if not _is_chain(model):
        raise JourneyError(
            "cannot follow the layers of this model: a convolution sits inside a nested model "
            "that is not a plain keras.Sequential"
        )
    wanted = {id(layer): i for i, layer in enumerate(layers)}
    found: list[Any] = [None] * len(layers)
    current = keras.ops.convert_to_tensor(x)
    for layer in _leaf_layers(model):
        current = layer(current, training=False)
        if id(layer) in wanted:
            found[wanted[id(layer)]] = _channels_last(layer, keras.ops.convert_to_numpy(current))
    return found


def _is_chain(model: Any) -> bool:
    keras = backend.import_keras()
    return isinstance(model, keras.Sequential) and all(
        _is_chain(layer) for layer in model.layers if isinstance(layer, keras.Model)
    )


def check_filter_index(layers: Sequence[Any], shapes: Sequence[tuple[int, ...]], filter_index: int) -> None:
    """A filter must exist in every layer followed: say which layer has too few, and the range."""
    if filter_index < 0:
        raise JourneyError(f"--filter {filter_index}: filters are numbered from 0")
    for layer, shape in zip(layers, shapes, strict=True):
        if filter_index >= shape[-1]:
            raise JourneyError(
                f"--filter {filter_index} is out of range: layer {layer.name} "
                f"({type(layer).__name__}) has {shape[-1]} filters, numbered 0 to {shape[-1] - 1}"
            )


def followed_layers(model: Any, input_shape: tuple[int, ...]) -> list[Any]:
    """The layers a journey follows; a model without any, or for other images, is refused."""
    layers = conv_and_pool_layers(model)
    if not layers:
        raise JourneyError(
            "the model has no convolution or pooling layers (Conv2D, MaxPooling2D, ...): "
            "there is no journey through convolutions to show"
        )
    model_input = tuple(model.input_shape[1:]) if isinstance(model.input_shape, tuple) else None
    if model_input is not None and None not in model_input and model_input != tuple(input_shape):
        raise JourneyError(
            f"the model takes inputs of shape {model_input}, but this challenge's images are "
            f"{tuple(input_shape)}: is it the right --challenge?"
        )
    return layers


def journey_steps(
    model: Any, images: np.ndarray, *, input_shape: tuple[int, ...], scale: float, filter_index: int = DEFAULT_FILTER
) -> tuple[JourneyStep, ...]:
    """The chosen filter's output of every convolution and pooling layer, for `images` (raw uint8).

    The Keras half of a journey: the trusted trainer runs it on the model it has just evaluated,
    and the parent draws the steps without importing Keras."""
    from grader.measure.evaluate import canonical_inputs

    layers = followed_layers(model, input_shape)
    # The same inputs the grader evaluates on: the images reshaped and scaled to [0, 1].
    x = canonical_inputs(images, input_shape, scale)
    outputs = layer_outputs(model, x, layers)
    check_filter_index(layers, [out.shape[1:] for out in outputs], filter_index)
    # float32 also from layers computing in bfloat16 (a profile's precision): NumPy cannot save
    # bfloat16 arrays so that they load back as numbers.
    return tuple(
        JourneyStep(
            layer.name,
            type(layer).__name__,
            cast(tuple[int, int, int], tuple(int(d) for d in out.shape[1:])),  # 2D layers: 4D outputs
            np.asarray(out[..., filter_index], dtype=np.float32),
        )
        for layer, out in zip(layers, outputs, strict=False)
    )


def compute_journey(
    model: Any,
    images: np.ndarray,
    *,
    image_indices: Sequence[int],
    labels: Sequence[str],
    input_shape: tuple[int, ...],
    scale: float,
    filter_index: int = DEFAULT_FILTER,
) -> Journey:
    """The journey of `images` (raw uint8) through `model`: journey_steps, with what the figure shows."""
    steps = journey_steps(model, images, input_shape=input_shape, scale=scale, filter_index=filter_index)
    return Journey(tuple(int(i) for i in image_indices), images, tuple(labels), filter_index, steps)


# --------------------------------------------------------------------------- grade journey


@dataclass(frozen=True)
class JourneyOutput:
    path: Path  # the PNG written
    journey: Journey


def resolve_model(path: Path, challenge: str | None) -> tuple[Path, str]:
    """(the .keras file, the challenge name) from a run folder or a model file."""
    from grader.submission.files import TRAINED_MODEL_FILE

    path = Path(path)
    if not path.exists():
        raise JourneyError(f"no such file or folder: {path}")
    if path.is_dir():
        model_path = path / TRAINED_MODEL_FILE
        if not model_path.is_file():
            raise JourneyError(
                f"{path} holds no {TRAINED_MODEL_FILE}: give a run folder written by "
                "`grade submit` (its model trained) or a .keras file with --challenge"
            )
        if challenge is None:
            challenge = _challenge_of_run(path)
        return model_path, challenge
    if path.suffix != ".keras":
        raise JourneyError(f"{path.name} is not a Keras model (.keras) or a run folder")
    if challenge is None:
        raise JourneyError(f"which challenge is {path.name} for? Pass --challenge NAME")
    return path, challenge


def _challenge_of_run(run_dir: Path) -> str:
    result_path = run_dir / "result.json"
    try:
        return str(json.loads(result_path.read_text())["challenge"])
    except (OSError, ValueError, KeyError, TypeError):
        raise JourneyError(f"cannot read the challenge from {result_path}: pass --challenge NAME") from None


def draw_journey(
    *,
    path: Path,
    challenge: str | None = None,
    images: Sequence[int] = DEFAULT_IMAGES,
    filter_index: int = DEFAULT_FILTER,
    out: Path | None = None,
    data_dir: Path | None = None,
) -> JourneyOutput:
    """`grade journey`: draw the journey of test `images` through a model's convolutions to a PNG."""
    from grader.data import DataError, load_dataset
    from grader.keras_support.inspect_model import ModelLoadError, load_model
    from grader.report.plots import journey_figure, png_bytes
    from grader.spec import SpecError, load_spec

    path = Path(path)
    model_path, challenge = resolve_model(path, challenge)
    if not images:
        raise JourneyError("--images names no test image: give indices such as 0,23,28")
    try:
        spec = load_spec(challenge)
    except SpecError as err:
        raise JourneyError(str(err)) from None
    try:
        model = load_model(model_path)
    except ModelLoadError as err:
        raise JourneyError(f"cannot load {model_path}: {err}") from None
    followed_layers(model, spec.input_shape)  # a model it cannot show is refused before loading the data
    try:
        data = load_dataset(spec.dataset, data_dir=data_dir)
    except DataError as err:
        raise JourneyError(str(err)) from None
    test = data.split("test")
    bad = [i for i in images if not 0 <= i < len(test)]
    if bad:
        raise JourneyError(f"no test image {bad[0]}: the {spec.dataset} test split has images 0 to {len(test) - 1}")
    picked = np.asarray(images)
    journey = compute_journey(
        model,
        test.images[picked],
        image_indices=images,
        labels=[data.class_names[label] for label in test.labels[picked]],
        input_shape=spec.input_shape,
        scale=spec.input_scale,
        filter_index=filter_index,
    )
    if out is None:
        out = model_path.parent / (JOURNEY_FILE if path.is_dir() else f"{model_path.stem}-{JOURNEY_FILE}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(png_bytes(journey_figure(journey)))
    except OSError as err:
        raise JourneyError(f"cannot write {out}: {err.strerror}") from None
    return JourneyOutput(out, journey)
