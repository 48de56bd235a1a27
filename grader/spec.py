"""Challenge specs: the TOML file beside each challenge, read into plain dataclasses.

Every key has a documented default (docs/spec.md). Loading validates the file and
raises SpecError with the key that is wrong, so a host editing a spec gets a precise
message instead of a KeyError deep inside grading.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from grader import config
from grader.sandbox.limits import DEFAULT_LIMITS, Limits

TASKS = ("multiclass", "binary")

# Every random augmentation layer Keras 3 ships: what [augmentation] accepts by default, and what
# the layer-by-layer comparison leaves to the augmentation check.
AUGMENTATION_LAYERS = (
    "RandomFlip", "RandomRotation", "RandomTranslation", "RandomZoom", "RandomShear", "RandomContrast",
    "RandomBrightness", "RandomCrop", "RandomGrayscale", "RandomHue", "RandomSaturation", "RandomColorJitter",
    "RandomColorDegeneration", "RandomSharpness", "RandomPosterization", "RandomInvert", "RandomErasing",
    "RandomGaussianBlur", "RandomElasticTransform", "RandomPerspective", "Solarization", "AugMix",
    "RandAugment", "MixUp", "CutMix",
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


@dataclass(frozen=True)
class Tier:
    min_accuracy: float
    points: float
    architecture: str | None = None  # only counts for a model matching this variant
    stretch: bool = False  # a bonus: not needed to pass


@dataclass(frozen=True)
class Profile:
    name: str
    epochs: int
    batch_size: int
    time_budget_s: float
    tiers: tuple[Tier, ...]
    train_limit: int | None = None
    validation_limit: int | None = None
    test_limit: int | None = None
    target_accuracy: float = 0.99
    max_gap: float | None = None
    gap_points: float = 0.0
    accuracy_tolerance: float = 0.0
    describe_budget_s: float = 120.0  # wall time of the sandboxed describe step (import, preprocess, build)
    sandbox: Limits = DEFAULT_LIMITS  # resource limits of the sandboxed child (grader/sandbox/limits.py)
    # What one grading needs from a batch's machine (grade batch; Ray schedules by them): CPU cores,
    # a share of one GPU (0.25: four gradings train on one GPU at once) and memory, all processes together.
    cpus: int = 1
    gpus: float = 0.0
    memory_mb: int = 4096


@dataclass(frozen=True)
class CallbackSpec:
    points: float
    metric: str = "accuracy"


@dataclass(frozen=True)
class AugmentationSpec:
    points: float
    kinds: tuple[str, ...]
    min_kinds: int


@dataclass(frozen=True)
class CompileSpec:
    points: float
    loss: tuple[str, ...]
    optimizer: tuple[str, ...] = ()
    learning_rate: float | None = None


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
    kind: str = "model"  # the other kind, "functions", is a FunctionsSpec (grader/functions_spec.py)

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
    except SpecError as err:
        raise SpecError(f"{path}: {err}") from None


class _Table:
    """A TOML table with typed getters whose errors name the key."""

    def __init__(self, raw: dict[str, Any], where: str):
        if not isinstance(raw, dict):
            raise SpecError(f"[{where}] must be a table")
        self.raw, self.where = raw, where

    def _get(self, key: str, default: Any, kinds: tuple[type, ...], kind_name: str) -> Any:
        if key not in self.raw:
            if default is _REQUIRED:
                raise SpecError(f"[{self.where}] is missing the required key {key!r}")
            return default
        value = self.raw[key]
        if not isinstance(value, kinds) or isinstance(value, bool) and bool not in kinds:
            raise SpecError(f"[{self.where}] {key} must be {kind_name}, got {value!r}")
        return value

    def str(self, key: str, default: Any = None) -> Any:
        return self._get(key, default, (str,), "a string")

    def num(self, key: str, default: Any = None) -> Any:
        value = self._get(key, default, (int, float), "a number")
        return float(value) if value is not None and value is not _REQUIRED else value

    def int(self, key: str, default: Any = None) -> Any:
        return self._get(key, default, (int,), "an integer")

    def bool(self, key: str, default: Any = None) -> Any:
        return self._get(key, default, (bool,), "true or false")

    def strs(self, key: str, default: Any = ()) -> tuple[str, ...]:
        value = self._get(key, default, (list, tuple), "a list of strings")
        if not all(isinstance(v, str) for v in value):
            raise SpecError(f"[{self.where}] {key} must be a list of strings")
        return tuple(value)

    def shape(self, key: str, default: Any = None) -> tuple[int, ...] | None:
        value = self._get(key, default, (list, tuple), "a list of positive integers")
        if value is None or value is _REQUIRED:
            return value
        if not value or not all(isinstance(v, int) and v > 0 for v in value):
            raise SpecError(f"[{self.where}] {key} must be a list of positive integers, got {value!r}")
        return tuple(value)

    def table(self, key: str, required: bool = False) -> "_Table | None":
        if key not in self.raw:
            if required:
                raise SpecError(f"the table [{self.where}.{key}] is missing".replace("[.", "["))
            return None
        return _Table(self.raw[key], f"{self.where}.{key}".lstrip("."))


_REQUIRED = object()


def _parse_layers(items: Any, where: str) -> tuple[LayerSpec, ...]:
    if not isinstance(items, list) or not items:
        raise SpecError(f"[{where}] layers must be a non-empty list of tables")
    layers = []
    for index, item in enumerate(items, start=1):
        t = _Table(item, f"{where}.layers #{index}")
        layers.append(
            LayerSpec(
                type=t.str("type", _REQUIRED),
                output=t.shape("output"),
                params=t.int("params"),
                config=dict(t._get("config", {}, (dict,), "a table")),
            )
        )
    return tuple(layers)


def _parse_limits(t: _Table) -> Limits:
    table = t._get("sandbox", {}, (dict,), "a table")
    try:
        return Limits.from_table(table, f"[{t.where}.sandbox]")
    except ValueError as err:
        raise SpecError(str(err)) from None


def _parse_profile(name: str, t: _Table) -> Profile:
    tiers = []
    for index, item in enumerate(t._get("tiers", [], (list,), "a list of tables"), start=1):
        tier = _Table(item, f"{t.where}.tiers #{index}")
        tiers.append(
            Tier(
                min_accuracy=tier.num("min_accuracy", _REQUIRED),
                points=tier.num("points", _REQUIRED),
                architecture=tier.str("architecture"),
                stretch=tier.bool("stretch", False),
            )
        )
    profile = Profile(
        name=name,
        epochs=t.int("epochs", _REQUIRED),
        batch_size=t.int("batch_size", 32),
        time_budget_s=t.num("time_budget_s", 600.0),
        tiers=tuple(sorted(tiers, key=lambda tier: tier.min_accuracy)),
        train_limit=t.int("train_limit"),
        validation_limit=t.int("validation_limit"),
        test_limit=t.int("test_limit"),
        target_accuracy=t.num("target_accuracy", 0.99),
        max_gap=t.num("max_gap"),
        gap_points=t.num("gap_points", 0.0),
        accuracy_tolerance=t.num("accuracy_tolerance", 0.0),
        describe_budget_s=t.num("describe_budget_s", 120.0),
        sandbox=_parse_limits(t),
        cpus=t.int("cpus", 1),
        gpus=t.num("gpus", 0.0),
        memory_mb=t.int("memory_mb", 4096),
    )
    if profile.epochs < 1 or profile.batch_size < 1 or profile.time_budget_s <= 0:
        raise SpecError(f"[{t.where}] epochs, batch_size and time_budget_s must be positive")
    if profile.cpus < 1 or profile.memory_mb < 1 or not 0 <= profile.gpus <= 1:
        raise SpecError(f"[{t.where}] cpus and memory_mb must be positive, gpus a share of one GPU from 0 to 1")
    return profile


def _parse(raw: dict[str, Any], path: Path) -> ChallengeSpec:
    top = _Table(raw, "")
    challenge = top.table("challenge", required=True)
    kind = challenge.str("kind", "model")
    if kind == "functions":  # NumPy functions checked against Keras layers: no model, data or training
        from grader.functions_spec import parse_functions_spec

        return parse_functions_spec(raw, path)  # type: ignore[return-value]
    if kind != "model":
        raise SpecError(f"[challenge] kind must be 'model' or 'functions', got {kind!r}")
    task = challenge.str("task", "multiclass")
    if task not in TASKS:
        raise SpecError(f"[challenge] task must be one of {TASKS}, got {task!r}")

    inputs = top.table("input", required=True)
    arch = top.table("architecture", required=True)
    variants = [ArchitectureVariant("main", _parse_layers(arch.raw.get("layers"), "architecture"))]
    for index, alt in enumerate(arch._get("alternatives", [], (list,), "a list of tables"), 1):
        alt_t = _Table(alt, f"architecture.alternatives #{index}")
        variants.append(ArchitectureVariant(alt_t.str("name", _REQUIRED), _parse_layers(alt.get("layers"), alt_t.where)))
    aug_t = top.table("augmentation")
    augmentation = None
    if aug_t is not None:
        augmentation = AugmentationSpec(
            points=aug_t.num("points", 10.0),
            kinds=aug_t.strs("kinds", AUGMENTATION_LAYERS),
            min_kinds=aug_t.int("min_kinds", 1),
        )
    ignored = ("InputLayer",) + arch.strs("ignore") + (augmentation.kinds if augmentation else ())
    architecture = ArchitectureSpec(
        points=arch.num("points", 30.0),
        variants=tuple(variants),
        ignore=tuple(dict.fromkeys(ignored)),
    )

    compile_t = top.table("compile") or _Table({}, "compile")
    default_loss = "binary_crossentropy" if task == "binary" else "sparse_categorical_crossentropy"
    compile_spec = CompileSpec(
        points=compile_t.num("points", 5.0),
        loss=compile_t.strs("loss", (default_loss,)),
        optimizer=tuple(o.lower() for o in compile_t.strs("optimizer")),
        learning_rate=compile_t.num("learning_rate"),
    )

    callback_t = top.table("callback")
    callback = None
    if callback_t is not None and callback_t.bool("required", True):
        callback = CallbackSpec(points=callback_t.num("points", 10.0), metric=callback_t.str("metric", "accuracy"))

    preprocess_t = top.table("preprocess") or _Table({}, "preprocess")
    profiles_t = top.table("profiles", required=True)
    profiles = {name: _parse_profile(name, profiles_t.table(name)) for name in profiles_t.raw}
    if not profiles:
        raise SpecError("[profiles] must define at least one profile, e.g. [profiles.quick]")
    variant_names = {v.name for v in variants}
    for profile in profiles.values():
        for tier in profile.tiers:
            if tier.architecture is not None and tier.architecture not in variant_names:
                raise SpecError(
                    f"[profiles.{profile.name}] a tier names architecture {tier.architecture!r}, "
                    f"but the spec defines only {sorted(variant_names)}"
                )

    return ChallengeSpec(
        name=challenge.str("name", path.stem),
        title=challenge.str("title", path.stem),
        dataset=challenge.str("dataset", _REQUIRED),
        task=task,
        input_shape=inputs.shape("shape", _REQUIRED),
        input_scale=inputs.num("scale", 255.0),
        architecture=architecture,
        compile=compile_spec,
        preprocess_points=preprocess_t.num("points", 5.0),
        profiles=profiles,
        callback=callback,
        augmentation=augmentation,
        path=path,
    )
