"""Spec validation: every shipped spec loads, and a host's mistake gets a line naming the table and key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from grader import config
from grader.spec import SpecError, challenge_names, load_spec

FASHION = (config.CHALLENGES_DIR / "fashion.toml").read_text()
CONVOLUTION = (config.CHALLENGES_DIR / "convolution.toml").read_text()


def _load(tmp_path: Path, text: str, name: str = "fashion") -> str:
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    with pytest.raises(SpecError) as err:
        load_spec(path)
    message = str(err.value)
    assert message.startswith(f"{path}: "), message  # always the file first
    return message.removeprefix(f"{path}: ")


def test_every_shipped_spec_loads_with_its_documented_defaults():
    names = challenge_names()
    assert {"fashion", "cnn", "cats_dogs", "convolution"} <= set(names)
    for name in names:
        spec = load_spec(name)
        for key, profile in spec.profiles.items():
            assert profile.name == key
            assert [t.min_accuracy for t in profile.tiers] == sorted(t.min_accuracy for t in profile.tiers)
    fashion = load_spec("fashion")
    assert fashion.profiles["quick"].time_budget_s == 600.0 and isinstance(
        fashion.profiles["quick"].time_budget_s, float
    )
    assert fashion.profiles["quick"].sandbox.memory_mb == 6144  # grader/describe/sandbox/limits.py's default
    assert fashion.compile.loss == ("sparse_categorical_crossentropy",)
    assert load_spec("cats_dogs").compile.optimizer == ("rmsprop",)


@pytest.mark.parametrize(
    "change, expected",
    [
        (("max_gap = 0.05", "max_gpa = 0.05"), "[profiles.quick] has no key 'max_gpa'"),
        (("epochs = 10", "epochs = 0"), "[profiles.quick] epochs must be greater than 0, got 0"),
        (("epochs = 10", 'epochs = "10"'), "[profiles.quick] epochs must be a whole number, got '10'"),
        (("epochs = 10", "epochs = 2.5"), "[profiles.quick] epochs must be a whole number, got 2.5"),
        (("[preprocess]\npoints = 5", "[preprocess]\npoints = true"), "[preprocess] points must be a number, got True"),
        (
            ("{ min_accuracy = 0.85, points = 15 }", "{ min_accuracy = 0.85 }"),
            "[profiles.quick.tiers #2] is missing the required key 'points'",
        ),
        (
            ("{ min_accuracy = 0.85, points = 15 }", "{ min_accuracy = 85, points = 15 }"),
            "[profiles.quick.tiers #2] min_accuracy must be less than or equal to 1, got 85",
        ),
        (("shape = [28, 28, 1]", "shape = [28, -1]"), "[input] shape #2 must be greater than 0, got -1"),
        (
            ('task = "multiclass"', 'task = "regression"'),
            "[challenge] task must be 'multiclass' or 'binary', got 'regression'",
        ),
        (
            ("[profiles.quick]\n", "[profiles.quick]\ngpus = 2\n"),
            "[profiles.quick] gpus must be less than or equal to 1",
        ),
        (("[profiles.quick]\n", "[profiles.quick]\nname = 'x'\n"), "[profiles.quick] takes its name from its key"),
        (
            ('[[architecture.layers]]\ntype = "Conv2D"', '[[architecture.layers]]\ntipe = "Conv2D"'),
            "[architecture.layers #1] is missing the required key 'type'; [architecture.layers #1] has no key 'tipe'",
        ),
    ],
)
def test_a_mistake_in_a_model_spec_names_its_table_and_key(tmp_path, change, expected):
    old, new = change
    assert old in FASHION
    assert expected in _load(tmp_path, FASHION.replace(old, new, 1))


def test_sandbox_limits_and_missing_tables(tmp_path):
    text = FASHION.replace(
        "[profiles.quick]\n", "[profiles.quick.sandbox]\nmemory_mb = 0\nswap = 1\n\n[profiles.quick]\n", 1
    )
    message = _load(tmp_path, text)
    assert "[profiles.quick.sandbox] memory_mb must be greater than 0, got 0" in message
    assert "[profiles.quick.sandbox] has no key 'swap'" in message
    without_input = re.sub(r"\[input\]\n(.*\n)*?\n", "", FASHION, count=1)
    assert "the table [input] is missing" in _load(tmp_path, without_input)
    assert "[profiles] extra must be a table, got 3" in _load(tmp_path, FASHION + "\n[profiles]\nextra = 3\n")
    tier = FASHION.replace(
        "{ min_accuracy = 0.85, points = 15 }", '{ min_accuracy = 0.85, points = 15, architecture = "strech" }', 1
    )
    assert "a tier names architecture 'strech'" in _load(tmp_path, tier)


def test_a_mistake_in_a_functions_spec_names_its_table_and_key(tmp_path):
    def message(old: str, new: str) -> str:
        assert old in CONVOLUTION
        return _load(tmp_path, CONVOLUTION.replace(old, new, 1), "convolution")

    assert "[functions] cases must be greater than 0, got 0" in message("cases = 20 ", "cases = 0 ")
    assert "[functions] tolerance must be greater than or equal to 0" in message("tolerance = 1e-4", "tolerance = -1.0")
    assert "[checks.valid] has no key 'speed'" in message("[checks.valid]", "[checks.valid]\nspeed = 1\n")
    assert "[checks.vald] is not a check of the 'convolution' suite" in message("[checks.valid]", "[checks.vald]")
    assert "remove [profiles]" in message("[functions]", "[profiles.quick]\nepochs = 1\n\n[functions]")
    assert "[checks.same] is missing the required key 'points'" in message(
        "[checks.same]          # conv2d, stride 1, 'same' padding; even kernels too (the extra zero goes after)\n"
        "points = 15",
        "[checks.same]\ncases = 3",
    )
