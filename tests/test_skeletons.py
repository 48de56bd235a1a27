"""The learner's untouched skeletons: they import cleanly and every TODO says which it is.

Each skeleton runs in a fresh Python process, from an empty working folder, as the grader's
child would run it: nothing from this test process (Keras state, sys.path) leaks in.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

CHALLENGES = Path(__file__).resolve().parents[1] / "challenges"

# Calls into each skeleton, and the TODO each must raise (None: given code, must not raise).
CALLS = {
    "fashion": [
        ("preprocess(np.zeros((2, 28, 28), np.uint8))", 1),
        ("build_model()", 2),
        ("StopAtAccuracy(0.9).on_epoch_end(0, {'accuracy': 0.95, 'loss': 0.1})", 3),
        ("make_callbacks(0.9)", 4),
    ],
    "cnn": [
        ("preprocess(np.zeros((2, 28, 28), np.uint8))", 1),
        ("build_model()", 2),
        ("make_callbacks(0.9)", None),
    ],
    "cats_dogs": [
        ("preprocess(np.zeros((2, 150, 150, 3), np.uint8))", 1),
        ("augmentation_layers()", 2),
        ("build_model()", 3),
        ("make_callbacks(0.9)", None),
    ],
    "convolution": [
        ("conv2d(np.ones((4, 5)), np.ones((3, 3)))", 1),
        ("same_padding(6, 3, 2)", 2),
        ("conv2d_channels(np.ones((4, 5, 3)), np.ones((3, 3, 3)))", 3),
        ("max_pool2d(np.ones((4, 5)))", 4),
        ("average_pool2d(np.ones((4, 5)))", 5),
    ],
}

# Imports the skeleton by path, makes each call, prints one JSON line: what each call raised.
CHILD = """
import importlib.util, io, json, sys, contextlib
import numpy as np
path, calls = sys.argv[1], json.loads(sys.argv[2])
spec = importlib.util.spec_from_file_location("skeleton", path)
module = importlib.util.module_from_spec(spec)
printed = io.StringIO()
with contextlib.redirect_stdout(printed):
    spec.loader.exec_module(module)
outcomes = []
for call in calls:
    try:
        eval(call, {"np": np, **vars(module)})
        outcomes.append(None)
    except NotImplementedError as exc:
        outcomes.append(["NotImplementedError", str(exc)])
    except Exception as exc:
        outcomes.append([type(exc).__name__, str(exc)])
print(json.dumps({"import_output": printed.getvalue(), "outcomes": outcomes}))
"""


def run_skeleton(name: str, calls: list[str], cwd: Path) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("PYTHONPATH", None)
    completed = subprocess.run(
        [sys.executable, "-c", CHILD, str(CHALLENGES / f"{name}.py"), json.dumps(calls)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", sorted(CALLS))
def test_skeleton_imports_cleanly_and_each_todo_raises_its_number(name, tmp_path):
    calls = CALLS[name]
    result = run_skeleton(name, [call for call, _ in calls], tmp_path)
    assert result["import_output"] == "", "importing a skeleton must not print"
    for (call, todo), outcome in zip(calls, result["outcomes"], strict=True):
        if todo is None:
            assert outcome is None, f"{call} is given code, yet raised {outcome}"
            continue
        assert outcome is not None, f"{call} should raise NotImplementedError for TODO {todo}"
        kind, message = outcome
        assert kind == "NotImplementedError", f"{call} raised {kind}: {message}"
        assert message.startswith(f"TODO {todo}: "), f"{call} raised {message!r}, not TODO {todo}"


def test_every_challenge_and_every_todo_is_exercised():
    assert sorted(CALLS) == sorted(p.stem for p in CHALLENGES.glob("*.toml"))
    for name, calls in CALLS.items():
        source = (CHALLENGES / f"{name}.py").read_text(encoding="utf-8")
        raised = [int(n) for n in re.findall(r'raise NotImplementedError\("TODO (\d+):', source)]
        assert raised == [todo for _, todo in calls if todo is not None], name


@pytest.mark.parametrize("name", ["fashion", "cnn", "cats_dogs"])
def test_grade_check_explains_every_failed_check_of_an_untouched_skeleton(name, tmp_path):
    """Each check of an untouched skeleton fails with the TODO it waits for, not 'not checked'."""
    from grader.pipeline import grade

    result = grade(path=CHALLENGES / f"{name}.py", train=False, out_dir=tmp_path / "run")
    assert result.verdict == "failed" and result.score == 0
    scored = [c for c in result.checks if c.max_points > 0]
    assert scored
    for check in scored:
        assert not check.passed
        assert "TODO" in check.message and "is not done yet" in check.message, (check.id, check.message)
        assert "NotImplementedError" in check.hint, (check.id, check.hint)
    by_id = {c.id: c for c in result.checks}
    assert "TODO 1" in by_id["preprocess"].message
    assert "build_model()" in by_id["architecture.layers"].message


def test_every_pointer_to_the_docs_works_from_a_pip_install():
    """Skeletons and messages name pages as `grade docs TOPIC` (shipped in the package), never a
    docs/ path or a folder of the checkout that a pip install does not have."""
    from click.testing import CliRunner

    from grader import config
    from grader.cli import main as cli
    from grader.cli.docs import topics

    learner_facing = sorted(config.CHALLENGES_DIR.glob("*.py"))
    for path in learner_facing:
        text = path.read_text()
        assert "docs/" not in text and "../shared" not in text, path.name
    pointers = set()
    for path in learner_facing + sorted((config.REPO_ROOT / "grader").rglob("*.py")):
        pointers |= set(re.findall(r"`grade docs ([a-z_]+)`", path.read_text()))
    assert {"contract", "data", "security", "spec"} <= pointers
    assert pointers <= set(topics()), pointers - set(topics())
    shown = CliRunner().invoke(cli, ["docs", "contract"])
    assert shown.exit_code == 0 and shown.output == (config.REPO_ROOT / "docs" / "contract.md").read_text()
    listed = CliRunner().invoke(cli, ["docs"]).output
    assert all(f"{topic:<13} " in listed for topic in topics())
    unknown = CliRunner().invoke(cli, ["docs", "nope"])
    assert (
        unknown.exit_code == 2
        and "no documentation page named 'nope'; the pages are: architecture, batch," in unknown.output
    )
