"""Bad input never crashes the grader: each case gets a specific message and the right verdict.

Broken submissions are made from a small correct one (submissions/fashion_ok.py) by one
edit each, and graded for real: a child process, real data, a tiny training profile.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import main as cli
from grader.pipeline import grade
from tests.grading import tiny_spec

BASE = Path(__file__).parent / "submissions" / "fashion_ok.py"


def broken(tmp_path: Path, old: str, new: str, name: str = "fashion.py") -> Path:
    source = BASE.read_text()
    assert old in source, f"the base submission no longer contains {old!r}"
    path = tmp_path / name
    path.write_text(source.replace(old, new, 1))
    return path


def grade_tiny(tmp_path: Path, path: Path, train: bool = True, **spec_overrides):
    spec = tiny_spec(tmp_path, "fashion", **spec_overrides)
    return grade(path=path, spec_path=spec, profile="tiny", out_dir=tmp_path / "run", train=train)


def check(result, id):
    return next(c for c in result.checks if c.id == id)


def test_missing_file_is_not_graded(tmp_path):
    result = grade(path=tmp_path / "fashion.py", train=False)
    assert result.verdict == "not_graded" and result.exit_code == 2
    assert result.error == f"no such file: {tmp_path / 'fashion.py'}"


def test_unknown_challenge_is_not_graded(tmp_path):
    path = tmp_path / "mystery.py"
    path.write_text(BASE.read_text())
    result = grade(path=path, train=False)
    assert result.exit_code == 2
    assert "no challenge named 'mystery'" in result.error and "--challenge" in result.error


def test_syntax_error_is_reported_with_its_line(tmp_path):
    path = broken(tmp_path, "def build_model():", "def build_model(:")
    result = grade_tiny(tmp_path, path)
    assert result.verdict == "failed" and result.exit_code == 1
    runs = check(result, "submission")
    assert runs.message.startswith("syntax error at line 20")
    assert check(result, "architecture.layers").message.startswith("not checked")


def test_import_error_names_the_module(tmp_path):
    path = broken(tmp_path, "import keras\n", "import keras\nimport not_a_real_module\n")
    result = grade_tiny(tmp_path, path, train=False)
    assert result.failure["stage"] == "import"
    assert "module 'not_a_real_module' is not available" in result.failure["message"]
    assert "(line 4: import not_a_real_module)" in result.failure["message"]


def test_exception_in_build_model_points_at_the_line(tmp_path):
    path = broken(
        tmp_path, "    model = keras.Sequential([", "    raise ValueError('boom')\n    model = keras.Sequential(["
    )
    result = grade_tiny(tmp_path, path, train=False)
    assert result.failure["stage"] == "build_model"
    assert result.failure["message"].startswith(
        "build_model() raised ValueError: boom (line 21: raise ValueError('boom'))"
    )
    assert result.exit_code == 1


def test_sys_exit_while_importing(tmp_path):
    path = broken(tmp_path, "import keras\n", "import keras\nimport sys\nsys.exit(3)\n")
    result = grade_tiny(tmp_path, path, train=False)
    assert result.failure["stage"] == "import"
    assert "called sys.exit(3)" in result.failure["message"]
    assert "remove sys.exit()" in result.failure["hint"]


def test_os_exit_is_reported_as_an_early_end(tmp_path):
    path = broken(
        tmp_path,
        "def make_callbacks(target_accuracy):\n",
        "def make_callbacks(target_accuracy):\n    import os\n    os._exit(7)\n",
    )
    result = grade_tiny(tmp_path, path, train=False)
    assert result.failure["stage"] == "crash"
    assert "ended early (exit code 7)" in result.failure["message"]


def test_huge_output_is_bounded_and_grading_goes_on(tmp_path):
    path = broken(tmp_path, "import keras\n", "import keras\nfor _ in range(60):\n    print('x' * 1_000_000)\n")
    result = grade_tiny(tmp_path, path, train=False)
    assert result.verdict == "passed", [c.message for c in result.checks if not c.passed]
    assert "bytes of output skipped" in result.output
    assert len(result.output) < 100_000


def test_uncompiled_model(tmp_path):
    path = broken(tmp_path, "    model.compile(", "    dict(")
    result = grade_tiny(tmp_path, path)
    assert check(result, "compile").message == "the model is not compiled"
    assert result.failure["stage"] == "train"
    assert "model.compile(" in result.failure["hint"]
    assert result.exit_code == 1


def test_wrong_output_width_is_refused_before_training_on_every_backend(tmp_path):
    # TensorFlow and PyTorch fail in training, JAX silently trains nonsense: the grader decides first.
    path = broken(
        tmp_path, 'keras.layers.Dense(10, activation="softmax")', 'keras.layers.Dense(1, activation="sigmoid")'
    )
    result = grade_tiny(tmp_path, path)
    assert result.exit_code == 1
    layers_check = check(result, "architecture.layers")
    assert "Dense #2 has 1 units, expected 10" in layers_check.message
    assert result.failure["stage"] == "build_model"
    assert "outputs 1 number per image" in result.failure["message"]
    assert "Dense(10, activation='softmax')" in result.failure["hint"]
    assert not result.history and not result.metrics  # nothing was trained


def test_wrong_input_shape(tmp_path):
    path = broken(tmp_path, "keras.Input((28, 28, 1)),", "keras.Input((28, 28)), keras.layers.Reshape((28, 28, 1)),")
    result = grade_tiny(tmp_path, path, train=False)
    assert check(result, "architecture.input").message == "expected input 28x28x1, got 28x28"


def test_nan_loss_stops_training_and_says_so(tmp_path):
    path = broken(tmp_path, 'optimizer="adam"', "optimizer=keras.optimizers.SGD(learning_rate=1e12)")
    result = grade_tiny(tmp_path, path)
    assert result.failure["stage"] == "train"
    assert "the loss became NaN" in result.failure["message"]
    assert "learning rate" in result.failure["hint"]
    assert result.exit_code == 1


def test_describe_budget_stops_a_sleeping_build_model(tmp_path):
    path = broken(tmp_path, "def build_model():\n", "def build_model():\n    import time\n    time.sleep(600)\n")
    result = grade_tiny(tmp_path, path, describe_budget_s=15)
    assert result.failure["stage"] == "timeout"
    assert "time budget of 15 s" in result.failure["message"]
    assert check(result, "preprocess").passed  # preprocess() ran before build_model() and is still checked
    assert result.durations["child"] < 60


def test_describe_budget_names_a_sleeping_make_callbacks(tmp_path):
    path = broken(
        tmp_path,
        "def make_callbacks(target_accuracy):\n",
        "def make_callbacks(target_accuracy):\n    import time\n    time.sleep(600)\n",
    )
    # 30 s, not 15: Keras and the file must import well inside the budget even on a busy machine.
    result = grade_tiny(tmp_path, path, train=False, describe_budget_s=30)
    assert result.failure["stage"] == "timeout"
    assert "while make_callbacks() or one of its callbacks was running" in result.failure["message"]
    assert "make_callbacks() should only create the callbacks" in result.failure["hint"]
    assert check(result, "preprocess").passed and check(result, "architecture.layers").passed


def test_a_timeout_after_every_function_returned_blames_no_function():
    from grader.describe.sandbox.runner import ChildRun
    from grader.describe.step import _run_failure

    stages = {"keras": 3.0, "import": 0.1, "preprocess": 0.2, "build_model": 0.5, "callbacks": 0.1}
    child = ChildRun(
        returncode=None,
        timed_out=True,
        seconds=15.0,
        output_head="",
        output_tail="",
        output_bytes=0,
        result={"stages": stages, "failure": None, "stage_failures": {}},
    )
    failure = _run_failure(child, child.result, budget_s=15)
    assert "after your functions had returned" in failure.message and "a thread" in failure.hint
    del stages["callbacks"]
    assert "while make_callbacks()" in _run_failure(child, child.result, budget_s=15).message
    # Without a readable record of the stages nothing is blamed, and nothing is excused either.
    unreadable = dataclasses.replace(child, result={}, unreadable="the result file was not valid JSON")
    failure = _run_failure(unreadable, {}, budget_s=15)
    assert failure.message == "stopped at the time budget of 15 s" and "caused this" not in failure.hint


def test_cli_exit_codes_and_json(tmp_path):
    runner = CliRunner()
    missing = runner.invoke(cli, ["check", str(tmp_path / "fashion.py")])
    assert missing.exit_code == 2 and "no such file" in missing.output

    path = broken(tmp_path, "def build_model():", "def build_model(:")
    out = runner.invoke(cli, ["check", str(path), "--json", "--out", str(tmp_path / "run")])
    assert out.exit_code == 1
    data = json.loads(out.stdout)
    assert data["verdict"] == "failed" and data["failure"]["stage"] == "read"


def test_cli_help_does_not_import_keras_or_numpy():
    import subprocess
    import sys

    code = "import sys, grader.cli; print(sorted({'keras', 'numpy', 'tensorflow'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("train", [False, True], ids=["check", "submit"])
def test_random_shear_which_keras_cannot_reload_by_itself_is_rebuilt_and_loaded_back(tmp_path, train):
    # Keras 3.15 saves RandomShear(0.2) as [-0.2, 0.2] and refuses that when loading it again;
    # the grader rewrites the saved range into the same layer (grader/train/modelconfig.py),
    # both where it builds the model and where it loads the trained file (grader/keras_support/modelfile.py).
    # The check rehearses the submit's save and load, so both pass or neither does.
    path = broken(tmp_path, "keras.Input((28, 28, 1)),", "keras.Input((28, 28, 1)), keras.layers.RandomShear(0.2),")
    result = grade_tiny(tmp_path, path, train=train)
    assert result.failure is None, result.failure
    assert any(layer["type"] == "RandomShear" for layer in result.model_summary)
    if train:
        assert result.metrics["test_accuracy"] > 0.1  # the trained file was loaded and evaluated


def test_a_backend_that_is_not_installed_is_could_not_grade_naming_the_extra(tmp_path, monkeypatch):
    import importlib.util

    import pytest

    # The dev extra installs jax, not torch: whichever of them is missing here is the one tried.
    missing = [
        name for name, module in (("torch", "torch"), ("jax", "jax")) if importlib.util.find_spec(module) is None
    ]
    if not missing:
        pytest.skip("every backend is installed here")
    monkeypatch.setenv("KERAS_BACKEND", missing[0])
    result = grade(path=BASE, challenge="fashion", out_dir=tmp_path / "run", train=False)
    assert result.verdict == "not_graded" and result.exit_code == 2
    assert f'pip install "cnn-grader[{missing[0]}]"' in result.error


def test_the_backend_comes_from_keras_json_like_keras_does(tmp_path, monkeypatch):
    from grader.keras_support import backend

    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert backend.backend_name() == "tensorflow"  # no keras.json: Keras' default
    (tmp_path / "keras.json").write_text('{"backend": "torch", "floatx": "float32"}')
    assert backend.backend_name() == "torch"
    (tmp_path / "keras.json").write_text("not json")
    assert backend.backend_name() == "tensorflow"


def test_ctrl_c_ends_a_grading_with_130_not_graded_failed(monkeypatch, tmp_path):
    # click turns Ctrl-C into exit 1 by itself, which reads as "graded, failed" to a script.
    import grader.pipeline

    def interrupted(**options):
        raise KeyboardInterrupt

    monkeypatch.setattr(grader.pipeline, "grade", interrupted)
    path = tmp_path / "fashion.py"
    path.write_text(BASE.read_text())
    for command in ("check", "submit"):
        result = CliRunner().invoke(cli, [command, str(path), "--json"])
        assert result.exit_code == 130, (command, result.output)


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda tmp: tmp / "cnn_nothere.py", "no such file:"),
        (lambda tmp: tmp, "is a folder: give the submission file in it"),
        (lambda tmp: (tmp / "cnn.txt").write_text("x") and tmp / "cnn.txt", "is not a Python file (.py) or a notebook"),
    ],
)
def test_a_path_that_is_not_a_submission_is_named_before_anything_else(tmp_path, make, words):
    result = grade(path=make(tmp_path), train=False)  # no challenge can be told from these names: said first
    assert result.verdict == "not_graded" and words in result.error, result.error


def test_a_data_folder_that_does_not_exist_is_an_error_naming_it(tmp_path):
    result = grade(path=BASE, challenge="fashion", data_dir=tmp_path / "missing", train=False)
    assert result.verdict == "not_graded" and f"the data folder {tmp_path / 'missing'}" in result.error
