"""`grade submit x.ipynb`: a notebook's code cells are the submission; a bad notebook is not
graded, gets a specific message, and leaves the output folder as it was."""

from __future__ import annotations

import hashlib
import json

import nbformat
import pytest
from click.testing import CliRunner
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grader import config
from grader.cli import main as cli
from grader.integrations.nbgrader_build import build_notebook
from grader.pipeline import grade
from grader.submission.notebook import NOTEBOOK_SOURCE_FILE, NotebookError, notebook_to_python
from tests.grading import tiny_spec


def notebook_bytes(*cells) -> bytes:
    return nbformat.writes(new_notebook(cells=list(cells))).encode()


def test_code_cells_run_in_order_and_ipython_lines_do_nothing():
    test_cell = new_code_cell("assert False, 'the autograder test must not run on import'")
    test_cell.metadata["nbgrader"] = {
        "grade": True,
        "solution": False,
        "locked": True,
        "grade_id": "t",
        "points": 1,
        "schema_version": 3,
    }
    raw = notebook_bytes(
        new_code_cell("%matplotlib inline\nimport math\nsteps = []"),
        new_markdown_cell("x = 'markdown is not code'"),
        new_code_cell("!pip install something\nremainder = (7\n    % 4)\nsteps.append(remainder != 0)"),
        test_cell,
        new_code_cell("%%bash\necho not python"),
        new_code_cell("%%time\nsteps.append(math.sqrt(16))"),
        new_code_cell("   "),
    )
    source = notebook_to_python(raw, "fashion.ipynb")
    namespace: dict = {}
    exec(compile(source, "converted", "exec"), namespace)
    assert namespace["steps"] == [True, 4.0] and namespace["remainder"] == 3
    assert "markdown is not code" not in source and "assert False" not in source
    assert "get_ipython().run_line_magic('matplotlib', 'inline')" in source  # IPython's own translation
    assert "# [not run by the grader: IPython-only line] echo not python" in source
    assert source.index("# %% [cell 1]") < source.index("# %% [cell 3]") < source.index("# %% [cell 6]")


def test_continued_shell_lines_and_shell_assignments_as_in_the_course_notebooks():
    raw = notebook_bytes(
        new_code_cell(
            "!wget --no-check-certificate \\\n    https://example.invalid/cats_and_dogs_filtered.zip \\\n"
            "    -O /tmp/cats_and_dogs_filtered.zip\nfiles = !ls /tmp\nafter = 'the line after'"
        ),
    )
    source = notebook_to_python(raw, "cats_dogs.ipynb")
    namespace: dict = {}
    exec(compile(source, "converted", "exec"), namespace)
    assert namespace["after"] == "the line after" and namespace["files"] is None
    # The cell keeps its five lines, so line 5 of the converted cell is still `after = ...`.
    lines = source.splitlines()
    marker = lines.index("# %% [cell 1]")
    assert lines[marker + 5] == "after = 'the line after'"


def test_a_syntax_error_in_a_notebook_names_the_cell_and_its_line(tmp_path):
    path = tmp_path / "fashion.ipynb"
    path.write_bytes(
        notebook_bytes(
            new_code_cell("import keras"),
            new_markdown_cell("words"),
            new_code_cell("x = 1\ndef build_model(:\n    pass"),
        )
    )
    result = grade(path=path, out_dir=tmp_path / "run", train=False)
    assert result.failure["stage"] == "read"
    assert result.failure["message"].startswith("syntax error at cell 3, line 2")


def test_a_syntax_error_quotes_the_cells_line_not_the_notebooks_json(tmp_path):
    # For a missing comma Python quotes the line from the file named in compile(): for a
    # notebook that file is JSON, so the grader must not name it there.
    path = tmp_path / "fashion.ipynb"
    path.write_bytes(
        notebook_bytes(
            new_code_cell("import keras"),
            new_code_cell("layers = [\n    keras.layers.Flatten()\n    keras.layers.Dense(10),\n]"),
        )
    )
    result = grade(path=path, out_dir=tmp_path / "run", train=False)
    assert result.failure["message"].startswith("syntax error at cell 2, line 2: invalid syntax")
    assert result.failure["message"].endswith("(keras.layers.Flatten())")


@pytest.mark.parametrize(
    "raw, message",
    [
        (b'{"cells": [', "fashion.ipynb is not a valid notebook: it is not JSON (line 1, column 12"),
        (b"", "fashion.ipynb is not a valid notebook: it is not JSON (line 1, column 1"),
        (b'{"hello": "world"}', "fashion.ipynb is JSON but not a valid Jupyter notebook"),
        (notebook_bytes(new_markdown_cell("def build_model(): ...")), "fashion.ipynb has no code cells to grade"),
        (notebook_bytes(), "fashion.ipynb has no code cells to grade"),
        (b"\xff\xfe{}", "fashion.ipynb is not UTF-8 text"),
    ],
)
def test_bad_notebooks_get_a_specific_message(raw, message):
    with pytest.raises(NotebookError) as caught:
        notebook_to_python(raw, "fashion.ipynb")
    assert str(caught.value).startswith(message)


def test_a_notebook_of_another_language_is_refused():
    notebook = new_notebook(
        cells=[new_code_cell("x <- 1")], metadata={"kernelspec": {"name": "ir", "display_name": "R", "language": "R"}}
    )
    with pytest.raises(NotebookError, match="is a R notebook; only Python notebooks can be graded"):
        notebook_to_python(nbformat.writes(notebook).encode(), "cnn.ipynb")


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"not json at all", "is not a valid notebook: it is not JSON"),
        (notebook_bytes(new_markdown_cell("only words")), "has no code cells to grade"),
    ],
)
def test_bad_notebook_is_not_graded_and_the_output_folder_is_left_alone(tmp_path, raw, message):
    path = tmp_path / "fashion.ipynb"
    path.write_bytes(raw)
    out = tmp_path / "out"
    out.mkdir()
    (out / "earlier.txt").write_text("an earlier run's file")
    result = CliRunner().invoke(cli, ["submit", str(path), "--out", str(out), "--json"])
    assert result.exit_code == 2
    document = json.loads(result.stdout)
    assert document["verdict"] == "not_graded" and message in document["error"]
    assert document["error"].startswith("fashion.ipynb ")
    assert sorted(p.name for p in out.iterdir()) == ["earlier.txt"]
    assert (out / "earlier.txt").read_text() == "an earlier run's file"


@pytest.mark.core
@pytest.mark.slow
def test_the_reference_notebook_is_graded_and_passes(tmp_path):
    notebook, _ = build_notebook("fashion", (config.SOLUTIONS_DIR / "fashion.py").read_text())
    path = tmp_path / "fashion.ipynb"  # the challenge comes from the stem, as for fashion.py
    nbformat.write(notebook, str(path))
    result = grade(path=path, spec_path=tiny_spec(tmp_path, "fashion"), profile="tiny", out_dir=tmp_path / "run")
    assert result.verdict == "passed", [c for c in result.checks if not c.passed]
    assert result.submission_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert result.submission_path == str(path)
    assert result.metrics["test_accuracy"] > 0.1 and len(result.history["loss"]) == 1
    converted = (tmp_path / "run" / NOTEBOOK_SOURCE_FILE).read_text()
    assert "def build_model():" in converted and "tests.require(" not in converted
