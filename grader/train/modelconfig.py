"""The model a submission describes, checked as plain data before Keras ever sees it.

The sandboxed child returns `keras.saving.serialize_keras_object(model)` and
`model.get_compile_config()`. Keras' own `safe_mode` is a deny-list (it refuses Lambda
bytecode, not every function reference), so this is an allow-list: every object reference
in the document (a dict with "class_name") must name a built-in Keras class of an allowed
module, functions only activations by their built-in name, no registered custom objects,
no NumPy or tensor payloads, and sizes within bounds. Only a document that passes is handed
to Keras, by the trusted trainer. No Keras import here: pure data in, data or an error out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

LAYERS = frozenset(
    {
        "InputLayer",
        "Conv2D",
        "Conv1D",
        "SeparableConv2D",
        "DepthwiseConv2D",
        "MaxPooling2D",
        "AveragePooling2D",
        "MaxPooling1D",
        "AveragePooling1D",
        "GlobalAveragePooling2D",
        "GlobalMaxPooling2D",
        "Flatten",
        "Dense",
        "Dropout",
        "SpatialDropout2D",
        "GaussianNoise",
        "GaussianDropout",
        "Activation",
        "ReLU",
        "LeakyReLU",
        "ELU",
        "PReLU",
        "Softmax",
        "BatchNormalization",
        "LayerNormalization",
        "Rescaling",
        "Reshape",
        "Permute",
        "ZeroPadding2D",
        "Cropping2D",
        "UpSampling2D",
        "Resizing",
        "CenterCrop",
        "Concatenate",
        "Add",
        "Multiply",
        "Average",
        "Maximum",
        "RandomFlip",
        "RandomRotation",
        "RandomZoom",
        "RandomTranslation",
        "RandomContrast",
        "RandomBrightness",
        "RandomCrop",
        "RandomShear",
        "RandomGrayscale",
        "RandomHue",
        "RandomSaturation",
        "RandomColorJitter",
        "RandomColorDegeneration",
        "RandomSharpness",
        "RandomPosterization",
        "RandomInvert",
        "RandomErasing",
        "RandomGaussianBlur",
        "RandomElasticTransform",
        "RandomPerspective",
        "Solarization",
        "AugMix",
        "RandAugment",
        "MixUp",
        "CutMix",
        "AutoContrast",
        "Equalization",
    }
)
MODELS = frozenset({"Sequential", "Functional"})
# Initializers, regularizers and constraints take scalar settings only (a Constant holding a
# whole weight array would carry weights trained elsewhere into the trainer), and an
# initializer's own seed is dropped: the initial weights come from the grader's seed alone.
INITIALIZERS = frozenset(
    {
        "GlorotUniform",
        "GlorotNormal",
        "HeUniform",
        "HeNormal",
        "LecunUniform",
        "LecunNormal",
        "Zeros",
        "Ones",
        "Constant",
        "RandomUniform",
        "RandomNormal",
        "TruncatedNormal",
        "VarianceScaling",
        "Orthogonal",
        "Identity",
    }
)
SCALAR_ONLY_MODULES = frozenset({"keras.initializers", "keras.regularizers", "keras.constraints"})
# ...but for a constraint's axis, which may name a few axes (MaxNorm(axis=[0, 1, 2]) for a kernel).
SMALL_LIST_SETTINGS = frozenset({"axis"})
# No list of numbers in a config is longer than a shape, a kernel size or a short schedule:
# anything longer is a payload, not a setting.
MAX_LIST_NUMBERS = 32
OPTIMIZERS = frozenset({"Adam", "AdamW", "SGD", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam", "Ftrl", "Lion"})
SCHEDULES = frozenset(
    {
        "ExponentialDecay",
        "PiecewiseConstantDecay",
        "PolynomialDecay",
        "InverseTimeDecay",
        "CosineDecay",
        "CosineDecayRestarts",
    }
)
LOSSES = frozenset(
    {
        "SparseCategoricalCrossentropy",
        "CategoricalCrossentropy",
        "BinaryCrossentropy",
        "MeanSquaredError",
        "MeanAbsoluteError",
        "Hinge",
        "CategoricalHinge",
        "KLDivergence",
    }
)
METRICS = frozenset(
    {
        "Accuracy",
        "SparseCategoricalAccuracy",
        "CategoricalAccuracy",
        "BinaryAccuracy",
        "SparseTopKCategoricalAccuracy",
        "TopKCategoricalAccuracy",
        "Precision",
        "Recall",
        "AUC",
        "MeanSquaredError",
        "MeanAbsoluteError",
        "SparseCategoricalCrossentropy",
        "BinaryCrossentropy",
        "CategoricalCrossentropy",
        "Mean",
    }
)
ALLOWED_CLASSES: dict[str, frozenset[str]] = {
    "keras": MODELS | {"DTypePolicy", "FloatDTypePolicy"},
    "keras.src.models.functional": frozenset({"Functional"}),  # how Keras 3 names keras.Model(inputs, outputs)
    "keras.layers": LAYERS,
    "keras.initializers": INITIALIZERS,
    "keras.regularizers": frozenset({"L1", "L2", "L1L2", "OrthogonalRegularizer"}),
    "keras.constraints": frozenset({"MaxNorm", "NonNeg", "UnitNorm", "MinMaxNorm"}),
    "keras.optimizers": OPTIMIZERS,
    "keras.optimizers.schedules": SCHEDULES,
    "keras.losses": LOSSES,
    "keras.metrics": METRICS,
}
ACTIVATIONS = frozenset(
    {
        "relu",
        "sigmoid",
        "softmax",
        "tanh",
        "linear",
        "elu",
        "selu",
        "softplus",
        "softsign",
        "swish",
        "silu",
        "gelu",
        "leaky_relu",
        "relu6",
        "exponential",
        "hard_sigmoid",
        "hard_silu",
        "hard_swish",
        "mish",
        "log_softmax",
        "celu",
        "glu",
        "log_sigmoid",
        "sparse_plus",
        "squareplus",
        "tanh_shrink",
        "threshold",
    }
)
LOSS_NAMES = frozenset(
    {
        "sparse_categorical_crossentropy",
        "categorical_crossentropy",
        "binary_crossentropy",
        "mean_squared_error",
        "mse",
        "mean_absolute_error",
        "mae",
        "hinge",
        "kl_divergence",
    }
)
METRIC_NAMES = frozenset(
    {
        "accuracy",
        "acc",
        "sparse_categorical_accuracy",
        "categorical_accuracy",
        "binary_accuracy",
        "mse",
        "mae",
        "mean_squared_error",
        "mean_absolute_error",
        "sparse_top_k_categorical_accuracy",
        "top_k_categorical_accuracy",
        "crossentropy",
    }
)
# Keras' own wrappers for plain data in a config: a tuple (kernel_size=(3, 3) and the like), and
# in a functional model's graph a reference to another layer's output (its name and indices).
PLAIN_WRAPPERS = frozenset({"__tuple__", "__keras_tensor__"})

# Bounds on what a CNN for these challenges can reasonably hold (the trainer's memory limit is the last word).
MAX_LAYERS = 200
MAX_DEPTH = 40
MAX_SIZE_VALUES = {
    "units": 65_536,
    "filters": 8_192,
    "kernel_size": 64,
    "pool_size": 64,
    "strides": 64,
    "depth_multiplier": 64,
}
HINT = (
    "use only built-in Keras layers, activations by name (activation='relu'), and built-in optimizers and losses, "
    "with their usual arguments"
)


class ConfigRejected(Exception):
    """The described model is not one the grader will build. `hint` says what to change."""

    def __init__(self, message: str, hint: str = HINT):
        super().__init__(message)
        self.message, self.hint = message, hint


@dataclass(frozen=True)
class ModelDescription:
    """A validated model: Keras' serialised config and compile config (None: not compiled)."""

    config: dict[str, Any]
    compile: dict[str, Any] | None
    learner_metrics: tuple[str, ...] = ()  # the metrics as the learner compiled them, by name
    unused_compile: tuple[str, ...] = ()  # compile() settings the grader does not train with, as written


# Functions of other libraries that are Keras activations under another name: TensorFlow's
# softmax is serialised as `softmax_v2`, which Keras cannot look up again. Same computation
# (the last axis), so the grader rebuilds it under the Keras name.
ACTIVATION_ALIASES = {"softmax_v2": "softmax", "log_softmax_v2": "log_softmax", "sigmoid_v2": "sigmoid"}
# Layers whose saved config Keras cannot read back, and how to write the same layer readably.
SYMMETRIC_RANGE_LAYERS = {"RandomShear": ("x_factor", "y_factor")}


def repair(value: Any) -> Any:
    """Rewrite known Keras round-trip quirks into the same model, spelled so that Keras can
    rebuild it: activations by alias (tf.nn.softmax), RandomShear's saved factor ranges."""
    if isinstance(value, list):
        return [repair(item) for item in value]
    if not isinstance(value, dict):
        return value
    if (
        value.get("class_name") == "function"
        and value.get("module") in ("builtins", "keras.activations")
        and value.get("config") in ACTIVATION_ALIASES
    ):
        return ACTIVATION_ALIASES[value["config"]]
    out = {key: repair(item) for key, item in value.items()}
    if (
        out.get("module") == "keras.initializers"
        and isinstance(out.get("config"), dict)
        and out["config"].get("seed") is not None
    ):
        out["config"] = {**out["config"], "seed": None}  # the grader's seed decides the initial weights
    keys = SYMMETRIC_RANGE_LAYERS.get(out.get("class_name", ""))  # "": no such layer, as a missing name
    if keys and isinstance(out.get("config"), dict):
        config = dict(out["config"])
        for key in keys:
            factor = config.get(key)
            if isinstance(factor, dict) and factor.get("class_name") == "__tuple__":
                factor = (factor.get("config") or {}).get("value")
            # RandomShear(0.2) saves [-0.2, 0.2] and refuses a negative number when rebuilt.
            if (
                isinstance(factor, list)
                and len(factor) == 2
                and all(isinstance(f, (int, float)) for f in factor)
                and factor[0] == -factor[1]
                and factor[1] >= 0
            ):
                config[key] = factor[1]
        out["config"] = config
    return out


def validate(described: Any) -> ModelDescription:
    """Check what the child said about its model; raise ConfigRejected with a learner's hint."""
    if not isinstance(described, dict) or not isinstance(described.get("config"), dict):
        raise ConfigRejected("the model could not be described as a Keras config")
    config = repair(described["config"])
    if (
        config.get("class_name") not in MODELS
        or config.get("module") not in ALLOWED_CLASSES
        or config.get("class_name") not in ALLOWED_CLASSES[config.get("module")]
    ):
        raise ConfigRejected(
            f"build_model() returned a {config.get('class_name')!r} model, which the grader cannot rebuild",
            "build a keras.Sequential model or use the functional API; do not subclass keras.Model",
        )
    _walk(config, "model", depth=0)
    layers = config.get("config", {}).get("layers", [])
    if not isinstance(layers, list) or len(layers) > MAX_LAYERS:
        raise ConfigRejected(f"the model has more than {MAX_LAYERS} layers")
    compile_config = described.get("compile")
    learner_metrics: tuple[str, ...] = ()
    unused: tuple[str, ...] = ()
    if compile_config is not None:
        compile_config = validate_compile(compile_config)
        learner_metrics = compile_config.pop("learner_metrics")
        unused = compile_config.pop("unused")
    return ModelDescription(config, compile_config, learner_metrics, unused)


# The metrics whose log key is an accuracy (metrics=["acc"] logs "acc").
ACCURACY_METRICS = frozenset(
    {"accuracy", "acc", "sparse_categorical_accuracy", "categorical_accuracy", "binary_accuracy"}
)


def metric_name(metric: Any) -> str:
    """A metric's name as it appears in the training logs ('acc' stays 'acc')."""
    if isinstance(metric, str):
        return metric
    config = metric.get("config") if isinstance(metric, dict) else None
    name = config.get("name") if isinstance(config, dict) else None
    return str(name or (metric.get("class_name") if isinstance(metric, dict) else "") or "")


def grader_metrics(metrics: list[Any] | None) -> list[Any]:
    """The metrics the trainer compiles with: the learner's, with 'acc' spelled 'accuracy' and
    accuracy added when it is missing, so that the grader's own logs always hold 'accuracy'.
    (Metrics only measure: they never change what the model learns.)"""
    out = ["accuracy" if m == "acc" else m for m in (metrics or [])]
    if "accuracy" not in out:
        out.append("accuracy")
    return out


def validate_compile(config: Any) -> dict[str, Any]:
    if not isinstance(config, dict):
        raise ConfigRejected("the compile settings could not be read")
    optimizer, loss, metrics = config.get("optimizer"), config.get("loss"), config.get("metrics")
    if isinstance(optimizer, str):
        if optimizer.lower() not in {o.lower() for o in OPTIMIZERS}:
            raise ConfigRejected(f"optimizer {optimizer!r} is not a built-in Keras optimizer")
    else:
        _expect_object(optimizer, "keras.optimizers", "the optimizer")
        _walk(optimizer, "optimizer", 0)
    if isinstance(loss, str):
        if loss not in LOSS_NAMES:
            raise ConfigRejected(
                f"loss {loss!r} is not a built-in Keras loss",
                "pass the loss by its name, e.g. loss='sparse_categorical_crossentropy'",
            )
    elif loss is not None:
        _expect_object(loss, "keras.losses", "the loss")
        _walk(loss, "loss", 0)
    if metrics is not None:
        if not isinstance(metrics, list) or len(metrics) > 20:
            raise ConfigRejected("metrics must be a short list, e.g. metrics=['accuracy']")
        for metric in metrics:
            if isinstance(metric, str):
                if metric not in METRIC_NAMES:
                    raise ConfigRejected(
                        f"metric {metric!r} is not a built-in Keras metric", "use metrics=['accuracy']"
                    )
            else:
                _expect_object(metric, "keras.metrics", "a metric")
                _walk(metric, "metrics", 0)
    # The trainer decides how the loop runs and what it reports: these settings are noted (the
    # compile row names them), never refused, and the grader trains without them.
    unused = tuple(
        f"{key}={config[key]!r}" if not isinstance(config[key], (list, dict)) else f"{key}=..."
        for key, default in UNUSED_COMPILE_SETTINGS.items()
        if config.get(key) not in (default, None) and config.get(key) != []
    )
    return {
        "optimizer": optimizer,
        "loss": loss,
        "metrics": grader_metrics(metrics),
        "loss_weights": None,
        "weighted_metrics": None,
        "run_eagerly": False,
        "steps_per_execution": 1,
        "jit_compile": config.get("jit_compile") if isinstance(config.get("jit_compile"), bool) else "auto",
        "learner_metrics": tuple(metric_name(m) for m in metrics or []),
        "unused": unused,
    }


# compile() settings the trainer does not use, with their defaults (docs/spec.md, [compile]).
UNUSED_COMPILE_SETTINGS = {
    "loss_weights": None,
    "weighted_metrics": None,
    "run_eagerly": False,
    "steps_per_execution": 1,
}


def _expect_object(value: Any, module: str, what: str) -> None:
    if not isinstance(value, dict) or value.get("module") != module:
        raise ConfigRejected(f"{what} is not a built-in Keras object")


def _walk(value: Any, where: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ConfigRejected("the model's config is nested too deeply")
    if isinstance(value, dict):
        if "class_name" in value or "module" in value or "registered_name" in value:
            _check_reference(value, where)
        for key, item in value.items():
            if not isinstance(key, str):
                raise ConfigRejected(f"{where}: a config key is not text")
            if key in MAX_SIZE_VALUES:
                _check_size(key, item, where)
            if key == "activation":
                _check_activation(item, where)
            _walk(item, f"{where}.{key}", depth + 1)
    elif isinstance(value, list):
        if _numbers_in(value) > MAX_LIST_NUMBERS:
            raise ConfigRejected(
                f"{where}: a list of more than {MAX_LIST_NUMBERS} numbers, which is not a setting "
                f"of any layer the grader accepts",
                "the initial weights come from the grader's seed: do not pass arrays of weights "
                "or other data to layers or initializers",
            )
        for index, item in enumerate(value):
            _walk(item, f"{where}[{index}]", depth + 1)
    elif not (value is None or isinstance(value, (bool, int, float, str))):
        raise ConfigRejected(f"{where}: {type(value).__name__} is not plain data")


def _check_reference(obj: dict[str, Any], where: str) -> None:
    module, name, registered = obj.get("module"), obj.get("class_name"), obj.get("registered_name")
    if name in PLAIN_WRAPPERS and module is None:
        return
    if name == "function":  # a function by reference: only built-in activations, by name
        if module == "keras.activations" and obj.get("config") in ACTIVATIONS and registered in (None, "function"):
            return
        raise ConfigRejected(
            f"{where}: refers to the function {obj.get('config')!r} of {module!r}",
            "pass activations by name, e.g. activation='relu', not a function object",
        )
    allowed = ALLOWED_CLASSES.get(module or "")
    if allowed is None or name not in allowed:
        what = f"{module}.{name}" if module else str(name)
        if name == "Lambda":
            raise ConfigRejected(
                f"{where}: a Lambda layer runs your own Python code, which the grader does not run",
                "replace the Lambda with built-in layers (Rescaling, Reshape, Activation...)",
            )
        raise ConfigRejected(f"{where}: {what} is not a built-in Keras class the grader accepts")
    if registered not in (None, name):
        raise ConfigRejected(
            f"{where}: {name} is registered as the custom object {registered!r}",
            "use Keras' own class, not a subclass or a registered custom object",
        )
    if module in SCALAR_ONLY_MODULES:
        _check_scalar_settings(obj, where)


def _numbers_in(value: list[Any]) -> int:
    """How many numbers a list holds, nested lists included (a 2-D array spelled as lists)."""
    count, stack = 0, [value]
    while stack:
        for item in stack.pop():
            if isinstance(item, list):
                stack.append(item)
            elif isinstance(item, (int, float)) and not isinstance(item, bool):
                count += 1
    return count


def _check_scalar_settings(obj: dict[str, Any], where: str) -> None:
    """An initializer, regularizer or constraint: every setting a single number, text or flag."""
    settings = obj.get("config")
    if settings is None:
        return
    if not isinstance(settings, dict):
        raise ConfigRejected(f"{where}: the settings of {obj.get('class_name')} are not readable")
    for key, item in settings.items():
        if item is None or isinstance(item, (bool, int, float, str)):
            continue
        if (
            key in SMALL_LIST_SETTINGS
            and isinstance(item, list)
            and len(item) <= 8
            and all(isinstance(i, int) and not isinstance(i, bool) for i in item)
        ):
            continue
        raise ConfigRejected(
            f"{where}: {obj.get('class_name')}({key}=...) holds {type(item).__name__} data, not a single number",
            "the initial weights come from the grader's seed: give initializers single numbers "
            "(for example keras.initializers.Constant(0.1)), never arrays of weights",
        )


def _check_activation(value: Any, where: str) -> None:
    if value is None or isinstance(value, dict):
        return  # a dict is checked as a reference
    if not isinstance(value, str) or value not in ACTIVATIONS:
        raise ConfigRejected(
            f"{where}: activation {value!r} is not a built-in Keras activation",
            "use an activation by name, e.g. activation='relu'",
        )


def _check_size(key: str, value: Any, where: str) -> None:
    limit = MAX_SIZE_VALUES[key]
    if isinstance(value, dict) and value.get("class_name") == "__tuple__":
        value = value.get("config", {}).get("value")
    numbers = value if isinstance(value, list) else [value]
    for number in numbers:
        if number is None:
            continue
        if not isinstance(number, int) or isinstance(number, bool) or not 0 < number <= limit:
            raise ConfigRejected(
                f"{where}.{key} = {value!r}: expected whole numbers from 1 to {limit:,}", f"use a sensible {key}"
            )
