"""Read the facts of a saved Keras model in the trusted parent: layers, shapes, parameters.

This and `grader.measure.evaluate` are the only grading modules that touch Keras objects; the
checks see the plain `ModelFacts` they return.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from grader.core.facts import LayerFacts, ModelFacts
from grader.core.text import clean

# The configuration keys the specs may check, as they appear in layer.get_config().
_CONFIG_KEYS = (
    "filters",
    "units",
    "kernel_size",
    "pool_size",
    "strides",
    "padding",
    "activation",
    "rate",
    "max_value",
    "negative_slope",
    "threshold",
    "axis",  # ReLU and Softmax layers
    "scale",
    "offset",
)  # Rescaling: Rescaling(1.0) computes nothing (checks/normal_form.py)


class ModelLoadError(Exception):
    """The saved model cannot be loaded safely. `detail` keeps Keras' whole explanation."""

    def __init__(self, message: str, detail: str = ""):
        super().__init__(message)
        self.detail = detail


def load_model(path: Path) -> Any:
    """A .keras file, checked as hostile input first (grader/keras_support/modelfile.py), then loaded safely."""
    from grader.keras_support.modelfile import ModelFileError, load_checked

    try:
        return load_checked(path)
    except ModelFileError as err:
        raise ModelLoadError(str(err), detail=str(err)) from None


def _leaf_layers(model: Any) -> list[Any]:
    """Layers in order, with nested models (a Sequential of augmentation layers) flattened."""
    import keras

    layers = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            layers.extend(_leaf_layers(layer))
        else:
            layers.append(layer)
    return layers


def _output_shape(layer: Any) -> tuple[int | None, ...]:
    try:
        shape = layer.output.shape
    except (AttributeError, ValueError):
        shape = ()
    return tuple(shape[1:])


def _normalised_config(layer: Any) -> dict[str, Any]:
    config = layer.get_config()
    out: dict[str, Any] = {}
    for key in _CONFIG_KEYS:
        if key not in config:
            continue
        value = config[key]
        if key == "activation" and not isinstance(value, str):
            value = getattr(value, "__name__", None) or (value or {}).get("config", {}).get("name") or str(value)
        if isinstance(value, tuple):
            value = list(value)
        out[key] = value
    return out


def _loss_name(model: Any) -> str | None:
    loss = getattr(model, "loss", None)
    if loss is None:
        return None
    if isinstance(loss, str):
        return loss
    return getattr(loss, "name", None) or getattr(loss, "__name__", None) or type(loss).__name__


def _from_logits(model: Any) -> bool:
    loss: Any = getattr(model, "loss", None)  # None, a string or a function too: the except below
    try:
        return bool((loss.get_config() or {}).get("from_logits", False))
    except Exception:  # a string or a plain function: Keras' default, probabilities
        return False


def _learning_rate(optimizer: Any) -> float | None:
    try:
        import keras

        return float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    except Exception:  # a schedule: no single learning rate to compare
        return None


def _metric_names(model: Any) -> tuple[str, ...] | None:
    from grader.train.modelconfig import metric_name

    try:
        metrics = (model.get_compile_config() or {}).get("metrics")
    except Exception:  # not compiled, or compiled in a way Keras cannot describe
        return None
    return tuple(metric_name(m) for m in metrics or [])


def model_facts(model: Any) -> ModelFacts:
    layers = tuple(
        LayerFacts(
            type=type(layer).__name__,
            name=clean(layer.name, 200),  # Keras allows any character but '/' in a name
            output=_output_shape(layer),
            params=int(layer.count_params()),
            config=_normalised_config(layer),
        )
        for layer in _leaf_layers(model)
    )
    optimizer = getattr(model, "optimizer", None)
    compiled = bool(getattr(model, "compiled", False)) and optimizer is not None
    return ModelFacts(
        input_shape=tuple(model.input_shape[1:]) if isinstance(model.input_shape, tuple) else (),
        output_shape=tuple(model.output_shape[1:]) if isinstance(model.output_shape, tuple) else (),
        layers=layers,
        total_params=int(model.count_params()),
        compiled=compiled,
        loss=_loss_name(model) if compiled else None,
        optimizer=type(optimizer).__name__ if compiled else None,
        learning_rate=_learning_rate(optimizer) if compiled else None,
        metrics=_metric_names(model) if compiled else None,
        from_logits=_from_logits(model) if compiled else False,
    )


def summary_rows(model: ModelFacts) -> list[tuple[str, str, str]]:
    """(layer, output shape, params) rows: a Keras-style summary that never gets cut at 80 columns."""
    from grader.checks.architecture import shape_text

    return [(f"{layer.name} ({layer.type})", shape_text(layer.output), f"{layer.params:,}") for layer in model.layers]
