"""Architecture checks: the observed layers against the spec, with hints a learner can act on.

Pure functions of (ArchitectureSpec, ModelFacts). Both layer lists are first brought to a
normal form (grader/checks/normal_form.py: Conv2D + Activation is Conv2D(activation=...),
Dropout before Flatten is Dropout after it), then aligned by an edit distance that weighs
settings as well as types, so an extra Dense before the output is reported as extra, not as a
wrong output layer. One mistake is one deduction: shape and parameter differences that follow
from a setting or a missing layer already reported are explained, not counted again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from grader.checks.keras2 import strides_hint
from grader.checks.normal_form import ELEMENTWISE, FOLDS_ACROSS, RESHAPING, normal_form, two_unit_softmax_as_sigmoid
from grader.checks.result import CheckResult, failed, passed
from grader.core.facts import LayerFacts, ModelFacts
from grader.spec import ArchitectureSpec, ArchitectureVariant, LayerSpec

# How the architecture points are shared between its four checks.
SHARES = {"input": 0.1, "layers": 0.4, "shapes": 0.2, "params": 0.3}

# What each kind of problem costs, as a fraction of its check's points (capped at all of them):
# a missing, extra or wrong layer costs half, one wrong setting a quarter, and an addition that
# does not change what the network learns (batch normalisation) a twentieth, without failing.
WEIGHTS = {"structure": 0.5, "config": 0.25, "harmless": 0.05, "shape": 0.5, "params": 0.5}
HARMLESS_ADDITIONS = frozenset({"BatchNormalization", "LayerNormalization"})
# Settings that decide a layer's output shape or its parameter count.
SHAPE_KEYS = frozenset({"filters", "units", "kernel_size", "pool_size", "strides", "padding"})
PARAM_KEYS = frozenset({"filters", "units", "kernel_size"})
# Layers whose output has the shape of their input: a missing or extra one moves nothing after it.
SHAPE_PRESERVING = ELEMENTWISE | FOLDS_ACROSS | {"SpatialDropout2D", "LayerNormalization"}


def shape_text(shape: tuple[Any, ...] | list[Any]) -> str:
    return "x".join("?" if d is None else str(d) for d in shape) or "scalar"


@dataclass(frozen=True)
class Problem:
    message: str
    hint: str = ""
    kind: str = "config"  # a key of WEIGHTS


@dataclass
class Comparison:
    """How one architecture variant compares with the observed model."""

    variant: ArchitectureVariant
    structure: list[Problem] = field(default_factory=list)  # missing, extra or wrong layers
    config: list[Problem] = field(default_factory=list)
    shapes: list[Problem] = field(default_factory=list)
    params: list[Problem] = field(default_factory=list)
    explained: list[str] = field(default_factory=list)  # differences that follow from a problem above
    # (expected index or None, observed index or None) per row, in the normal forms' order
    alignment: list[tuple[int | None, int | None]] = field(default_factory=list)
    expected: list[LayerSpec] = field(default_factory=list)
    observed: list[LayerFacts] = field(default_factory=list)

    @property
    def layer_problems(self) -> list[Problem]:
        return self.structure + self.config

    @property
    def size(self) -> float:
        """How far the model is from this variant (to choose the closest variant)."""
        return sum(WEIGHTS[p.kind] for p in self.structure + self.config + self.shapes + self.params)


def compared_layers(spec: ArchitectureSpec, model: ModelFacts) -> list[LayerFacts]:
    return normal_form([layer for layer in model.layers if layer.type not in spec.ignore])


# --------------------------------------------------------------------------- alignment

# Pairing two layers of the same type costs less than dropping one and adding another (2), so a
# layer with a wrong setting is reported as that; layers of related types may be paired as a
# replacement (MaxPooling2D where AveragePooling2D was expected); any other pair costs more than
# a deletion plus an insertion, so it never happens.
FAMILIES = (
    {"MaxPooling2D", "AveragePooling2D"},
    {"Conv2D", "SeparableConv2D", "DepthwiseConv2D"},
    {"Dropout", "SpatialDropout2D", "GaussianDropout"},
    {"Flatten", "GlobalAveragePooling2D", "GlobalMaxPooling2D"},
)


def _pair_cost(exp: LayerSpec, obs: LayerFacts) -> float:
    if exp.type != obs.type:
        return 1.9 if any(exp.type in f and obs.type in f for f in FAMILIES) else 9.0
    cost = 0.3 * sum(not _same(want, obs.config.get(key)) for key, want in exp.config.items())
    if exp.output is not None and tuple(exp.output) != tuple(obs.output):
        cost += 0.1
    if exp.params is not None and exp.params != obs.params:
        cost += 0.1
    return min(cost, 1.5)


def align(expected: list[LayerSpec], observed: list[LayerFacts]) -> list[tuple[int | None, int | None]]:
    """The cheapest alignment (an edit distance): pairs, and None where a layer has no partner."""
    n, m = len(expected), len(observed)
    inf = float("inf")
    cost = [[inf] * (m + 1) for _ in range(n + 1)]
    cost[n][m] = 0.0
    # Filled from the end, so that ties keep the earliest layers paired and report the later
    # ones as missing or extra ("missing Conv2D after the MaxPooling2D").
    for i in range(n, -1, -1):
        for j in range(m, -1, -1):
            if i == n and j == m:
                continue
            best = inf
            if i < n and j < m:
                best = _pair_cost(expected[i], observed[j]) + cost[i + 1][j + 1]
            if i < n:
                best = min(best, 1.0 + cost[i + 1][j])
            if j < m:
                best = min(best, 1.0 + cost[i][j + 1])
            cost[i][j] = best
    pairs: list[tuple[int | None, int | None]] = []
    i = j = 0
    while i < n or j < m:
        if i < n and j < m and abs(cost[i][j] - (_pair_cost(expected[i], observed[j]) + cost[i + 1][j + 1])) < 1e-9:
            pairs.append((i, j))
            i, j = i + 1, j + 1
        elif i < n and abs(cost[i][j] - (1.0 + cost[i + 1][j])) < 1e-9:
            pairs.append((i, None))
            i += 1
        else:
            pairs.append((None, j))
            j += 1
    return pairs


def compare(
    spec: ArchitectureSpec, variant: ArchitectureVariant, model: ModelFacts, input_matches: bool = True
) -> Comparison:
    expected = normal_form(list(variant.layers))
    observed = two_unit_softmax_as_sigmoid(compared_layers(spec, model), expected)
    result = Comparison(variant, expected=expected, observed=observed)
    result.alignment = align(expected, observed)
    labels = _ordinal_labels(expected)
    # True while the observed layers receive other shapes than the expected ones, because of a
    # problem already reported: differences downstream then follow from it.
    diverged = not input_matches
    for row, (i, j) in enumerate(result.alignment):
        if i is not None and j is not None:
            exp, obs = expected[i], observed[j]
            if exp.type != obs.type:
                result.structure.append(
                    Problem(
                        f"layer {j + 1} is {obs.type}, expected {labels[i]}",
                        f"replace {obs.describe()} with {_spec_text(exp)}",
                        "structure",
                    )
                )
                diverged = True
                continue
            diverged = _compare_pair(labels[i], exp, obs, result, diverged)
        elif i is not None:
            result.structure.append(_missing(expected, i, labels))
            diverged = diverged or expected[i].type not in SHAPE_PRESERVING
        else:
            assert j is not None
            previous = next((expected[p] for p, _ in reversed(result.alignment[:row]) if p is not None), None)
            result.structure.append(_extra(observed[j], j, previous))
            diverged = diverged or observed[j].type not in SHAPE_PRESERVING
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


def _missing(expected: list[LayerSpec], i: int, labels: list[str]) -> Problem:
    previous = expected[i - 1] if i > 0 else None
    if previous is None:
        where = "at the start"
    elif expected[i].type in ELEMENTWISE and previous.type in RESHAPING:
        where = f"just before or just after the {previous.type}"  # the same computation (normal form)
    else:
        where = f"after the {previous.type}"
    return Problem(f"missing {labels[i]} of the spec", f"add {_spec_text(expected[i])} {where}", "structure")


def _extra(layer: LayerFacts, j: int, previous: LayerSpec | None) -> Problem:
    where = f"after the {previous.type}" if previous is not None else "at the start"
    if layer.type == "Rescaling":
        return Problem(
            f"unexpected Rescaling (layer {j + 1}) {where}",
            "remove the Rescaling layer and scale the pixels in preprocess() instead: the grader "
            "prepares the test images the way preprocess() should, already scaled",
            "structure",
        )
    if layer.type in HARMLESS_ADDITIONS:
        return Problem(f"extra {layer.type} (layer {j + 1}) {where}: fine, it only steadies training", "", "harmless")
    return Problem(
        f"unexpected {layer.type} (layer {j + 1}) {where}",
        f"remove {layer.describe()}: the spec has no such layer there",
        "structure",
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


def _compare_pair(label: str, exp: LayerSpec, obs: LayerFacts, result: Comparison, diverged: bool) -> bool:
    """Compare one aligned pair; return whether the layers after it receive other shapes."""
    wrong = set()
    for key, want in exp.config.items():
        got = obs.config.get(key)
        if not _same(want, got):
            wrong.add(key)
            result.config.append(_config_problem(label, key, want, got))
    if exp.params is not None and exp.params != obs.params:
        if diverged or wrong & PARAM_KEYS:
            result.explained.append(f"{label} has {obs.params:,} parameters")
        else:
            result.params.append(_params_problem(label, exp, obs))
    if exp.output is None:
        return diverged
    if tuple(exp.output) == tuple(obs.output):
        return False
    if diverged or wrong & SHAPE_KEYS:
        result.explained.append(f"{label} outputs {shape_text(obs.output)}")
    else:
        result.shapes.append(_shape_problem(label, exp, obs))
    return True


def _config_problem(label: str, key: str, want: Any, got: Any) -> Problem:
    if key == "activation":
        if want == "softmax" and got == "sigmoid":
            return Problem(
                f"{label} uses sigmoid, expected softmax",
                "for several classes use activation='softmax': it turns the outputs into probabilities that sum to 1",
            )
        if want == "sigmoid" and got == "softmax":
            return Problem(
                f"{label} uses softmax, expected sigmoid",
                "softmax over a single output is always 1.0: use activation='sigmoid' for a yes/no (binary) output",
            )
        if got in (None, "linear"):
            return Problem(
                f"{label} has no activation, expected {want}",
                f"pass activation='{want}' (without it the layer is linear)",
            )
        return Problem(f"{label} uses activation {got}, expected {want}", f"pass activation='{want}'")
    if key == "filters":
        return Problem(f"{label} has {got} filters, expected {want}", f"use {label.split()[0]}({want}, ...)")
    if key == "units":
        return Problem(f"{label} has {got} units, expected {want}", f"use Dense({want}, ...)")
    if key in ("kernel_size", "pool_size"):
        return Problem(
            f"{label} has {key} {shape_text(got or [])}, expected {shape_text(want)}", f"pass {key}={tuple(want)}"
        )
    if key == "rate":
        return Problem(f"{label} drops {got}, expected rate {want}", f"use Dropout({want})")
    return Problem(f"{label} has {key}={got!r}, expected {want!r}", f"pass {key}={want!r}")


# What decides each kind of layer's output shape, for the hint when only the shape is wrong.
SHAPE_SETTINGS_HINT = {
    "Conv": "compare this layer's kernel_size, strides and padding with the challenge file",
    "MaxPooling": "compare this layer's pool_size, strides and padding with the challenge file",
    "AveragePooling": "compare this layer's pool_size, strides and padding with the challenge file",
    "Dense": "compare this layer's units with the challenge file",
}


def _shape_problem(label: str, exp: LayerSpec, obs: LayerFacts) -> Problem:
    message = f"{label} outputs {shape_text(obs.output)}, expected {shape_text(exp.output or ())}"
    config = obs.config
    if exp.type.startswith("Conv") and (
        hint := strides_hint(config.get("filters"), config.get("kernel_size"), config.get("strides"))
    ):
        return Problem(message, hint, "shape")
    if exp.type == "Conv2D" and obs.config.get("padding") == "same":
        return Problem(
            message,
            "use padding='valid' (the default): each 3x3 convolution then trims one pixel from every side",
            "shape",
        )
    return Problem(
        message,
        SHAPE_SETTINGS_HINT.get(exp.type.rstrip("123D"), "check this layer's settings against the challenge file"),
        "shape",
    )


def _params_problem(label: str, exp: LayerSpec, obs: LayerFacts) -> Problem:
    # Only called when the layer's settings and its input match the spec (else it is explained).
    return Problem(
        f"{label} has {obs.params:,} parameters, expected {exp.params:,}",
        "its settings and input look right: keep the defaults (use_bias=True, no extra weights)",
        "params",
    )


# --------------------------------------------------------------------------- the checks


def best_comparison(spec: ArchitectureSpec, model: ModelFacts, input_matches: bool = True) -> Comparison:
    """The variant the model is closest to (the main one wins ties)."""
    comparisons = [compare(spec, variant, model, input_matches) for variant in spec.variants]
    return min(comparisons, key=lambda c: c.size)


def matched_variant(spec: ArchitectureSpec, model: ModelFacts, input_shape: tuple[int, ...]) -> str | None:
    """The name of the variant the model matches (harmless additions allowed), if any."""
    if tuple(model.input_shape) != tuple(input_shape):
        return None
    best = best_comparison(spec, model)
    serious = [p for p in best.structure + best.config + best.shapes + best.params if p.kind != "harmless"]
    return best.variant.name if not serious else None


def _from_problems(
    id: str, title: str, points: float, problems: list[Problem], ok_message: str, explained: Sequence[str] = ()
) -> CheckResult:
    """Points in proportion to what is wrong: each problem costs its WEIGHTS share, harmless
    additions cost a little without failing the check."""
    lost = min(1.0, sum(WEIGHTS[p.kind] for p in problems))
    earned = points * (1.0 - lost)
    serious = [p for p in problems if p.kind != "harmless"]
    notes = [p.message for p in problems if p.kind == "harmless"]
    if explained:
        ok_message = (
            "no difference of its own; these follow from the layer problems above and are not counted "
            "again: " + "; ".join(explained[:4]) + ("; ..." if len(explained) > 4 else "")
        )
    if not serious:
        message = ok_message + (f" ({'; '.join(notes)})" if notes else "")
        return CheckResult(id, title, round(earned, 4), round(points, 4), True, message)
    first = serious[0]
    more = f" (and {len(serious) - 1} more)" if len(serious) > 1 else ""
    details = "; ".join(p.message for p in serious[1:4])
    message = first.message + more + (f": {details}" if details else "")
    return failed(id, title, points, message, first.hint, points=earned)


def check_input_shape(spec: ArchitectureSpec, expected: tuple[int, ...], model: ModelFacts) -> CheckResult:
    points = spec.points * SHARES["input"]
    got = tuple(model.input_shape)
    if got == tuple(expected):
        return passed("architecture.input", "Input shape", points, f"input {shape_text(expected)}")
    message = f"expected input {shape_text(expected)}, got {shape_text(got)}"
    if got == tuple(expected[:-1]):
        hint = (
            f"did you reshape the images? Conv2D needs a channels axis: use "
            f"keras.Input(shape={tuple(expected)}) and reshape in preprocess()"
        )
    else:
        hint = f"start the model with keras.Input(shape={tuple(expected)})"
    return failed("architecture.input", "Input shape", points, message, hint)


def check_architecture(spec: ArchitectureSpec, expected_input: tuple[int, ...], model: ModelFacts) -> list[CheckResult]:
    input_matches = tuple(model.input_shape) == tuple(expected_input)
    best = best_comparison(spec, model, input_matches)
    name = "" if best.variant.name == "main" else f" ({best.variant.name} variant)"
    n = len(best.variant.layers)
    shapes_explained = [e for e in best.explained if " outputs " in e]
    params_explained = [e for e in best.explained if " parameters" in e]
    return [
        check_input_shape(spec, expected_input, model),
        _from_problems(
            "architecture.layers",
            "Layers and settings",
            spec.points * SHARES["layers"],
            best.layer_problems,
            f"{n} layers in the expected order{name}",
        ),
        _from_problems(
            "architecture.shapes",
            "Output shapes",
            spec.points * SHARES["shapes"],
            best.shapes,
            "every layer outputs the expected shape",
            shapes_explained,
        ),
        _from_problems(
            "architecture.params",
            "Parameter counts",
            spec.points * SHARES["params"],
            best.params,
            f"{model.total_params:,} parameters, layer by layer as expected",
            params_explained,
        ),
    ]


def layer_table(spec: ArchitectureSpec, expected_input: tuple[int, ...], model: ModelFacts) -> list[dict[str, Any]]:
    """The learner's layers beside the closest variant's, row by row as the checks aligned them
    (both in normal form: a folded activation shows as "conv2d + activation")."""
    best = best_comparison(spec, model, tuple(model.input_shape) == tuple(expected_input))
    rows = []
    for i, j in best.alignment:
        obs = best.observed[j] if j is not None else None
        exp = best.expected[i] if i is not None else None
        rows.append(
            {
                "yours": None
                if obs is None
                else {"name": obs.name, "type": obs.type, "output": list(obs.output), "params": obs.params},
                "expected": None
                if exp is None
                else {
                    "type": exp.type,
                    "output": list(exp.output) if exp.output is not None else None,
                    "params": exp.params,
                },
            }
        )
    return rows
