"""The reference solutions match their challenge specs exactly.

The specs are read straight from the TOML (not through grader.spec), so these tests are an
independent check of both: a spec and its solution that disagree fail here.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import tomllib

keras = pytest.importorskip("keras")

# Keras' TensorFlow backend trips NumPy 2's copy= deprecation inside train_on_batch: not ours.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

REPO = Path(__file__).resolve().parents[1]
NAMES = ["cats_dogs", "cnn", "fashion"]


def load_solution(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"solution_{name}", REPO / "solutions" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_spec(name: str) -> dict:
    with open(REPO / "challenges" / f"{name}.toml", "rb") as f:
        return tomllib.load(f)


@pytest.fixture(scope="module", params=NAMES)
def challenge(request):
    """(name, spec, solution module, its built model): built once per challenge."""
    name = request.param
    module = load_solution(name)
    return name, load_spec(name), module, module.build_model()


def graded_layers(model, spec: dict) -> list:
    """The layers the spec lists: InputLayer, the spec's `ignore` types and, where the spec has an
    [augmentation] table, the augmentation layers left out (docs/spec.md)."""
    ignore = {"InputLayer", *spec["architecture"].get("ignore", [])}
    return [
        layer
        for layer in model.layers
        if type(layer).__name__ not in ignore and not ("augmentation" in spec and is_augmentation(layer, spec))
    ]


def is_augmentation(layer, spec: dict) -> bool:
    kinds = spec["augmentation"].get("kinds")
    name = type(layer).__name__
    return name in kinds if kinds else name.startswith("Random")  # the default: Keras' random layers


def normalised(value):
    """Keras configs hold tuples where TOML has lists."""
    return list(value) if isinstance(value, tuple) else value


def test_every_model_challenge_is_here():
    # Challenges of kind "functions" (convolution) build no model: tests/test_convolution_challenge.py.
    models = [
        p.stem
        for p in (REPO / "challenges").glob("*.toml")
        if load_spec(p.stem)["challenge"].get("kind", "model") == "model"
    ]
    assert NAMES == sorted(models)


def test_layers_are_flat(challenge):
    _, _, _, model = challenge
    assert not any(isinstance(layer, keras.Model) for layer in model.layers), "no nested models"


def test_layer_types_in_order(challenge):
    _, spec, _, model = challenge
    expected = [layer["type"] for layer in spec["architecture"]["layers"]]
    assert [type(layer).__name__ for layer in graded_layers(model, spec)] == expected


def test_output_shapes_params_and_config_per_layer(challenge):
    _, spec, _, model = challenge
    for index, (want, layer) in enumerate(zip(spec["architecture"]["layers"], graded_layers(model, spec), strict=True)):
        where = f"layer {index} ({want['type']})"
        if "output" in want:
            assert list(layer.output.shape[1:]) == want["output"], where
        assert layer.count_params() == want.get("params", 0), where
        config = layer.get_config()
        for key, value in want.get("config", {}).items():
            assert normalised(config[key]) == value, f"{where}: {key}"


def test_total_params(challenge):
    _, spec, _, model = challenge
    assert model.count_params() == sum(layer.get("params", 0) for layer in spec["architecture"]["layers"])


def test_input_shape(challenge):
    _, spec, _, model = challenge
    assert list(model.input_shape[1:]) == spec["input"]["shape"]


def test_compiled_with_the_spec_loss_optimizer_and_accuracy(challenge):
    _, spec, _, model = challenge
    compile_spec = spec["compile"]
    assert model.compiled
    assert model.loss in compile_spec["loss"]
    assert "accuracy" in model.get_compile_config()["metrics"]
    if "optimizer" in compile_spec:
        assert type(model.optimizer).__name__.lower() in compile_spec["optimizer"]
    if "learning_rate" in compile_spec:
        assert float(model.optimizer.learning_rate) == pytest.approx(compile_spec["learning_rate"], rel=1e-6)


@pytest.mark.parametrize("name", [name for name in NAMES if "augmentation" in load_spec(name)])
def test_augmentation_kinds(name):
    spec = load_spec(name)
    model = load_solution(name).build_model()
    kinds = {type(layer).__name__ for layer in model.layers if is_augmentation(layer, spec)}
    assert len(kinds) >= spec["augmentation"]["min_kinds"]


@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")
def test_saved_model_reloads_in_safe_mode(challenge, tmp_path):
    # The grader saves the trained model and loads it again with safe_mode=True.
    _, _, _, model = challenge
    model.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    assert [type(layer).__name__ for layer in reloaded.layers] == [type(layer).__name__ for layer in model.layers]


def test_one_training_step_runs(challenge):
    _, spec, module, model = challenge
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(4, *raw_shape(spec)), dtype=np.uint8)
    classes = 2 if spec["challenge"]["task"] == "binary" else 10
    labels = rng.integers(0, classes, size=4)
    loss = model.train_on_batch(module.preprocess(images), labels)
    assert np.isfinite(np.ravel(loss)).all()


def raw_shape(spec: dict) -> tuple[int, ...]:
    """The shape of one raw image: (H, W) for grayscale, (H, W, 3) for colour."""
    height, width, channels = spec["input"]["shape"]
    return (height, width) if channels == 1 else (height, width, channels)


def test_preprocess_is_the_canonical_scaling(challenge):
    _, spec, module, _ = challenge
    images = np.random.default_rng(1).integers(0, 256, size=(3, *raw_shape(spec)), dtype=np.uint8)
    images[0, 0, 0] = 0
    images[0, 0, 1] = 255
    out = module.preprocess(images)
    assert out.dtype == np.float32
    assert list(out.shape) == [3, *spec["input"]["shape"]]
    assert out.min() == 0.0 and out.max() == 1.0
    expected = images.reshape(out.shape) / spec["input"]["scale"]
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_no_tensorflow_imports():
    # The grader may run a submission on the JAX or PyTorch backend: Keras 3 only.
    for name in NAMES:
        tree = ast.parse((REPO / "solutions" / f"{name}.py").read_text(encoding="utf-8"))
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        assert not any(module.split(".")[0] == "tensorflow" for module in imported), name


# --------------------------------------------------------------------------- callbacks


def test_fashion_callback_stops_exactly_at_the_target(capsys):
    fashion = load_solution("fashion")
    model = fashion.build_model()
    target = load_spec("fashion")["profiles"]["quick"]["target_accuracy"]
    callbacks = fashion.make_callbacks(target)
    assert len(callbacks) == 1 and isinstance(callbacks[0], keras.callbacks.Callback)
    callback = callbacks[0]
    callback.set_model(model)
    for accuracy, should_stop in [
        (target - 0.2, False),
        (target - 0.005, False),
        (target, True),
        (target + 0.005, True),
        (1.0, True),
    ]:
        model.stop_training = False
        callback.on_epoch_end(0, {"accuracy": accuracy, "loss": 1.0 - accuracy})
        assert model.stop_training is should_stop, f"accuracy {accuracy}"
    assert "stopping" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["cnn", "cats_dogs"])
def test_other_challenges_need_no_callbacks(name):
    assert load_solution(name).make_callbacks(0.9) == []


def test_importing_a_solution_does_no_work(capsys):
    for name in NAMES:
        load_solution(name)
    assert capsys.readouterr().out == ""
