"""bench/gpu/run.sh, the GPU check of issue 35, run on this machine's CPU on its tiny setting.

No GPU here: what this shows is that the script prepares, grades and reports every step, and that
a machine lacking the kit's modules is prepared from wheels or told exactly what to bring.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.describe.sandbox import isolation as iso

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "bench" / "gpu" / "run.sh"
PREPARE = REPO / "bench" / "gpu" / "prepare.py"


@pytest.mark.slow
@pytest.mark.skipif(not iso.choose().isolated, reason="step (b) is a batch, which grades only in a sandbox")
def test_the_gpu_script_runs_every_step_on_the_cpu(tmp_path, data_dir):
    env = dict(os.environ, PYTHON=sys.executable, GRADER_DATA_DIR=str(data_dir), GPU_VENV=str(tmp_path / "venv"))
    done = subprocess.run(
        ["bash", str(SCRIPT), "--tiny", "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"grading with {sys.executable}" in done.stderr  # nothing was missing: no venv made
    results = json.loads((tmp_path / "out" / "gpu_results.json").read_text())
    steps = results["steps"]
    # (a) the reference, graded and timed with its start-up.
    assert steps["a"]["fashion"]["verdict"] == "passed" and steps["a"]["fashion"]["seconds"] > 0
    assert steps["a"]["fashion"]["device"] == "cpu"
    # (b) every grading of both batches graded, and the ratio of their rates reported.
    b = steps["b"]
    assert b["sequential"]["graded"] == b["sequential"]["learners"] and b["sequential"]["jobs"] == 1
    assert b["concurrent"]["graded"] == b["concurrent"]["learners"] and b["concurrent"]["jobs"] == 2
    assert b["ratio"] == round(b["concurrent"]["per_minute"] / b["sequential"]["per_minute"], 2)
    # (c) "auto" is the CPU here: the same grading, to the last digit.
    c = steps["c"]
    assert c["auto"]["device"] == c["cpu"]["device"] == "cpu"
    assert c["same_verdict"] and c["difference"] == 0.0 and c["within_tolerance"]
    table = (tmp_path / "out" / "gpu_results.md").read_text()
    assert "| (a) | `grade submit` fashion |" in table and "| (b) | ratio |" in table and "| (c) |" in table


def test_a_machine_missing_the_kits_modules_gets_a_venv_that_also_sees_its_own_packages(tmp_path):
    # As on the GPU machines, whose python3 is itself a virtual environment: the venv made for the
    # kit finds this Python's packages (here, the test environment's Keras) through a .pth file.
    done = subprocess.run(
        [
            sys.executable,
            str(PREPARE),
            "--wheels",
            str(tmp_path / "wheels"),
            "--venv",
            str(tmp_path / "venv"),
            "--always",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    python = done.stdout.strip()
    assert python == str(tmp_path / "venv" / "bin" / "python")
    found = subprocess.run(
        [python, "-c", "import keras, pydantic, sys; print(sys.prefix)"], capture_output=True, text=True
    )
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == str(tmp_path / "venv")


@pytest.mark.skipif(shutil.which("python3") is None, reason="needs a python3 without the kit's modules")
def test_a_machine_without_the_wheels_it_needs_is_told_which_to_bring(tmp_path):
    bare = subprocess.run(["python3", "-c", "import keras"], capture_output=True, cwd=tmp_path)
    if bare.returncode == 0:
        pytest.skip("this python3 has Keras: nothing would be missing")
    done = subprocess.run(
        ["python3", str(PREPARE), "--wheels", str(tmp_path / "wheels"), "--venv", str(tmp_path / "venv")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode != 0 and done.stdout == ""  # no Python printed: run.sh stops there
    assert "keras" in done.stderr and "bench/gpu/wheels.sh" in done.stderr
