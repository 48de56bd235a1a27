"""The number format the trainer computes in: a profile's `precision` (docs/spec.md).

"float32" (the default) is what every shipped tier was calibrated with. "mixed_bfloat16"
computes the layers in bfloat16 and keeps the weights in float32 (Keras' mixed precision). On a
CPU with AMX (Intel Xeon since Sapphire Rapids) it trains the fashion reference 1.8 times
faster; on one without (the AMD EPYC of earlier measurements) 2.6 times slower; either way it
changes the figures, so a host who turns it on re-measures the tiers with `grade calibrate`
(bench/results.md).

The learner's model is described in float32 (the sandboxed child never sees this setting): the
trainer rewrites the validated config's dtype policies before it rebuilds the model. The output
layers stay in float32, as Keras' mixed precision guide advises, so that a softmax's
probabilities keep their precision and the evaluation reads float32 outputs.
"""

from __future__ import annotations

from typing import Any

FLOAT32 = "float32"
MIXED_BFLOAT16 = "mixed_bfloat16"
PRECISIONS = (FLOAT32, MIXED_BFLOAT16)


def with_precision(config: dict[str, Any], precision: str) -> dict[str, Any]:
    """`config` (a serialised Sequential or Functional model) computing in `precision`."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}: use one of {', '.join(PRECISIONS)}")
    if precision == FLOAT32:
        return config
    rewritten = _policies(config, precision)
    for layer in _output_layers(rewritten):
        layer["config"]["dtype"] = _policies(layer["config"]["dtype"], FLOAT32)
    return rewritten


def _policies(value: Any, name: str) -> Any:
    """A copy of `value` with every dtype policy set to `name` (input layers' plain dtypes stay)."""
    if isinstance(value, list):
        return [_policies(item, name) for item in value]
    if not isinstance(value, dict):
        return value
    if value.get("class_name") == "DTypePolicy" and isinstance(value.get("config"), dict):
        return {**value, "config": {**value["config"], "name": name}}
    return {key: _policies(item, name) for key, item in value.items()}


def _output_layers(model: dict[str, Any]) -> list[dict[str, Any]]:
    """The layer configs of `model` whose outputs are the model's outputs."""
    body = model.get("config") or {}
    layers = [layer for layer in body.get("layers") or [] if isinstance(layer, dict)]
    if model.get("class_name") == "Sequential":
        outputs = layers[-1:]
    else:  # Functional: output_layers lists [name, node, tensor] (one, or a list of them)
        named = body.get("output_layers") or []
        if named and not isinstance(named[0], list):
            named = [named]
        names = {entry[0] for entry in named if entry}
        outputs = [layer for layer in layers if (layer.get("config") or {}).get("name") in names]
    return [
        layer
        for layer in outputs
        if isinstance(layer.get("config"), dict) and isinstance(layer["config"].get("dtype"), dict)
    ]
