"""The convolution challenge (kind "functions"): NumPy functions graded against Keras' layers.

Submissions are the reference solution, the skeleton, and copies of the solution with one
planted mistake each; every one is graded for real (a child process, Keras in the parent).
A mistake must cost the check it belongs to, and only that one.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from click.testing import CliRunner

from grader import config
from grader.cli import main as cli
from grader.kinds.functions.convolution_suite import make_cases
from grader.pipeline import grade
from grader.spec import SpecError, load_spec

SOLUTION = config.SOLUTIONS_DIR / "convolution.py"
SKELETON = config.CHALLENGES_DIR / "convolution.py"
SCHEMA = json.loads((config.REPO_ROOT / "docs" / "result.schema.json").read_text())
SPEC = load_spec("convolution")
POINTS = {check.name: check.points for check in SPEC.checks}
GRADED = ["valid", "same", "stride", "channels", "max_pool", "average_pool"]


def check(result, id):
    return next(c for c in result.checks if c.id == id)


def failed_ids(result) -> set[str]:
    return {c.id for c in result.checks if not c.passed}


def planted(tmp_path: Path, *edits: tuple[str, str], name: str = "convolution.py") -> Path:
    """A copy of the reference solution with each (old, new) edit made once."""
    source = SOLUTION.read_text()
    for old, new in edits:
        assert source.count(old) == 1, f"the solution no longer contains {old!r} exactly once"
        source = source.replace(old, new)
    path = tmp_path / name
    path.write_text(source)
    return path


def spec_with(tmp_path: Path, old: str, new: str) -> Path:
    text = (config.CHALLENGES_DIR / "convolution.toml").read_text()
    assert old in text
    path = tmp_path / "convolution.toml"
    path.write_text(text.replace(old, new, 1))
    return path


# --------------------------------------------------------------------------- the spec and the cases


def test_the_spec_lists_every_check_with_points():
    assert SPEC.kind == "functions" and SPEC.profiles == {}
    assert [c.name for c in SPEC.checks] == GRADED
    assert sum(POINTS.values()) == 100 and all(points > 0 for points in POINTS.values())


@pytest.mark.parametrize(
    "old, new, key",
    [
        ("[checks.same]", "[checks.padding]", "checks.padding"),
        ('kind = "functions"', 'kind = "function"', "kind"),
        ("cases = 20", "cases = 0", "cases"),
        ("points = 15\n", 'points = "many"\n', "points"),
    ],
)
def test_a_wrong_spec_key_is_named(tmp_path, old, new, key):
    with pytest.raises(SpecError, match=key):
        load_spec(spec_with(tmp_path, old, new))


def test_cases_are_seeded_and_cover_the_edge_cases():
    first, again, other = (make_cases("same", 20, seed) for seed in (0, 0, 1))
    assert all(
        np.array_equal(a.image, b.image) and np.array_equal(a.kernel, b.kernel)
        for a, b in zip(first, again, strict=True)
    )
    assert not all(
        a.image.shape == b.image.shape and np.array_equal(a.image, b.image) for a, b in zip(first, other, strict=True)
    )
    # 'same': even kernel sides (odd total padding) and images smaller than the kernel.
    assert any(k % 2 == 0 for case in first for k in case.kernel.shape)
    assert any(case.image.shape[0] < case.kernel.shape[0] for case in first)
    stride = make_cases("stride", 20, 0)
    assert {(c.option("stride"), c.option("padding")) for c in stride} == {
        (2, "valid"),
        (3, "valid"),
        (2, "same"),
        (3, "same"),
    }
    assert {c.image.shape[0] % 2 for c in stride if c.option("padding") == "same"} == {0, 1}
    assert all(c.needs == ("same",) for c in stride if c.option("padding") == "same")
    channels = make_cases("channels", 20, 0)
    assert {c.image.shape[2] for c in channels} == {2, 3, 4}
    assert all(c.kernel.shape[2] == c.image.shape[2] for c in channels)
    pools = make_cases("max_pool", 20, 0)
    assert {c.option("size") for c in pools} == {2, 3} and any(c.image.shape[0] % c.option("size") for c in pools)


# --------------------------------------------------------------------------- the reference and the skeleton


def test_reference_solution_scores_full_points_in_check_and_submit(tmp_path):
    for mode, train in (("check", False), ("submit", True)):
        result = grade(path=planted(tmp_path), train=train, out_dir=tmp_path / mode)
        assert result.verdict == "passed" and result.exit_code == 0, [c for c in result.checks if not c.passed]
        assert result.score == result.max_score == 100
        assert [c.id for c in result.checks] == ["submission", *GRADED]
        assert check(result, "same").message == "all 20 random cases match keras.layers.Conv2D(padding='same')"
        written = json.loads((Path(result.run_dir) / "result.json").read_text())
        jsonschema.validate(written, SCHEMA)
        assert written["mode"] == mode and written["seed"] == SPEC.seed and written["model_summary"] == []
        # The learner's inputs and outputs are not left behind.
        assert not list(Path(result.run_dir).rglob("*.npy"))
        # submit also writes the HTML report: the checks table, no figures (nothing was trained).
        report = Path(result.run_dir) / "report.html"
        assert report.exists() == train
        if train:
            page = report.read_text()
            assert "all 20 random cases match keras.layers.Conv2D(padding=&#39;same&#39;)" in page
            assert "Learning curves" not in page


def test_the_command_line_grades_it_with_its_exit_codes(tmp_path):
    runner = CliRunner()
    good = runner.invoke(cli, ["submit", str(planted(tmp_path)), "--json", "--out", str(tmp_path / "good")])
    assert good.exit_code == 0, good.output
    assert json.loads(good.stdout)["score"] == 100
    skeleton = tmp_path / "skeleton" / "convolution.py"
    skeleton.parent.mkdir()
    skeleton.write_text(SKELETON.read_text())
    bad = runner.invoke(cli, ["check", str(skeleton), "--json", "--out", str(tmp_path / "bad")])
    assert bad.exit_code == 1 and json.loads(bad.stdout)["score"] == 0


def test_skeleton_scores_zero_with_the_todo_of_each_check(tmp_path):
    skeleton = tmp_path / "convolution.py"
    skeleton.write_text(SKELETON.read_text())
    result = grade(path=skeleton, train=False, out_dir=tmp_path / "run")
    assert result.score == 0 and result.verdict == "failed"
    todo_of_check = {"valid": 1, "same": 2, "stride": 1, "channels": 3, "max_pool": 4, "average_pool": 5}
    function_of_todo = {1: "conv2d", 2: "same_padding", 3: "conv2d_channels", 4: "max_pool2d", 5: "average_pool2d"}
    for id, todo in todo_of_check.items():
        c = check(result, id)
        assert c.message.startswith(f"TODO {todo} is not done yet: "), c.message
        assert "cases fail" not in c.message  # every case failed alike: no count
        function = function_of_todo[todo]
        assert c.hint == f"replace the `raise NotImplementedError(...)` line in {function}() with your code"
    assert check(result, "submission").passed  # it imports cleanly


# --------------------------------------------------------------------------- planted mistakes

CHANNEL_SUM = "return sum(conv2d(image[:, :, c], kernels[:, :, c], stride, padding) for c in range(image.shape[2]))"

MISTAKES = {
    # The extra zero of an odd total padding put before (top/left) instead of after.
    "padding_extra_zero_before": (
        "same",
        "extra zero of an odd total padding goes after",
        [("    before = total // 2\n", "    before = total - total // 2\n")],
    ),
    # One zero too many: the output grows by one.
    "padding_one_too_many": (
        "same",
        "with 'same' padding the output has ceil(H / stride) rows",
        [
            (
                "total = max((out - 1) * stride + kernel_size - size, 0)",
                "total = max((out - 1) * stride + kernel_size - size + 1, 0)",
            )
        ],
    ),
    "channels_not_summed": (
        "channels",
        "only the first channel counts",
        [(CHANNEL_SUM, "return conv2d(image[:, :, 0], kernels[:, :, 0], stride, padding)")],
    ),
    "channels_stacked": (
        "channels",
        "one map per channel",
        [
            (
                CHANNEL_SUM,
                "return np.stack([conv2d(image[:, :, c], kernels[:, :, c], stride, padding) "
                "for c in range(image.shape[2])], axis=-1)",
            )
        ],
    ),
    "stride_ignored": (
        "stride",
        "the stride is ignored",
        [
            ("rows = (image.shape[0] - kh) // stride + 1", "rows = image.shape[0] - kh + 1"),
            ("columns = (image.shape[1] - kw) // stride + 1", "columns = image.shape[1] - kw + 1"),
            ("r, c = i * stride, j * stride", "r, c = i, j"),
        ],
    ),
    "max_pool_from_zero": (
        "max_pool",
        "starts at 0",
        [(".max()\n    return out", ".max()\n            out[i, j] = max(out[i, j], 0)\n    return out")],
    ),
}


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_a_planted_mistake_costs_its_own_check_only(tmp_path, mistake):
    lost, hint, edits = MISTAKES[mistake]
    result = grade(path=planted(tmp_path, *edits), train=False, out_dir=tmp_path / "run")
    assert failed_ids(result) == {lost}, [(c.id, c.message) for c in result.checks if not c.passed]
    assert result.score == 100 - POINTS[lost] and result.exit_code == 1
    c = check(result, lost)
    assert c.points == 0 and hint in c.hint, c.hint
    # The message names the failing call and either the wrong shape or the first wrong value.
    assert c.message.split("(")[0] in ("conv2d", "conv2d_channels", "max_pool2d"), c.message
    assert "returned shape" in c.message or ("first wrong value at (row " in c.message and "expected" in c.message)


def test_the_first_mismatch_is_reported_with_its_coordinates(tmp_path):
    # Only output pixel (1, 2) is wrong, and only for images of at least 4 rows and 5 columns.
    edit = (
        "    return out\n    ### END SOLUTION\n\n\ndef same_padding",
        "    if out.shape[0] > 1 and out.shape[1] > 2 and image.shape[0] >= 4 and image.shape[1] >= 5:\n"
        "        out[1, 2] += 1\n    return out\n    ### END SOLUTION\n\n\ndef same_padding",
    )
    result = grade(path=planted(tmp_path, edit), train=False, out_dir=tmp_path / "run")
    assert failed_ids(result) == {"valid", "same", "stride", "channels"}  # all use conv2d
    message = check(result, "valid").message
    found = re.search(r"first wrong value at \(row (\d+), col (\d+)\): expected (\S+), got (\S+) \((\d+) of", message)
    assert found, message
    row, col, expected, got, differing = found.groups()
    assert (row, col, differing) == ("1", "2", "1") and float(got) == float(expected) + 1


# --------------------------------------------------------------------------- what never crashes the grader


def test_a_hanging_function_costs_its_check_and_not_the_run(tmp_path):
    spec = spec_with(tmp_path, "call_time_limit_s = 2", "call_time_limit_s = 0.5")
    path = planted(
        tmp_path, ("    kh, kw = kernel.shape\n", "    kh, kw = kernel.shape\n    while stride > 1:\n        pass\n")
    )
    result = grade(path=path, spec_path=spec, train=False, out_dir=tmp_path / "run")
    assert failed_ids(result) == {"stride"}
    assert "ran for more than 0.5 s" in check(result, "stride").message
    assert result.durations["child"] < 30


def test_garbage_and_crashes_are_reported_per_check(tmp_path):
    path = planted(
        tmp_path,
        (
            "    image = np.asarray(image, dtype=float)\n\n    # TODO 4:",
            "    image = np.asarray(image, dtype=float)\n    return [[object()]]\n\n    # TODO 4:",
        ),
        (
            "    image = np.asarray(image, dtype=float)\n\n    # TODO 5:",
            "    image = np.asarray(image, dtype=float)\n"
            "    raise IndexError('row 99 is out of range')\n\n    # TODO 5:",
        ),
    )
    result = grade(path=path, train=False, out_dir=tmp_path / "run")
    assert failed_ids(result) == {"max_pool", "average_pool"}
    assert "returned list, not an array of numbers" in check(result, "max_pool").message
    message = check(result, "average_pool").message
    assert "raised IndexError: row 99 is out of range" in message and "line " in message
    jsonschema.validate(result.to_dict(), SCHEMA)


def test_a_file_that_fails_to_import_is_graded_not_crashed(tmp_path):
    path = planted(tmp_path, ("import numpy as np\n", "import numpy as np\nraise RuntimeError('boom')\n"))
    result = grade(path=path, train=False, out_dir=tmp_path / "run")
    assert result.verdict == "failed" and result.exit_code == 1 and result.score == 0
    assert result.failure["stage"] == "import" and "boom" in result.failure["message"]
    assert all(check(result, id).message == "not checked: import failed" for id in GRADED)
    jsonschema.validate(result.to_dict(), SCHEMA)


def test_a_missing_function_costs_its_checks(tmp_path):
    path = planted(tmp_path, ("def average_pool2d(image, size=2):", "def mean_pool(image, size=2):"))
    result = grade(path=path, train=False, out_dir=tmp_path / "run")
    assert failed_ids(result) == {"average_pool"}
    assert check(result, "average_pool").message == "the file does not define average_pool2d()"


def test_outputs_are_read_back_without_pickles(tmp_path):
    from grader.describe.sandbox.calls import _read_back

    forged = tmp_path / "forged.npy"
    np.save(forged, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    returned = _read_back({"status": "ok"}, tmp_path, "forged.npy", "conv2d()")
    assert returned.value is None and "could not be read back" in returned.error


def test_a_function_that_ends_the_process_costs_only_the_calls_it_stopped(tmp_path):
    path = planted(
        tmp_path,
        ("import numpy as np\n", "import os\n\nimport numpy as np\n"),
        (
            "    image = np.asarray(image, dtype=float)\n\n    # TODO 5:",
            "    image = np.asarray(image, dtype=float)\n    os._exit(3)\n\n    # TODO 5:",
        ),
    )
    result = grade(path=path, train=False, out_dir=tmp_path / "run")
    assert failed_ids(result) == {"submission", "average_pool"}
    assert result.failure["stage"] == "crash" and "exit code 3" in result.failure["message"]
    assert check(result, "average_pool").message.startswith("average_pool2d(image ")
    assert "was not run: the submission's process ended early" in check(result, "average_pool").message
    jsonschema.validate(result.to_dict(), SCHEMA)


def test_the_whole_run_is_stopped_at_its_time_budget(tmp_path):
    spec = spec_with(tmp_path, "time_budget_s = 60", "time_budget_s = 4")
    spec.write_text(spec.read_text().replace("call_time_limit_s = 2", "call_time_limit_s = 30"))
    path = planted(
        tmp_path,
        (
            "    image = np.asarray(image, dtype=float)\n\n    # TODO 4:",
            "    image = np.asarray(image, dtype=float)\n    while True:\n        pass\n\n    # TODO 4:",
        ),
    )
    result = grade(path=path, spec_path=spec, train=False, out_dir=tmp_path / "run")
    assert result.failure["stage"] == "timeout" and "time budget of 4 s" in result.failure["message"]
    assert failed_ids(result) == {"submission", "max_pool", "average_pool"}
    assert result.durations["child"] < 20
