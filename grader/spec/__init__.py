"""Challenge specs: the TOML file beside each challenge, read into frozen objects.

Every key has a documented default (docs/spec.md). Each table's keys, types and ranges are
declared once, as pydantic models (grader/spec/schema.py); loading validates the file and
raises SpecError naming the file, the table and the key that is wrong, so a host editing a
spec gets a precise message instead of a KeyError deep inside grading, and a misspelt key is
an error rather than silently ignored.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, create_model, field_validator, model_validator

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from grader import config
from grader.describe.sandbox.limits import DEFAULT_LIMITS, Limits
from grader.spec.schema import (
    Bool,
    Fraction,
    Int,
    NonNegativeNumber,
    PositiveInt,
    PositiveNumber,
    Shape,
    Str,
    Table,
    validate,
)
from grader.train.precision import FLOAT32, PRECISIONS

TASKS = ("multiclass", "binary")

# Every random augmentation layer Keras 3 ships: what [augmentation] accepts by default, and what
# the layer-by-layer comparison leaves to the augmentation check.
AUGMENTATION_LAYERS = (
    "RandomFlip",
    "RandomRotation",
    "RandomTranslation",
    "RandomZoom",
    "RandomShear",
    "RandomContrast",
    "RandomBrightness",
    "RandomCrop",
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
)


class SpecError(Exception):
    """A challenge spec that cannot be used, with the file and key that are wrong."""


@dataclass(frozen=True)
class LayerSpec:
    type: str
    output: tuple[int, ...] | None = None  # without the batch dimension; None: not checked
    params: int | None = None  # None: not checked
    config: dict[str, Any] = field(default_factory=dict)  # only the keys given are checked


@dataclass(frozen=True)
class ArchitectureVariant:
    name: str
    layers: tuple[LayerSpec, ...]

    @property
    def total_params(self) -> int | None:
        if any(layer.params is None for layer in self.layers):
            return None
        return sum(layer.params for layer in self.layers)  # type: ignore[misc]


@dataclass(frozen=True)
class ArchitectureSpec:
    points: float
    variants: tuple[ArchitectureVariant, ...]  # the first is the main one
    ignore: tuple[str, ...] = ("InputLayer",)

    @property
    def main(self) -> ArchitectureVariant:
        return self.variants[0]


class Tier(Table):
    min_accuracy: Fraction
    points: NonNegativeNumber
    architecture: Str | None = None  # only counts for a model matching this variant
    stretch: Bool = False  # a bonus: not needed to pass


# A profile's [sandbox] table: the keys of Limits (grader/describe/sandbox/limits.py), each a positive whole number.
# Any: mypy checks a ** dict's values against create_model's own keyword arguments (__config__, ...) too.
_SANDBOX_FIELDS: dict[str, Any] = {f.name: (PositiveInt, f.default) for f in dataclasses.fields(Limits)}
SandboxTable = create_model("SandboxTable", __base__=Table, **_SANDBOX_FIELDS)


class Profile(Table):
    name: Str = ""  # the table's key, [profiles.NAME]
    epochs: PositiveInt
    batch_size: PositiveInt = 32
    time_budget_s: PositiveNumber = 600.0
    tiers: tuple[Tier, ...] = ()  # sorted by min_accuracy
    train_limit: PositiveInt | None = None
    validation_limit: PositiveInt | None = None
    test_limit: PositiveInt | None = None
    target_accuracy: NonNegativeNumber = 0.99
    max_gap: NonNegativeNumber | None = None
    gap_points: NonNegativeNumber = 0.0
    accuracy_tolerance: NonNegativeNumber = 0.0
    # The trainer's number format (grader/train/precision.py): the tiers depend on it.
    precision: Literal[PRECISIONS] = FLOAT32  # type: ignore[valid-type]
    describe_budget_s: PositiveNumber = 120.0  # wall time of the sandboxed describe step (import, preprocess, build)
    sandbox: Limits = DEFAULT_LIMITS  # resource limits of the sandboxed child (grader/describe/sandbox/limits.py)
    # What one grading needs from a batch's machine (grade batch; Ray schedules by them): CPU cores,
    # a share of one GPU (0.25: four gradings train on one GPU at once) and memory, all processes together.
    cpus: PositiveInt = 1
    gpus: Fraction = 0.0
    memory_mb: PositiveInt = 4096

    @field_validator("tiers")
    @classmethod
    def _lowest_first(cls, tiers: tuple[Tier, ...]) -> tuple[Tier, ...]:
        return tuple(sorted(tiers, key=lambda tier: tier.min_accuracy))

    @field_validator("sandbox", mode="before")
    @classmethod
    def _limits(cls, table: Any) -> Limits:
        if isinstance(table, Limits):
            return table
        return Limits(**SandboxTable.model_validate(table).model_dump())


class CallbackSpec(Table):
    points: NonNegativeNumber = 10.0
    metric: Str = "accuracy"
    required: Bool = True  # false: the challenge has no callback check


class AugmentationSpec(Table):
    points: NonNegativeNumber = 10.0
    kinds: tuple[Str, ...] = AUGMENTATION_LAYERS
    min_kinds: PositiveInt = 1


# How big a submitted model may get, refused before any training (the trainer checks the model it
# built): by default a generous multiple of the reference, never under a floor that any sensible
# learner's model fits. A config within every unit cap can still ask for millions of values per
# image (UpSampling2D(size=400), a huge input shape) or a model file of gigabytes.
PARAMS_MULTIPLE, PARAMS_FLOOR = 16, 10_000_000
ACTIVATIONS_MULTIPLE, ACTIVATIONS_FLOOR = 8, 4_000_000


class SizeSpec(Table):
    max_params: PositiveInt | None = None  # the whole model's parameters (default: see above)
    max_activations: PositiveInt | None = None  # values one layer outputs for one image (default: see above)


class CompileSpec(Table):
    points: NonNegativeNumber = 5.0
    loss: tuple[Str, ...] = ()  # () in the file: the task's usual loss (see _parse)
    optimizer: tuple[Str, ...] = ()  # lower case
    learning_rate: PositiveNumber | None = None

    @field_validator("optimizer")
    @classmethod
    def _lower(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(name.lower() for name in names)


@dataclass(frozen=True)
class ChallengeSpec:
    name: str
    title: str
    dataset: str
    task: str
    input_shape: tuple[int, ...]
    input_scale: float
    architecture: ArchitectureSpec
    compile: CompileSpec
    preprocess_points: float
    profiles: dict[str, Profile]
    callback: CallbackSpec | None = None
    augmentation: AugmentationSpec | None = None
    path: Path | None = None
    kind: str = "model"  # the other kind, "functions", is a FunctionsSpec (grader/kinds/functions/spec.py)
    size: SizeSpec = SizeSpec()

    @property
    def max_params(self) -> int:
        if self.size.max_params is not None:
            return self.size.max_params
        reference = sum(layer.params or 0 for layer in self.architecture.main.layers)  # layers without weights: 0
        return max(PARAMS_MULTIPLE * reference, PARAMS_FLOOR)

    @property
    def max_activations(self) -> int:
        if self.size.max_activations is not None:
            return self.size.max_activations
        largest = max(
            [math.prod(self.input_shape)]
            + [math.prod(layer.output) for layer in self.architecture.main.layers if layer.output]
        )
        return max(ACTIVATIONS_MULTIPLE * largest, ACTIVATIONS_FLOOR)

    def profile(self, name: str) -> Profile:
        if name not in self.profiles:
            known = ", ".join(sorted(self.profiles))
            raise SpecError(f"challenge {self.name!r} has no profile {name!r}; it has: {known}")
        return self.profiles[name]

    @property
    def num_classes(self) -> int:
        last = self.architecture.main.layers[-1]
        return last.output[-1] if last.output else 1


# --------------------------------------------------------------------------- loading


def challenge_names(challenges_dir: Path = config.CHALLENGES_DIR) -> list[str]:
    return sorted(p.stem for p in challenges_dir.glob("*.toml"))


def spec_path_for(name: str, challenges_dir: Path = config.CHALLENGES_DIR) -> Path:
    path = challenges_dir / f"{name}.toml"
    if not path.is_file():
        known = ", ".join(challenge_names(challenges_dir)) or "none"
        raise SpecError(f"unknown challenge {name!r}; known challenges: {known}")
    return path


def load_spec(name_or_path: str | Path) -> ChallengeSpec:
    """Load a challenge spec by challenge name ('fashion') or by path to a TOML file."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = spec_path_for(str(name_or_path))
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpecError(f"spec file not found: {path}") from None
    except tomllib.TOMLDecodeError as err:
        raise SpecError(f"{path}: not valid TOML: {err}") from None
    try:
        return _parse(raw, path)
    except (SpecError, ValueError) as err:
        raise SpecError(f"{path}: {err}") from None


# --------------------------------------------------------------------------- the file's tables
# What each table of a model spec may hold (docs/spec.md). Profiles, tiers, [compile], [callback]
# and [augmentation] are read straight into the types above; the rest is assembled by _parse.


class LayerTable(Table):
    type: Str
    output: Shape | None = None
    params: Annotated[Int, Field(ge=0)] | None = None
    config: dict[str, Any] = Field(default_factory=dict)


class AlternativeTable(Table):
    name: Str
    layers: Annotated[tuple[LayerTable, ...], Field(min_length=1)]


class ArchitectureTable(Table):
    points: NonNegativeNumber = 30.0
    layers: Annotated[tuple[LayerTable, ...], Field(min_length=1)]
    alternatives: tuple[AlternativeTable, ...] = ()
    ignore: tuple[Str, ...] = ()


class ChallengeTable(Table):
    name: Str | None = None
    title: Str | None = None
    kind: Literal["model"] = "model"
    dataset: Str
    task: Literal[TASKS] = "multiclass"  # type: ignore[valid-type]


class InputTable(Table):
    shape: Shape
    scale: PositiveNumber = 255.0


class PreprocessTable(Table):
    points: NonNegativeNumber = 5.0


class ModelSpecFile(Table):
    challenge: ChallengeTable
    input: InputTable
    architecture: ArchitectureTable
    compile: CompileSpec = CompileSpec()
    preprocess: PreprocessTable = PreprocessTable()
    callback: CallbackSpec | None = None
    augmentation: AugmentationSpec | None = None
    size: SizeSpec = SizeSpec()
    profiles: Annotated[dict[Str, Profile], Field(min_length=1)]

    @field_validator("profiles", mode="before")
    @classmethod
    def _named(cls, profiles: Any) -> Any:
        """Each profile is named by its key: [profiles.quick] is "quick"."""
        if not isinstance(profiles, dict):
            return profiles
        for name, table in profiles.items():
            if isinstance(table, dict) and "name" in table:
                raise ValueError(f"[profiles.{name}] takes its name from its key: remove name = ...")
        return {name: {**table, "name": name} if isinstance(table, dict) else table for name, table in profiles.items()}

    @model_validator(mode="after")
    def _tiers_name_variants(self) -> ModelSpecFile:
        variants = {"main"} | {alt.name for alt in self.architecture.alternatives}
        for profile in self.profiles.values():
            for tier in profile.tiers:
                if tier.architecture is not None and tier.architecture not in variants:
                    raise ValueError(
                        f"[profiles.{profile.name}] a tier names architecture {tier.architecture!r}, "
                        f"but the spec defines only {sorted(variants)}"
                    )
        return self


class _KindOnly(BaseModel):
    """Just [challenge] kind, to choose the kind's schema."""

    class _Challenge(BaseModel):
        kind: Str = "model"

    challenge: _Challenge


def _layers(tables: tuple[LayerTable, ...]) -> tuple[LayerSpec, ...]:
    return tuple(LayerSpec(t.type, t.output, t.params, dict(t.config)) for t in tables)


def _parse(raw: dict[str, Any], path: Path) -> ChallengeSpec:
    kind = validate(_KindOnly, raw).challenge.kind
    if kind == "functions":  # NumPy functions checked against Keras layers: no model, data or training
        from grader.kinds.functions.spec import parse_functions_spec

        return parse_functions_spec(raw, path)  # type: ignore[return-value]
    if kind != "model":
        raise ValueError(f"[challenge] kind must be 'model' or 'functions', got {kind!r}")
    file = validate(ModelSpecFile, raw)
    arch = file.architecture
    variants = [ArchitectureVariant("main", _layers(arch.layers))]
    variants += [ArchitectureVariant(alt.name, _layers(alt.layers)) for alt in arch.alternatives]
    augmentation = file.augmentation
    ignored = ("InputLayer",) + arch.ignore + (augmentation.kinds if augmentation else ())
    compile_spec = file.compile
    if not compile_spec.loss:
        usual = "binary_crossentropy" if file.challenge.task == "binary" else "sparse_categorical_crossentropy"
        compile_spec = compile_spec.model_copy(update={"loss": (usual,)})
    callback = file.callback if file.callback is not None and file.callback.required else None
    return ChallengeSpec(
        name=file.challenge.name or path.stem,
        title=file.challenge.title or path.stem,
        dataset=file.challenge.dataset,
        task=file.challenge.task,
        input_shape=file.input.shape,
        input_scale=float(file.input.scale),
        architecture=ArchitectureSpec(
            points=float(arch.points), variants=tuple(variants), ignore=tuple(dict.fromkeys(ignored))
        ),
        compile=compile_spec,
        preprocess_points=float(file.preprocess.points),
        profiles=file.profiles,
        callback=callback,
        augmentation=augmentation,
        path=path,
        size=file.size,
    )
