"""Gradescope on another Python: the bundle's setup.sh run for real on the Python of Gradescope's
Ubuntu 22.04 image (3.10), then run_autograder grading a reference and a planted mistake there.

It installs the kit and TensorFlow from the package index into a fresh environment (minutes,
network), so it runs only when asked: `.ci/run` sets GRADER_GRADESCOPE_PYTHON=3.10 (a version, or
the path of an interpreter) and runs this file as its own step.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from grader import config
from grader.cli import main as cli
from tests.grading import fashion_submission, needs_sandbox, tiny_spec

ASKED = os.environ.get("GRADER_GRADESCOPE_PYTHON", "")
SCHEMA = json.loads((config.REPO_ROOT / "docs" / "gradescope.schema.json").read_text())

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not ASKED,
        reason="installs the kit on another Python from the package index (network, "
        "minutes): set GRADER_GRADESCOPE_PYTHON=3.10 (.ci/run does)",
    ),
]


def find_python(asked: str) -> str:
    """An interpreter for `asked` (a path, or a version such as 3.10, found on PATH or under pyenv)."""
    if os.sep in asked:
        return asked
    candidates = [shutil.which(f"python{asked}")] + sorted(
        glob.glob(os.path.expanduser(f"~/.pyenv/versions/{asked}.*/bin/python{asked}")), reverse=True
    )
    for candidate in filter(None, candidates):
        # pyenv's shims exist for every installed version but run only the selected ones.
        if subprocess.run([candidate, "--version"], capture_output=True).returncode == 0:
            return candidate
    pytest.fail(
        f"GRADER_GRADESCOPE_PYTHON={asked}, but no working python{asked} was found on PATH or under ~/.pyenv/versions"
    )


def run_autograder(root: Path) -> dict:
    env = {key: value for key, value in os.environ.items() if key not in ("GRADE", "PYTHON")}
    env.update(AUTOGRADER_DIR=str(root), TMPDIR=str(root / "tmp"))
    (root / "tmp").mkdir(exist_ok=True)
    done = subprocess.run(
        [str(root / "source" / "run_autograder")], cwd=root, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    doc = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(doc, SCHEMA)
    return doc


@needs_sandbox
def test_the_bundle_installs_and_grades_on_gradescope_python(tmp_path):
    python = find_python(ASKED)
    version = subprocess.run(
        [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True, text=True, check=True
    ).stdout.strip()
    bundle = tmp_path / "autograder.zip"
    made = CliRunner().invoke(
        cli,
        [
            "gradescope",
            "bundle",
            "fashion",
            "--spec",
            str(tiny_spec(tmp_path, "fashion")),
            "--profile",
            "tiny",
            "--out",
            str(bundle),
        ],
    )
    assert made.exit_code == 0, made.output
    assert f"Python {version}" in made.output or f", {version}" in made.output, made.output
    root = tmp_path / "autograder"
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(root / "source")
    for script in ("setup.sh", "run_autograder"):
        (root / "source" / script).chmod(0o755)

    # Gradescope's build step: the image's Python, the versions tested on it, the data.
    env = {**os.environ, "AUTOGRADER_DIR": str(root), "PYTHON3": python}
    setup = subprocess.run(
        [str(root / "source" / "setup.sh")], cwd=root, env=env, capture_output=True, text=True, timeout=1500
    )
    assert setup.returncode == 0, setup.stdout[-3000:] + setup.stderr[-3000:]
    assert f"installing the versions tested on it ({root}/source/constraints/python{version}.txt)" in setup.stdout
    venv_python = root / "venv" / "bin" / "python"
    installed = json.loads(
        subprocess.run(
            [
                str(venv_python),
                "-c",
                "import sys, json, keras, numpy; print(json.dumps([sys.version_info[:2], "
                "keras.__version__, numpy.__version__]))",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    pins = dict(
        line.split("==")
        for line in (root / "source" / "constraints" / f"python{version}.txt").read_text().splitlines()
        if "==" in line
    )
    assert installed == [[int(part) for part in version.split(".")], pins["keras"], pins["numpy"]]

    # A submission: the reference gets every point, a one-setting slip loses that check's.
    (root / "submission").mkdir()
    (root / "submission" / "fashion.py").write_text((config.SOLUTIONS_DIR / "fashion.py").read_text())
    passed = run_autograder(root)
    assert passed["score"] == sum(test["max_score"] for test in passed["tests"]), passed["tests"]
    assert passed["extra_data"]["profile"] == "tiny" and "leaderboard" in passed

    slip = fashion_submission(tmp_path, '"relu"', '"sigmoid"')
    (root / "submission" / "fashion.py").write_text(slip.read_text())
    failed = run_autograder(root)
    lost = [test["name"] for test in failed["tests"] if test["score"] < test["max_score"]]
    assert failed["score"] < passed["score"] and lost, failed["tests"]
