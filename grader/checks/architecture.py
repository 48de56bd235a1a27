"""Architecture checks: the observed layers against the spec, with hints a learner can act on.

Pure functions of (ArchitectureSpec, ModelFacts). The observed layers are aligned with the
expected ones by type (difflib), so a missing Dropout is reported as missing rather than as
every later layer being wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

from grader.checks.result import CheckResult, failed, passed
from grader.facts import LayerFacts, ModelFacts
from grader.spec import ArchitectureSpec, ArchitectureVariant, LayerSpec

# How the architecture points are shared between its four checks.
SHARES = {"input": 0.1, "layers": 0.4, "shapes": 0.2, "params": 0.3}


def shape_text(shape: tuple[Any, ...] | list[Any]) -> str:
    return "x".join("?" if d is None else str(d) for d in shape) or "scalar"


@dataclass(frozen=True)
class Problem:
    message: str
    hint: str = ""


@dataclass
class Comparison:
    """How one architecture variant compares with the observed model."""

    variant: ArchitectureVariant
    structure: list[Problem] = field(default_factory=list)  # missing, extra or wrong layers
    config: list[Problem] = field(default_factory=list)
    shapes: list[Problem] = field(default_factory=list)
    params: list[Problem] = field(default_factory=list)

    @property
    def layer_problems(self) -> list[Problem]:
        return self.structure + self.config

    @property
    def size(self) -> int:
        return len(self.structure) * 3 + len(self.config) + len(self.shapes) + len(self.params)


def compared_layers(spec: ArchitectureSpec, model: ModelFacts) -> list[LayerFacts]:
    return [layer for layer in model.layers if layer.type not in spec.ignore]


def compare(spec: ArchitectureSpec, variant: ArchitectureVariant, model: ModelFacts) -> Comparison:
    observed = compared_layers(spec, model)
    expected = list(variant.layers)
    result = Comparison(variant)
    labels = _ordinal_labels(expected)
    matcher = SequenceMatcher(a=[e.type for e in expected], b=[o.type for o in observed], autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for k in range(i2 - i1):
                _compare_pair(labels[i1 + k], expected[i1 + k], observed[j1 + k], result)
        elif tag == "delete":
            for i in range(i1, i2):
                result.structure.append(_missing(expected, i))
        elif tag == "insert":
            for j in range(j1, j2):
                result.structure.append(_extra(observed, j, expected, i1))
        else:  # replace
            for k in range(max(i2 - i1, j2 - j1)):
                i, j = i1 + k, j1 + k
                if i < i2 and j < j2:
                    exp, obs = expected[i], observed[j]
                    result.structure.append(Problem(
                        f"layer {j + 1} is {obs.type}, expected {labels[i]}",
                        f"replace {obs.describe()} with {_spec_text(exp)}",
                    ))
                elif i < i2:
                    result.structure.append(_missing(expected, i))
                else:
                    result.structure.append(_extra(observed, j, expected, i2))
    total = variant.total_params
    if total is not None and model.total_params != total and not result.params:
        result.params.append(Problem(
            f"the model has {model.total_params:,} parameters, expected {total:,}",
            "compare your layers with the expected summary above",
        ))
    return result


def _ordinal_labels(layers: list[LayerSpec]) -> list[str]:
    counts: dict[str, int] = {}
    labels = []
    for layer in layers:
        counts[layer.type] = counts.get(layer.type, 0) + 1
        labels.append(f"{layer.type} #{counts[layer.type]}")
    return labels


def _spec_text(layer: LayerSpec) -> str:
    args = ", ".join(f"{k}={tuple(v) if isinstance(v, list) else v!r}" for k, v in layer.config.items())
    return f"{layer.type}({args})"


def _missing(expected: list[LayerSpec], i: int) -> Problem:
    where = f"after the {expected[i - 1].type}" if i > 0 else "at the start"
    return Problem(
        f"missing {expected[i].type} (layer {i + 1} of {len(expected)} expected)",
        f"add {_spec_text(expected[i])} {where}",
    )


def _extra(observed: list[LayerFacts], j: int, expected: list[LayerSpec], i: int) -> Problem:
    where = f"after the {expected[i - 1].type}" if i > 0 else "at the start"
    return Problem(
        f"unexpected {observed[j].type} (layer {j + 1}) {where}",
        f"remove {observed[j].describe()}: the spec has no such layer there",
    )


# --------------------------------------------------------------------------- one layer


def _same(expected: Any, observed: Any) -> bool:
    if isinstance(expected, (list, tuple)):
        return isinstance(observed, (list, tuple)) and list(expected) == list(observed)
    if isinstance(expected, float) or isinstance(observed, float):
        try:
            return abs(float(expected) - float(observed)) < 1e-6
        except (TypeError, ValueError):
            return False
    return expected == observed


def _compare_pair(label: str, exp: LayerSpec, obs: LayerFacts, result: Comparison) -> None:
    for key, want in exp.config.items():
        got = obs.config.get(key)
        if not _same(want, got):
            result.config.append(_config_problem(label, key, want, got))
    if exp.output is not None and tuple(exp.output) != tuple(obs.output):
        result.shapes.append(_shape_problem(label, exp, obs))
    if exp.params is not None and exp.params != obs.params:
        result.params.append(_params_problem(label, exp, obs))


def _config_problem(label: str, key: str, want: Any, got: Any) -> Problem:
    if key == "activation":
        if want == "softmax" and got == "sigmoid":
            return Problem(f"{label} uses sigmoid, expected softmax",
                           "for several classes use activation='softmax': it turns the outputs into "
                           "probabilities that sum to 1")
        if want == "sigmoid" and got == "softmax":
            return Problem(f"{label} uses softmax, expected sigmoid",
                           "softmax over a single output is always 1.0: use activation='sigmoid' for a "
                           "yes/no (binary) output")
        if got in (None, "linear"):
            return Problem(f"{label} has no activation, expected {want}", f"pass activation='{want}'")
        return Problem(f"{label} uses activation {got}, expected {want}", f"pass activation='{want}'")
    if key == "filters":
        return Problem(f"{label} has {got} filters, expected {want}", f"use {label.split()[0]}({want}, ...)")
    if key == "units":
        return Problem(f"{label} has {got} units, expected {want}", f"use Dense({want}, ...)")
    if key in ("kernel_size", "pool_size"):
        return Problem(f"{label} has {key} {shape_text(got or [])}, expected {shape_text(want)}",
                       f"pass {key}={tuple(want)}")
    if key == "rate":
        return Problem(f"{label} drops {got}, expected rate {want}", f"use Dropout({want})")
    return Problem(f"{label} has {key}={got!r}, expected {want!r}", f"pass {key}={want!r}")


def _shape_problem(label: str, exp: LayerSpec, obs: LayerFacts) -> Problem:
    message = f"{label} outputs {shape_text(obs.output)}, expected {shape_text(exp.output or ())}"
    if exp.type == "Conv2D" and obs.config.get("padding") == "same":
        return Problem(message, "use padding='valid' (the default): each 3x3 convolution then trims one pixel "
                                "from every side")
    return Problem(message, "the layers before it change the size: check their kernel, pooling and strides")


def _params_problem(label: str, exp: LayerSpec, obs: LayerFacts) -> Problem:
    message = f"{label} has {obs.params:,} parameters, expected {exp.params:,}"
    for key, noun in (("filters", "filters"), ("units", "units")):
        want, got = exp.config.get(key), obs.config.get(key)
        if want is not None and got is not None and want != got:
            return Problem(message, f"did you use {got} {noun} instead of {want}?")
    want_k, got_k = exp.config.get("kernel_size"), obs.config.get("kernel_size")
    if want_k is not None and got_k is not None and list(want_k) != list(got_k):
        return Problem(message, f"did you use a {shape_text(got_k)} kernel instead of {shape_text(want_k)}?")
    return Problem(message, "the layer itself looks right, so its input has a different size: check the "
                            "layers before it (pooling, Flatten, the input shape)")


# --------------------------------------------------------------------------- the checks


def best_comparison(spec: ArchitectureSpec, model: ModelFacts) -> Comparison:
    """The variant the model is closest to (the main one wins ties)."""
    comparisons = [compare(spec, variant, model) for variant in spec.variants]
    return min(comparisons, key=lambda c: c.size)


def matched_variant(spec: ArchitectureSpec, model: ModelFacts, input_shape: tuple[int, ...]) -> str | None:
    """The name of the variant the model matches exactly, if any."""
    if tuple(model.input_shape) != tuple(input_shape):
        return None
    best = best_comparison(spec, model)
    return best.variant.name if best.size == 0 else None


def _from_problems(id: str, title: str, points: float, problems: list[Problem], ok_message: str) -> CheckResult:
    if not problems:
        return passed(id, title, points, ok_message)
    first = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    details = "; ".join(p.message for p in problems[1:4])
    message = first.message + more + (f": {details}" if details else "")
    return failed(id, title, points, message, first.hint)


def check_input_shape(spec: ArchitectureSpec, expected: tuple[int, ...], model: ModelFacts) -> CheckResult:
    points = spec.points * SHARES["input"]
    got = tuple(model.input_shape)
    if got == tuple(expected):
        return passed("architecture.input", "Input shape", points, f"input {shape_text(expected)}")
    message = f"expected input {shape_text(expected)}, got {shape_text(got)}"
    if got == tuple(expected[:-1]):
        hint = (f"did you reshape the images? Conv2D needs a channels axis: use "
                f"keras.Input(shape={tuple(expected)}) and reshape in preprocess()")
    else:
        hint = f"start the model with keras.Input(shape={tuple(expected)})"
    return failed("architecture.input", "Input shape", points, message, hint)


def check_architecture(spec: ArchitectureSpec, expected_input: tuple[int, ...], model: ModelFacts) -> list[CheckResult]:
    best = best_comparison(spec, model)
    name = "" if best.variant.name == "main" else f" ({best.variant.name} variant)"
    n = len(best.variant.layers)
    return [
        check_input_shape(spec, expected_input, model),
        _from_problems("architecture.layers", "Layers and settings", spec.points * SHARES["layers"],
                       best.layer_problems, f"{n} layers in the expected order{name}"),
        _from_problems("architecture.shapes", "Output shapes", spec.points * SHARES["shapes"],
                       best.shapes, "every layer outputs the expected shape"),
        _from_problems("architecture.params", "Parameter counts", spec.points * SHARES["params"],
                       best.params, f"{model.total_params:,} parameters, layer by layer as expected"),
    ]
