"""`grade nbgrader build`: the course folder, its notebooks' nbgrader metadata, and the real
nbgrader CLI generating and autograding them in a real Jupyter kernel."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner

from grader.cli import main as cli
from grader.host.release import BEGIN
from grader.integrations.nbgrader_build import build_course
from grader.integrations.nbgrader_checks import STDERR_NOTE, ChallengeTests, CheckFailed
from grader.spec import load_spec

VENV_BIN = Path(sys.executable).parent


def nbgrader_meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def spec_points_without_training(name: str) -> float:
    """What `grade check` can award, summed from the spec's own tables."""
    spec = load_spec(name)
    total = spec.preprocess_points + spec.architecture.points + spec.compile.points
    total += spec.callback.points if spec.callback else 0
    total += spec.augmentation.points if spec.augmentation else 0
    return total


def test_built_course_has_nbgraders_layout_and_metadata(tmp_path):
    written, skipped = build_course(out_dir=tmp_path)
    built = {notebook.challenge: notebook for notebook in written}
    assert {"fashion", "cnn", "cats_dogs"} <= set(built), skipped
    assert (tmp_path / "nbgrader_config.py").read_text().count("c.Execute.timeout") == 1
    for name in ("fashion", "cnn", "cats_dogs"):
        path = tmp_path / "source" / name / f"{name}.ipynb"
        assert built[name].path == path
        notebook = nbformat.read(str(path), as_version=4)
        nbformat.validate(notebook)
        code = [cell for cell in notebook.cells if cell.cell_type == "code"]
        tests = [cell for cell in code if nbgrader_meta(cell).get("grade")]
        assert all(nbgrader_meta(cell)["locked"] and not nbgrader_meta(cell)["solution"] for cell in tests)
        assert sum(nbgrader_meta(cell)["points"] for cell in tests) == spec_points_without_training(name)
        assert all(cell.source.splitlines()[-1].startswith("tests.score(") for cell in tests)
        # Every answer region sits in a solution cell, and every solution cell holds one.
        with_answers = [cell for cell in code if any(line.strip() == BEGIN for line in cell.source.splitlines())]
        solutions = [cell for cell in code if nbgrader_meta(cell).get("solution")]
        assert with_answers == solutions and solutions
        ids = [nbgrader_meta(cell)["grade_id"] for cell in code if nbgrader_meta(cell)]
        assert len(ids) == len(set(ids))
        # The setup cell runs before anything imports Keras; nothing trains when the notebook runs.
        assert "ChallengeTests" in code[0].source and nbgrader_meta(code[0])["locked"]
        assert not any("__main__" in cell.source or ".fit(" in cell.source for cell in code)
        assert notebook.metadata.kernelspec.name == "python3"


def test_build_command(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(cli, ["nbgrader", "build", "fashion", "--out", str(tmp_path / "course")])
    assert ok.exit_code == 0, ok.output
    assert f"{tmp_path / 'course' / 'source' / 'fashion' / 'fashion.ipynb'}: 7 test cells, 50 points" in ok.stdout
    assert not (tmp_path / "course" / "source" / "cnn").exists()
    unknown = runner.invoke(cli, ["nbgrader", "build", "nosuch", "--out", str(tmp_path / "other")])
    assert unknown.exit_code == 2 and "no reference solution for 'nosuch'" in unknown.stderr
    assert not (tmp_path / "other").exists()


def test_notebook_tests_fail_with_the_checks_message_and_hint(capsys):
    tests = ChallengeTests("cnn")
    keras = tests.keras

    def build_model():  # the cnn model without its first Dropout
        model = keras.Sequential(
            [
                keras.Input(shape=(28, 28, 1)),
                keras.layers.Conv2D(32, (3, 3), activation="relu"),
                keras.layers.MaxPooling2D((2, 2)),
                keras.layers.Flatten(),
                keras.layers.Dense(128, activation="relu"),
                keras.layers.Dropout(0.4),
                keras.layers.Dense(10, activation="softmax"),
            ]
        )
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    with pytest.raises(CheckFailed) as failed:
        tests.require("architecture.layers", build_model=build_model)
    assert failed.value.message.startswith("missing Dropout #1 of the spec")
    assert failed.value.hint == "add Dropout(rate=0.4) just before or just after the Flatten"
    tests.require("architecture.input", build_model=build_model)
    assert "Passed: Input shape: input 28x28x1 (3 points)" in capsys.readouterr().out

    with pytest.raises(CheckFailed, match="expected 0 to 1"):
        tests.require("preprocess", preprocess=lambda images: images.reshape(-1, 28, 28, 1).astype("float32"))

    def broken():
        raise ValueError("boom")

    with pytest.raises(CheckFailed, match=r"^compile\(\): build_model\(\) raised ValueError: boom"):
        tests.require("compile", build_model=broken)
    assert 'raise ValueError("boom")' in capsys.readouterr().out  # the learner's traceback, to find the line
    with pytest.raises(CheckFailed, match=r"build_model\(\) is not defined"):
        tests.require("compile")

    fashion = ChallengeTests("fashion")
    with pytest.raises(CheckFailed, match="training did not stop"):
        fashion.require("callback", make_callbacks=lambda target: [keras.callbacks.Callback()])


# --------------------------------------------------------------------------- the real nbgrader


def nbgrader(course: Path, *args: str) -> None:
    # nbgrader calls `alembic` by name, so the venv's bin must be on PATH. TF_CPP_MIN_LOG_LEVEL=0
    # makes TensorFlow log everything it can: the worst case for "stderr costs points".
    env = {
        **os.environ,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "TF_CPP_MIN_LOG_LEVEL": "0",
        "JUPYTER_RUNTIME_DIR": str(course / "runtime"),
    }
    done = subprocess.run(
        [str(VENV_BIN / "nbgrader"), *args], cwd=course, env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


NOISE = """\
    import logging, os, sys, warnings
    print("learner noise on sys.stderr", file=sys.stderr)
    os.write(2, b"native noise on fd 2\\n")
    warnings.warn("a warning from build_model")
    logging.getLogger("tensorflow").warning("noise through the tensorflow logger")
"""


CONV2 = 'layers.MaxPooling2D(2, 2),\n        layers.Conv2D(64, (3, 3), activation="relu")'


def slip_source() -> str:
    """The fashion reference with the second Conv2D at 32 filters (the issue's one-mistake example)."""
    from grader import config

    source = (config.SOLUTIONS_DIR / "fashion.py").read_text()
    assert CONV2 in source
    return source.replace(CONV2, CONV2.replace("Conv2D(64", "Conv2D(32"))


def with_second_conv_of_32_filters(notebook):
    slipped = nbformat.from_dict(notebook)
    cell = next(cell for cell in slipped.cells if cell.source.startswith("def build_model():"))
    assert CONV2 in cell.source
    cell.source = cell.source.replace(CONV2, CONV2.replace("Conv2D(64", "Conv2D(32"))
    return slipped


def check_score_of(source: str, challenge: str, tmp_path) -> float:
    from grader.pipeline import grade

    path = tmp_path / "check" / f"{challenge}.py"
    path.parent.mkdir(exist_ok=True)
    path.write_text(source)
    return grade(path=path, challenge=challenge, out_dir=tmp_path / "check" / "run", train=False).score


def with_noisy_build_model(notebook):
    """The reference notebook whose build_model() first writes to stderr every way it can."""
    noisy = nbformat.from_dict(notebook)
    cell = next(cell for cell in noisy.cells if cell.source.startswith("def build_model():"))
    cell.source = cell.source.replace("def build_model():\n", "def build_model():\n" + NOISE, 1)
    return noisy


def graded_outputs(path: Path) -> dict[str, list]:
    notebook = nbformat.read(str(path), as_version=4)
    return {
        nbgrader_meta(cell)["grade_id"]: cell.outputs
        for cell in notebook.cells
        if cell.cell_type == "code" and nbgrader_meta(cell).get("grade")
    }


@pytest.mark.slow
def test_real_nbgrader_gives_the_reference_full_points_and_the_release_zero(tmp_path):
    from nbgrader.api import Gradebook

    course = tmp_path / "course"
    written, _ = build_course(out_dir=course, challenges=["fashion", "cnn", "cats_dogs"])
    for notebook in written:
        name = notebook.challenge
        nbgrader(course, "generate_assignment", name)
        release = course / "release" / name / f"{name}.ipynb"
        assert "raise NotImplementedError()" in release.read_text() and BEGIN not in release.read_text()
        source = nbformat.read(str(notebook.path), as_version=4)
        submissions = {"reference": source, "untouched": nbformat.read(str(release), as_version=4)}
        if name == "fashion":
            submissions["noisy"] = with_noisy_build_model(source)
            submissions["slip"] = with_second_conv_of_32_filters(source)
        for learner, submitted in submissions.items():
            target = course / "submitted" / learner / name / f"{name}.ipynb"
            target.parent.mkdir(parents=True)
            nbformat.write(submitted, str(target))
        nbgrader(course, "autograde", name)

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for notebook in written:
            name = notebook.challenge
            reference = gradebook.find_submission(name, "reference")
            untouched = gradebook.find_submission(name, "untouched")
            assert reference.max_score == notebook.points == spec_points_without_training(name)
            assert reference.score == reference.max_score, name
            assert untouched.score == 0, name
        assert gradebook.find_submission("fashion", "noisy").score == spec_points_without_training("fashion")
        # One wrong setting costs its share of one test, as in `grade check`, not the whole cell.
        slip = gradebook.find_submission("fashion", "slip")
        assert 0 < slip.score < slip.max_score
        assert slip.score == check_score_of(slip_source(), "fashion", tmp_path)

    for name in ("fashion", "cnn", "cats_dogs"):
        outputs = graded_outputs(course / "autograded" / "reference" / name / f"{name}.ipynb")
        for grade_id, cell_outputs in outputs.items():
            # stdout only (TensorFlow's device messages included, under the note), ending in the verdict,
            # then the points earned as the cell's value (nbgrader's partial credit).
            streams = [o for o in cell_outputs if o.output_type == "stream"]
            assert all(o.name == "stdout" for o in streams), grade_id
            assert [o.output_type for o in cell_outputs].count("execute_result") == 1, grade_id
            text = "".join(o.text for o in streams)
            assert text.strip().splitlines()[-1].startswith("Passed: "), grade_id
        untouched = graded_outputs(course / "autograded" / "untouched" / name / f"{name}.ipynb")
        errors = [o for outputs in untouched.values() for o in outputs if o.output_type == "error"]
        assert len(errors) == len(untouched)
        assert all(o.ename == "CheckFailed" and "is not done yet" in o.evalue for o in errors)
    # The noise went to stdout, under a note, in the cells that called build_model().
    noisy = graded_outputs(course / "autograded" / "noisy" / "fashion" / "fashion.ipynb")
    layers_text = "".join(o.text for o in noisy["test_architecture_layers"] if o.output_type == "stream")
    for line in (
        "learner noise on sys.stderr",
        "native noise on fd 2",
        "UserWarning: a warning from build_model",
        "noise through the tensorflow logger",
        STDERR_NOTE,
    ):
        assert line in layers_text
    assert all(o.name == "stdout" for outputs in noisy.values() for o in outputs if o.output_type == "stream")
