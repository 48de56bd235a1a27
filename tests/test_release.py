"""grade release: skeletons generated from the reference solutions, and the drift guard."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli.release import release as release_command
from grader.host.release import release, skeleton_from_solution, todo_summary

REPO = Path(__file__).resolve().parents[1]
SOLUTIONS = REPO / "solutions"
CHALLENGES = REPO / "challenges"
NAMES = sorted(p.stem for p in SOLUTIONS.glob("*.py"))


# --------------------------------------------------------------------------- the real files


def test_every_challenge_has_a_solution():
    assert NAMES == sorted(p.stem for p in CHALLENGES.glob("*.toml"))


@pytest.mark.parametrize("name", NAMES)
def test_checked_in_skeleton_is_generated_from_its_solution(name):
    expected = skeleton_from_solution((SOLUTIONS / f"{name}.py").read_text(encoding="utf-8"))
    actual = (CHALLENGES / f"{name}.py").read_text(encoding="utf-8")
    assert actual == expected, f"challenges/{name}.py is out of date: run `grade release`"


@pytest.mark.parametrize("name", NAMES)
def test_todos_are_numbered_one_to_n_in_order(name):
    source = (SOLUTIONS / f"{name}.py").read_text(encoding="utf-8")
    numbers = [int(n) for n in re.findall(r"^\s*# TODO (\d+):", source, flags=re.MULTILINE)]
    assert numbers == list(range(1, len(numbers) + 1))
    assert source.count("### BEGIN SOLUTION") == len(numbers)


def test_release_check_reports_the_repository_up_to_date():
    results = release(solutions_dir=SOLUTIONS, challenges_dir=CHALLENGES, check=True)
    assert [r.name for r in results] == NAMES
    assert [r.name for r in results if not r.up_to_date] == []


# --------------------------------------------------------------------------- skeleton_from_solution

SOLUTION = '''\
def build_model():
    """Docstring stays."""
    # TODO 2: Build the "CNN". Use keras.Sequential.
    # More help the learner keeps.
    ### BEGIN SOLUTION
    model = make()
    ### END SOLUTION
    return model


class Stopper:
    def on_epoch_end(self, epoch, logs=None):
        # TODO 3: Stop at the target!  Then print.
        ### BEGIN SOLUTION
        self.stop = True
        ### END SOLUTION
'''

SKELETON = '''\
def build_model():
    """Docstring stays."""
    # TODO 2: Build the "CNN". Use keras.Sequential.
    # More help the learner keeps.
    raise NotImplementedError("TODO 2: Build the \\"CNN\\"")
    return model


class Stopper:
    def on_epoch_end(self, epoch, logs=None):
        # TODO 3: Stop at the target!  Then print.
        raise NotImplementedError("TODO 3: Stop at the target!")
'''


def test_regions_become_raises_at_the_marker_indentation():
    assert skeleton_from_solution(SOLUTION) == SKELETON


def test_skeleton_raises_with_the_todo_number():
    namespace: dict = {}
    exec(skeleton_from_solution(SOLUTION), namespace)
    with pytest.raises(NotImplementedError, match=r'^TODO 2: Build the "CNN"$'):
        namespace["build_model"]()


def test_source_without_regions_is_unchanged():
    source = "def f():\n    return 1\n"
    assert skeleton_from_solution(source) == source


@pytest.mark.parametrize(
    "text, summary",
    [
        ("Build the CNN and compile it.", "Build the CNN and compile it"),
        ("Scale to [0, 1]. Divide by 255.0.", "Scale to [0, 1]"),
        ("Reshape to (N, 28, 28, 1) and use 255.0 as scale", "Reshape to (N, 28, 28, 1) and use 255.0 as scale"),
        ("Why? Because.", "Why?"),
    ],
)
def test_todo_summary_is_the_first_sentence(text, summary):
    assert todo_summary(text) == summary


def _error(source: str) -> str:
    with pytest.raises(ValueError) as info:
        skeleton_from_solution(source)
    return str(info.value)


def test_region_without_todo_comment_is_an_error():
    source = "def f():\n    # a plain comment\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n"
    assert _error(source).startswith("line 3:")


def test_region_does_not_borrow_the_previous_regions_todo():
    source = (
        "def f():\n    # TODO 1: One.\n    ### BEGIN SOLUTION\n    x = 1\n    ### END SOLUTION\n"
        "    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n"
    )
    assert _error(source).startswith("line 6:")


def test_unclosed_region_is_an_error():
    source = "def f():\n    # TODO 1: One.\n    ### BEGIN SOLUTION\n    return 1\n"
    message = _error(source)
    assert message.startswith("line 3:") and "never closed" in message


def test_nested_region_is_an_error():
    source = (
        "def f():\n    # TODO 1: One.\n    ### BEGIN SOLUTION\n    # TODO 2: Two.\n"
        "    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n    ### END SOLUTION\n"
    )
    message = _error(source)
    assert message.startswith("line 5:") and "line 3" in message


def test_end_without_begin_is_an_error():
    source = "def f():\n    return 1\n    ### END SOLUTION\n"
    assert _error(source).startswith("line 3:")


def test_module_level_region_is_an_error():
    source = "# TODO 1: One.\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n"
    message = _error(source)
    assert message.startswith("line 2:") and "module level" in message


def test_skeleton_that_is_not_python_is_an_error():
    # The marker is indented deeper than the code around it: the raise would not parse.
    source = (
        "def f():\n    x = 1\n        # TODO 1: One.\n"
        "        ### BEGIN SOLUTION\n        y = 2\n        ### END SOLUTION\n"
    )
    assert "not valid Python" in _error(source)


# --------------------------------------------------------------------------- release() and the command


def _write_solutions(folder: Path) -> Path:
    folder.mkdir()
    (folder / "one.py").write_text(SOLUTION, encoding="utf-8")
    (folder / "two.py").write_text("def f():\n    return 1\n", encoding="utf-8")
    return folder


def test_release_writes_then_reports_up_to_date(tmp_path):
    solutions = _write_solutions(tmp_path / "solutions")
    challenges = tmp_path / "challenges"
    first = release(solutions_dir=solutions, challenges_dir=challenges)
    assert [(r.name, r.up_to_date) for r in first] == [("one", False), ("two", False)]
    assert (challenges / "one.py").read_text(encoding="utf-8") == SKELETON
    second = release(solutions_dir=solutions, challenges_dir=challenges)
    assert all(r.up_to_date for r in second)


def test_release_check_writes_nothing(tmp_path):
    solutions = _write_solutions(tmp_path / "solutions")
    challenges = tmp_path / "challenges"
    challenges.mkdir()
    (challenges / "one.py").write_text("stale\n", encoding="utf-8")
    results = release(solutions_dir=solutions, challenges_dir=challenges, check=True)
    assert [r.name for r in results if not r.up_to_date] == ["one", "two"]
    assert (challenges / "one.py").read_text(encoding="utf-8") == "stale\n"
    assert not (challenges / "two.py").exists()


def test_release_names_the_broken_solution_and_writes_nothing(tmp_path):
    solutions = _write_solutions(tmp_path / "solutions")
    (solutions / "zz_broken.py").write_text("def f():\n    ### END SOLUTION\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"zz_broken\.py: line 2:"):
        release(solutions_dir=solutions, challenges_dir=tmp_path / "challenges")
    assert not (tmp_path / "challenges").exists()


def test_command_check_exits_1_when_out_of_date_and_0_after_release(tmp_path):
    solutions = _write_solutions(tmp_path / "solutions")
    args = ["--solutions", str(solutions), "--challenges", str(tmp_path / "challenges")]
    runner = CliRunner()
    stale = runner.invoke(release_command, ["--check", *args])
    assert stale.exit_code == 1 and "one.py: out of date" in stale.output
    written = runner.invoke(release_command, args)
    assert written.exit_code == 0 and "one.py: written" in written.output
    fresh = runner.invoke(release_command, ["--check", *args])
    assert fresh.exit_code == 0 and "out of date" not in fresh.output


def test_command_exits_2_on_a_broken_solution(tmp_path):
    solutions = tmp_path / "solutions"
    solutions.mkdir()
    (solutions / "bad.py").write_text("def f():\n    ### BEGIN SOLUTION\n    return 1\n", encoding="utf-8")
    result = CliRunner().invoke(release_command, ["--solutions", str(solutions), "--challenges", str(tmp_path)])
    assert result.exit_code == 2 and "bad.py" in result.output
