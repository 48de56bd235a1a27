"""Crafted .keras files are refused before (or by) a safe load, each with a message that says why."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest

from grader.keras_support.modelfile import ModelFileError, load_checked, read_checked

keras = pytest.importorskip("keras")


def small_model(*layers):
    model = keras.Sequential([keras.Input((4,)), *layers, keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.fixture
def good(tmp_path) -> Path:
    path = tmp_path / "good.keras"
    small_model(keras.layers.Dense(3, activation="relu")).save(path)
    return path


def rewrite_config(source: Path, target: Path, change) -> Path:
    with zipfile.ZipFile(source) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(members["config.json"])
    change(config)
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return target


def test_a_plain_model_loads(good):
    model = load_checked(good)
    assert model.count_params() == 4 * 3 + 3 + 3 * 2 + 2


def test_lambda_layer_is_refused(tmp_path):
    path = tmp_path / "lambda.keras"
    small_model(keras.layers.Lambda(lambda x: x * 2)).save(path)
    with pytest.raises(ModelFileError, match="Lambda"):
        read_checked(path)


def test_custom_class_is_refused(good, tmp_path):
    def custom(config):
        layer = config["config"]["layers"][1]
        layer["module"], layer["registered_name"] = "evil.module", "evil>Dense"

    path = rewrite_config(good, tmp_path / "custom.keras", custom)
    with pytest.raises(ModelFileError, match="evil"):
        read_checked(path)


def test_function_reference_is_refused(good, tmp_path):
    def by_reference(config):
        config["config"]["layers"][1]["config"]["activation"] = {
            "module": "os",
            "class_name": "function",
            "config": "system",
            "registered_name": "function",
        }

    with pytest.raises(ModelFileError, match="system"):
        read_checked(rewrite_config(good, tmp_path / "function.keras", by_reference))


def test_zip_bomb_is_refused_without_inflating(tmp_path):
    path = tmp_path / "bomb.keras"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.json", "{}")
        with archive.open("model.weights.h5", "w") as member:
            block = b"\0" * (1 << 20)
            for _ in range(64):  # 64 MB of zeros, a few hundred kB on disk
                member.write(block)
    assert path.stat().st_size < 1 << 20
    with pytest.raises(ModelFileError, match="zip bomb"):
        read_checked(path)


def test_fifo_is_refused_without_waiting(tmp_path):
    path = tmp_path / "fifo.keras"
    os.mkfifo(path)
    with pytest.raises(ModelFileError, match="not a regular file"):
        read_checked(path)


def test_symlink_is_refused(good, tmp_path):
    link = tmp_path / "link.keras"
    link.symlink_to(good)
    with pytest.raises(ModelFileError, match="link"):
        read_checked(link)


def test_wrong_weight_shapes_are_refused(good, tmp_path):
    def wider(config):
        config["config"]["layers"][1]["config"]["units"] = 5  # the weights file still holds 3 units

    path = rewrite_config(good, tmp_path / "shapes.keras", wider)
    read_checked(path)  # a valid config...
    with pytest.raises(ModelFileError):
        load_checked(path)  # ...whose weights do not fit it


def test_not_an_archive_is_refused(tmp_path):
    path = tmp_path / "text.keras"
    path.write_text("print('hello')")
    with pytest.raises(ModelFileError, match="not a .keras archive"):
        read_checked(path)
