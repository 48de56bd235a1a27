"""Observed facts about a submission: plain data, no Keras.

The trusted parent process fills these in (from the saved model it re-loads, its own
evaluation, and what the child reports); the checks in `grader.checks` read only these.
Everything here converts to and from JSON-friendly dicts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Any


@dataclass(frozen=True)
class LayerFacts:
    type: str  # the Keras class name, e.g. "Conv2D"
    name: str
    output: tuple[int | None, ...]  # without the batch dimension
    params: int
    config: dict[str, Any] = field(default_factory=dict)  # normalised: lists, activation names

    def describe(self) -> str:
        return f"{self.type}({_short_config(self.config)})" if self.config else self.type


def _short_config(config: dict[str, Any]) -> str:
    keys = ("filters", "units", "kernel_size", "pool_size", "rate", "activation", "padding", "strides")
    parts = []
    for key in keys:
        if key in config and not (key == "activation" and config[key] == "linear"):
            value = config[key]
            parts.append(f"{key}={tuple(value) if isinstance(value, list) else value}")
    return ", ".join(parts)


@dataclass(frozen=True)
class ModelFacts:
    input_shape: tuple[int | None, ...]
    output_shape: tuple[int | None, ...]
    layers: tuple[LayerFacts, ...]
    total_params: int
    compiled: bool
    loss: str | None = None
    optimizer: str | None = None
    learning_rate: float | None = None
    metrics: tuple[str, ...] | None = None  # compile(metrics=...) by name, as the learner wrote it; None: unknown
    from_logits: bool = False  # the loss reads the outputs as logits (the grader reads them as probabilities)
    unused_compile: tuple[str, ...] = ()  # compile() settings the grader does not train with (noted, not refused)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelFacts:
        layers = tuple(
            LayerFacts(
                type=layer["type"],
                name=layer["name"],
                output=tuple(layer["output"]),
                params=layer["params"],
                config=layer["config"],
            )
            for layer in data["layers"]
        )
        metrics = data.get("metrics")
        return cls(
            **{
                **data,
                "layers": layers,
                "input_shape": tuple(data["input_shape"]),
                "output_shape": tuple(data["output_shape"]),
                "metrics": tuple(metrics) if metrics is not None else None,
            }
        )


@dataclass(frozen=True)
class PreprocessFacts:
    """What the learner's preprocess() returned for a probe batch of training images."""

    shape: tuple[int, ...]
    dtype: str
    min: float
    max: float
    max_abs_diff: float | None  # against the canonical preprocessing; None if shapes differ
    # c where preprocess() returned images / scale * c, reshaped (same numbers, one factor); None: not that
    factor: float | None = None


@dataclass(frozen=True)
class CallbackProbe:
    """The learner's callbacks, exercised directly with synthetic epoch logs."""

    count: int  # how many callbacks make_callbacks() returned
    # (accuracy in the logs, did the callbacks ask training to stop?) per epoch shown, for the
    # challenge's target; the accuracies are the parent's own, never the child's
    responses: tuple[tuple[float, bool], ...] = ()
    error: str | None = None
    names: tuple[str, ...] = ()  # their class names (first few), where the challenge grades no callback
    # The same for fresh callbacks made with a second target (a fixed number in place of the target fails)
    second_target: float = 0.0
    second_responses: tuple[tuple[float, bool], ...] = ()
    complete: bool = True  # an answer for every epoch shown, in both runs


@dataclass(frozen=True)
class Failure:
    """Why a stage of running the submission did not finish."""

    stage: str  # "read", "import", "preprocess", "build_model", "callbacks", "train", "save", "timeout", "crash"
    message: str
    hint: str = ""
    detail: str = ""  # traceback or the tail of the output, for the report


@dataclass(frozen=True)
class Metrics:
    """Accuracy measured by the parent on data the child did not label for it.

    The checks compare whole images (`*_images`: correct, of how many), never the rounded
    fractions: a gap that prints +0.0155 is within a limit of 0.0155.
    """

    test_accuracy: float
    train_accuracy: float
    validation_accuracy: float
    test_loss: float | None = None
    test_images: tuple[int, int] | None = None  # (correct, of how many); None: only the fraction is known
    train_images: tuple[int, int] | None = None
    validation_images: tuple[int, int] | None = None
    test_half: str = ""  # leaderboard mode: "public half" (the test figures are of it alone)

    @property
    def gap(self) -> float:
        return self.train_accuracy - self.validation_accuracy

    def exact_test_accuracy(self) -> Fraction:
        return _exact(self.test_images, self.test_accuracy)

    def exact_gap(self) -> Fraction:
        return _exact(self.train_images, self.train_accuracy) - _exact(self.validation_images, self.validation_accuracy)


def exact(number: float) -> Fraction:
    """A threshold as it is written (0.0155 is 31/2000), not its binary float."""
    return Fraction(repr(float(number)))


def _exact(images: tuple[int, int] | None, fraction: float) -> Fraction:
    return Fraction(images[0], images[1]) if images and images[1] else exact(fraction)


@dataclass(frozen=True)
class TrainingFacts:
    epochs_run: int
    epochs_allowed: int
    history: dict[str, list[float]]
    seconds: float
    nan_loss: bool = False
    stopped_for_time: bool = False  # ended before epochs_allowed because the next epoch would not fit
    budget_s: float | None = None
    killed: bool = False  # stopped by the deadline mid-epoch: the figures are of the last complete epoch


@dataclass
class SubmissionFacts:
    """Everything the checks may look at. Missing pieces are None: a stage failed earlier."""

    failure: Failure | None = None  # the first stage that failed: nothing after it was trained
    stage_failures: dict[str, Failure] = field(default_factory=dict)  # every failed stage, by name
    model: ModelFacts | None = None
    preprocess: PreprocessFacts | None = None
    callbacks: CallbackProbe | None = None
    training: TrainingFacts | None = None
    metrics: Metrics | None = None
    timed_out: bool = False
    seconds: dict[str, float] = field(default_factory=dict)
    # The test images were prepared as preprocess() prepared the training images (a reshape and one
    # factor the grader reproduced): a preprocess() mistake then costs its own row, not the tiers.
    prepared_as_trained: bool = False
