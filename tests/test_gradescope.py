"""Gradescope: results.json against the documented fields (docs/gradescope.schema.json), the
export command, and the autograder zip run the way Gradescope runs it."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from grader import config
from grader.cli import main as cli
from grader.integrations.gradescope import gradescope_results
from tests.grading import needs_sandbox, tiny_spec

SCHEMA = json.loads((config.REPO_ROOT / "docs" / "gradescope.schema.json").read_text())
GRADE = Path(sys.executable).parent / "grade"


def test_schema_refuses_what_gradescope_does_not_document():
    valid = {"score": 1, "execution_time": 2, "output": "", "tests": [], "extra_data": {}}
    jsonschema.validate(valid, SCHEMA)
    for broken in (
        {**valid, "points": 1},
        {
            **valid,
            "tests": [
                {"score": 1, "max_score": 1, "name": "x", "output": "", "status": "passed", "visibility": "secret"}
            ],
        },
        {**valid, "leaderboard": [{"name": "Accuracy"}]},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, SCHEMA)


def test_export_turns_a_check_result_into_gradescope_tests(tmp_path):
    run = tmp_path / "run"
    checked = CliRunner().invoke(cli, ["check", str(config.SOLUTIONS_DIR / "fashion.py"), "--out", str(run), "--json"])
    assert checked.exit_code == 0, checked.output
    result = json.loads((run / "result.json").read_text())

    exported = CliRunner().invoke(cli, ["gradescope", "export", str(run), "--to", str(tmp_path / "gs")])
    assert exported.exit_code == 0, exported.output
    doc = json.loads((tmp_path / "gs" / "results.json").read_text())
    jsonschema.validate(doc, SCHEMA)
    assert doc["score"] == result["score"] == 50
    assert [(t["name"], t["score"], t["max_score"]) for t in doc["tests"]] == [
        (c["title"], c["points"], c["max_points"]) for c in result["checks"]
    ]
    assert all(t["visibility"] == "visible" and t["status"] == "passed" for t in doc["tests"])
    assert "leaderboard" not in doc  # nothing was trained: no accuracy to rank
    assert doc["extra_data"]["submission_sha256"] == result["submission_sha256"]

    # A failed check's output carries its message and hint.
    broken = {
        **result,
        "checks": [
            {**result["checks"][1], "passed": False, "points": 0.0, "message": "returns uint8", "hint": "divide by 255"}
        ],
        "verdict": "failed",
        "score": 0.0,
    }
    test = gradescope_results(broken)["tests"][0]
    assert test["status"] == "failed" and test["output"] == "returns uint8\nHint: divide by 255"

    not_json = tmp_path / "not.json"
    not_json.write_text("[1, 2]")
    refused = CliRunner().invoke(cli, ["gradescope", "export", str(not_json)])
    assert refused.exit_code == 2 and "is not a result.json written by `grade`" in refused.stderr


@needs_sandbox
def test_a_submission_that_cannot_be_graded_still_gets_a_results_json(tmp_path):
    notebook = tmp_path / "fashion.ipynb"
    notebook.write_text('{"cells": [')
    results = tmp_path / "results" / "results.json"
    out = CliRunner().invoke(
        cli,
        ["submit", str(notebook), "--format", "gradescope", "--results", str(results), "--out", str(tmp_path / "run")],
    )
    assert out.exit_code == 2
    doc = json.loads(results.read_text())
    jsonschema.validate(doc, SCHEMA)
    assert doc["score"] == 0 and doc["tests"] == []
    assert doc["output"].startswith("Not graded: fashion.ipynb is not a valid notebook: it is not JSON")
    assert not (tmp_path / "run").exists()
    # Without --results there is no run folder to write into: nothing is written, and it says so.
    again = CliRunner().invoke(cli, ["submit", str(notebook), "--format", "gradescope", "--out", str(tmp_path / "run")])
    assert again.exit_code == 2 and "results.json not written" in again.stderr
    assert not (tmp_path / "run").exists()


def run_autograder(root: Path) -> dict:
    """Run the unzipped bundle's run_autograder the way Gradescope does, in `root`."""
    env = {**os.environ, "AUTOGRADER_DIR": str(root), "GRADE": str(GRADE), "TMPDIR": str(root / "tmp")}
    (root / "tmp").mkdir(exist_ok=True)
    done = subprocess.run(
        [str(root / "source" / "run_autograder")], cwd=root, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    doc = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(doc, SCHEMA)
    return doc


@pytest.mark.slow
@needs_sandbox
def test_bundle_grades_a_submission_like_gradescope_would(tmp_path):
    bundle = tmp_path / "autograder.zip"
    spec = tiny_spec(tmp_path, "fashion")
    made = CliRunner().invoke(
        cli, ["gradescope", "bundle", "fashion", "--spec", str(spec), "--profile", "tiny", "--out", str(bundle)]
    )
    assert made.exit_code == 0, made.output

    root = tmp_path / "autograder"
    with zipfile.ZipFile(bundle) as archive:
        names = archive.namelist()
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
        archive.extractall(root / "source")
    python = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert {
        "setup.sh",
        "run_autograder",
        "spec.toml",
        "cnn-grader/pyproject.toml",
        "cnn-grader/grader/pipeline/__init__.py",
        "cnn-grader/grader/kit/challenges/fashion.toml",
        "cnn-grader/grader/kit/datasets/manifest.toml",
        f"constraints/python{python}.txt",
        "constraints/python3.10.txt",
    } <= set(names)
    assert not [n for n in names if "__pycache__" in n or "/cache/" in n or "solutions" in n]
    assert modes["setup.sh"] & stat.S_IXUSR and modes["run_autograder"] & stat.S_IXUSR
    setup = (root / "source" / "setup.sh").read_text()
    assert 'constraints="$SOURCE/constraints/python$version.txt"' in setup
    assert 'pip install --quiet "${pins[@]}" "$SOURCE/cnn-grader" tensorflow-cpu' in setup
    assert 'grade" data fetch fashion_mnist' in setup and "chmod -R go-rwx" in setup
    pins = dict(
        line.split("==")
        for line in (root / "source" / "constraints" / f"python{python}.txt").read_text().splitlines()
        if "==" in line
    )
    from importlib import metadata

    # This environment's versions, with TensorFlow's CPU build instead of the full one.
    assert pins["keras"] == metadata.version("keras") and "tensorflow" not in pins
    assert pins["tensorflow-cpu"] == metadata.version("tensorflow")
    for script in ("setup.sh", "run_autograder"):
        subprocess.run(["bash", "-n", str(root / "source" / script)], check=True)
    (root / "source" / "run_autograder").chmod(0o755)  # zipfile does not restore modes

    # Nothing submitted: a result that says what is missing.
    (root / "submission").mkdir()
    empty = run_autograder(root)
    assert empty["score"] == 0 and "no such file" in empty["output"] and "submission/fashion.py" in empty["output"]

    # The only Python file submitted is graded, whatever its name.
    (root / "submission" / "my_answer.py").write_text((config.SOLUTIONS_DIR / "fashion.py").read_text())
    (root / "submission" / "notes.txt").write_text("not code")
    doc = run_autograder(root)
    result = json.loads(next((root / "tmp").glob("*/result.json")).read_text())
    assert result["submission_path"].endswith("submission/my_answer.py") and result["verdict"] == "passed"
    assert doc["score"] == result["score"] == sum(t["max_score"] for t in doc["tests"])
    assert [t["name"] for t in doc["tests"]] == [c["title"] for c in result["checks"]]
    assert doc["leaderboard"] == [
        {"name": "Accuracy", "value": round(result["metrics"]["test_accuracy"], 4)},
        {"name": "Gap", "value": round(result["metrics"]["gap"], 4), "order": "asc"},
    ]
    assert doc["extra_data"]["profile"] == "tiny"


def test_a_run_killed_by_gradescope_still_leaves_a_valid_result(tmp_path):
    bundle = tmp_path / "autograder.zip"
    assert CliRunner().invoke(cli, ["gradescope", "bundle", "fashion", "--out", str(bundle)]).exit_code == 0
    root = tmp_path / "autograder"
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(root / "source")
    script = root / "source" / "run_autograder"
    script.chmod(0o755)
    (root / "submission").mkdir()
    slow = tmp_path / "slow-grade"  # stands in for a grading that outlasts Gradescope's time limit
    slow.write_text("#!/bin/sh\nexec sleep 60\n")
    slow.chmod(0o755)
    env = {**os.environ, "AUTOGRADER_DIR": str(root), "GRADE": str(slow)}
    process = subprocess.Popen([str(script)], cwd=root, env=env, start_new_session=True)
    results = root / "results" / "results.json"
    for _ in range(100):
        if results.exists():
            break
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)  # what Gradescope does at its timeout
    process.wait()
    doc = json.loads(results.read_text())
    jsonschema.validate(doc, SCHEMA)
    assert doc["score"] == 0 and "did not finish" in doc["output"]
