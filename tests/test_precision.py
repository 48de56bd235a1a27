"""A profile's `precision`: the trainer computes in it, the learner's description stays float32.

grader/train/precision.py rewrites the validated config's dtype policies; the output layers
stay float32. The grading test trains on a few real Fashion-MNIST images.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grader import pipeline
from grader.keras_support import backend
from grader.spec import SpecError, load_spec
from grader.submission.files import TRAINED_MODEL_FILE
from grader.train.precision import FLOAT32, MIXED_BFLOAT16, with_precision
from tests.grading import fashion_submission, tiny_spec

keras = backend.import_keras()


def policies(config: dict) -> dict[str, object]:
    """Each layer's dtype as the config says it: a policy's name, or an input layer's dtype."""
    out = {}
    for layer in config["config"]["layers"]:
        dtype = layer["config"]["dtype"]
        out[layer["config"]["name"]] = dtype["config"]["name"] if isinstance(dtype, dict) else dtype
    return out


def sequential_config() -> dict:
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1), name="pixels"),
            keras.layers.Conv2D(2, 3, name="conv"),
            keras.layers.Flatten(name="flat"),
            keras.layers.Dense(3, activation="softmax", name="out"),
        ]
    )
    return keras.saving.serialize_keras_object(model)


def test_float32_leaves_the_config_as_it_is():
    config = sequential_config()
    assert with_precision(config, FLOAT32) is config


def test_mixed_bfloat16_computes_the_hidden_layers_in_bfloat16_and_the_output_in_float32():
    config = sequential_config()
    rewritten = with_precision(config, MIXED_BFLOAT16)
    assert policies(rewritten) == {
        "pixels": "float32",
        "conv": "mixed_bfloat16",
        "flat": "mixed_bfloat16",
        "out": "float32",
    }
    assert policies(config)["conv"] == "float32"  # the description itself is not changed
    model = keras.saving.deserialize_keras_object(rewritten, safe_mode=True)
    assert [layer.compute_dtype for layer in model.layers] == ["bfloat16", "bfloat16", "float32"]


def test_a_functional_models_output_layer_stays_float32():
    inputs = keras.Input((4,), name="x")
    hidden = keras.layers.Dense(5, activation="relu", name="hidden")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax", name="out")(hidden))
    rewritten = with_precision(keras.saving.serialize_keras_object(model), MIXED_BFLOAT16)
    assert policies(rewritten) == {"x": "float32", "hidden": "mixed_bfloat16", "out": "float32"}


def test_an_unknown_precision_is_refused_by_name(tmp_path):
    with pytest.raises(ValueError, match="float32, mixed_bfloat16"):
        with_precision(sequential_config(), "bfloat16")
    spec = tiny_spec(tmp_path, "fashion")
    spec.write_text(spec.read_text() + 'precision = "fp16"\n')
    with pytest.raises(SpecError, match=r"\[profiles.tiny\] precision must be 'float32' or 'mixed_bfloat16'"):
        load_spec(spec)


def test_a_mixed_bfloat16_profile_trains_and_saves_a_mixed_precision_model(tmp_path, data_dir):
    spec = tiny_spec(tmp_path, "fashion", train_limit=512, epochs=1)
    spec.write_text(spec.read_text() + f'precision = "{MIXED_BFLOAT16}"\n')
    result = pipeline.grade(
        path=fashion_submission(tmp_path),
        spec_path=spec,
        profile="tiny",
        data_dir=data_dir,
        out_dir=tmp_path / "run",
        isolation="none",
    )
    assert result.error is None and result.metrics is not None
    assert 0.0 <= result.metrics["test_accuracy"] <= 1.0
    trained = keras.saving.load_model(Path(result.run_dir) / TRAINED_MODEL_FILE)
    computes = [layer.compute_dtype for layer in trained.layers]
    assert computes[-1] == "float32" and set(computes[:-1]) == {"bfloat16"}
    assert all(weight.dtype == "float32" for weight in trained.weights)  # mixed: the weights stay float32
    report = (Path(result.run_dir) / "report.html").read_text()
    assert "Could not draw" not in report  # the journey's bfloat16 feature maps reach the page as numbers
