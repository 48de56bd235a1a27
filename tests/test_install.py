"""The kit as hosts install it: a built wheel in a fresh virtual environment, used from another folder.

No network: the wheel is built with the test environment's setuptools, and the fresh venv
reaches its dependencies (Keras, TensorFlow, ...) through a .pth file that points at this
environment's site-packages, so nothing is downloaded. The package itself comes only from the
wheel: the checkout is never on the new environment's path.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from grader import config
from tests.grading import tiny_spec

CHALLENGES = sorted(p.stem for p in config.CHALLENGES_DIR.glob("*.toml"))


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    root = tmp_path_factory.mktemp("install")
    wheels = root / "wheels"
    # From a copy without the checkout's build/ folder: setuptools would reuse what an earlier
    # build left there (a package since dropped from pyproject.toml would still ship).
    source = root / "source"
    shutil.copytree(
        config.REPO_ROOT,
        source,
        ignore=shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "runs", "__pycache__", ".pytest_cache"),
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(wheels),
            str(source),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    (wheel,) = wheels.glob("cnn_grader-*.whl")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    # This environment's packages, for the dependencies only (its own .pth files are not run from there).
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    work = root / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "GRADER_RUNS_DIR")}
    env["GRADER_CACHE_DIR"] = str(root / "cache")
    return {"venv": venv, "work": work, "env": env, "wheel": wheel, "root": root}


def run(installed, *args, check=True):
    grade = installed["venv"] / "bin" / "grade"
    return subprocess.run(
        [str(grade), *args],
        cwd=installed["work"],
        env=installed["env"],
        capture_output=True,
        text=True,
        check=check,
        timeout=600,
    )


def test_the_wheel_holds_the_kit(installed):
    import zipfile

    names = set(zipfile.ZipFile(installed["wheel"]).namelist())
    for name in CHALLENGES:
        assert f"grader/kit/challenges/{name}.toml" in names and f"grader/kit/challenges/{name}.py" in names
    assert "grader/kit/datasets/manifest.toml" in names
    assert "grader/kit/docs/contract.md" in names  # `grade docs contract` from a pip install
    assert not [n for n in names if n.startswith(("tests/", "runs/")) or "/cache/" in n]
    # Every learner installs this wheel: no reference solution is in it, not under any name.
    references = {p.read_bytes() for p in (config.REPO_ROOT / "solutions").rglob("*.py")}
    with zipfile.ZipFile(installed["wheel"]) as wheel:
        assert not [n for n in names if "solutions" in n or wheel.read(n) in references]
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), sorted(n for n in names if "dist-info" in n)


def test_the_docs_a_learner_is_pointed_at_come_with_the_install(installed):
    shown = run(installed, "docs", "contract").stdout
    assert shown == (config.REPO_ROOT / "docs" / "contract.md").read_text()
    where = run(installed, "docs", "data", "--path").stdout.strip()
    assert where.startswith(str(installed["venv"])) and where.endswith("grader/kit/docs/data.md"), where


def test_commands_that_need_a_reference_say_how_to_get_one(installed):
    refused = run(installed, "calibrate", "fashion", "--seeds", "1", check=False)
    assert refused.returncode == 2 and "the reference solutions are for hosts" in refused.stderr, refused.stderr


def test_grade_challenges_lists_every_challenge_from_the_installed_package(installed):
    python = installed["venv"] / "bin" / "python"
    where = subprocess.run(
        [str(python), "-c", "import grader; print(grader.__file__)"],
        cwd=installed["work"],
        env=installed["env"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert str(installed["venv"]) in where, where
    listed = run(installed, "challenges").stdout
    assert [line.split()[0] for line in listed.splitlines()] == CHALLENGES


def test_init_then_submit_the_reference_from_another_folder(installed, tmp_path):
    out = run(installed, "init", "my").stdout
    assert "wrote my/fashion.py" in out
    my = installed["work"] / "my"
    assert sorted(p.stem for p in my.glob("*.py")) == CHALLENGES
    assert "TODO" in (my / "fashion.py").read_text()
    again = run(installed, "init", "my", check=False)
    assert again.returncode == 1 and "nothing was copied" in again.stderr
    # The learner finishes the TODOs: here, the reference solution of the checkout.
    site = next((installed["venv"] / "lib").glob("python*/site-packages"))
    (my / "fashion.py").write_text((config.REPO_ROOT / "solutions" / "fashion.py").read_text())
    spec = tiny_spec(tmp_path, "fashion")
    result = run(installed, "submit", "my/fashion.py", "--spec", str(spec), "--profile", "tiny", "--json")
    doc = json.loads(result.stdout)
    assert doc["verdict"] == "passed", doc["checks"]
    # Run folders go to ./runs of the folder the command ran in, never into the package.
    assert Path(doc["run_dir"]).parent == installed["work"] / "runs"
    assert not list((site / "grader").glob("runs"))


def test_the_wheel_holds_every_package_of_the_grader(installed):
    import zipfile

    names = set(zipfile.ZipFile(installed["wheel"]).namelist())
    packages = sorted(
        str(p.parent.relative_to(config.REPO_ROOT)) for p in (config.REPO_ROOT / "grader").rglob("__init__.py")
    )
    missing = [p for p in packages if f"{p}/__init__.py" not in names]
    assert missing == [], f"add these to [tool.setuptools] packages in pyproject.toml: {missing}"


def test_a_warm_check_from_another_folder(installed, tmp_path):
    """The helper of the installed package grades for the folder the command ran in: the run
    folder goes to its ./runs, as a cold check's does."""
    learner = installed["work"] / "warm"
    learner.mkdir()
    (learner / "fashion.py").write_text((config.REPO_ROOT / "solutions" / "fashion.py").read_text())
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    warm = {**installed, "env": {**installed["env"], "XDG_RUNTIME_DIR": str(runtime), "GRADER_WARM_IDLE_S": "120"}}
    try:
        for _ in range(2):  # the first starts the helper, the second gets the processes it started ahead
            result = run(warm, "check", "--warm", "warm/fashion.py", "--json")
            assert "not available" not in result.stderr, result.stderr
            doc = json.loads(result.stdout)
            assert doc["verdict"] == "passed" and doc["mode"] == "check", doc["checks"]
            assert Path(doc["run_dir"]).parent == installed["work"] / "runs"
        assert "2 checks" in run(warm, "warm", "status").stdout
    finally:
        assert "stopped" in run(warm, "warm", "stop").stdout


def test_a_host_builds_the_gradescope_bundle_from_a_pip_install(installed):
    """The bundle's kit is the installed package laid out as a project: it builds, offline, into a
    wheel with the same files as the kit's own wheel, and it holds no reference solution."""
    import zipfile

    made = run(installed, "gradescope", "bundle", "fashion", "--out", "fashion.zip")
    assert "Python 3.10" in made.stdout, made.stdout
    with zipfile.ZipFile(installed["work"] / "fashion.zip") as archive:
        archive.extractall(installed["root"] / "bundle")
    kit = installed["root"] / "bundle" / "cnn-grader"
    references = {p.read_bytes() for p in (config.REPO_ROOT / "solutions").rglob("*.py")}
    assert not [p for p in kit.rglob("*") if p.is_file() and p.read_bytes() in references]

    rebuilt = installed["root"] / "rebuilt"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(rebuilt),
            str(kit),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    (wheel,) = rebuilt.glob("cnn_grader-*.whl")

    def package_files(path):
        return {n for n in zipfile.ZipFile(path).namelist() if not n.startswith("cnn_grader-")}

    assert package_files(wheel) == package_files(installed["wheel"])
    assert (
        zipfile.ZipFile(wheel).read("grader/kit/challenges/fashion.toml")
        == (config.CHALLENGES_DIR / "fashion.toml").read_bytes()
    )
