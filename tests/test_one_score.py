"""One mistake, one score: `grade check`, `grade submit`, `grade batch`'s gradebook, Gradescope's
results.json and the nbgrader notebook tests give every check the same points (issue 32, item 4).

Five planted mistakes of tests/learner_corpus.py, each graded once with `grade check` and once
with `grade submit` on a tiny profile. The gradebook row and Gradescope's results.json are made
from that submit's result.json, as `grade batch` and `run_autograder` make them; the notebook's
tests run the same learner functions through `ChallengeTests.score`, as nbgrader runs the cells.
"""

from __future__ import annotations

import types

import pytest

from grader.batch.gradebook import row_from_result
from grader.integrations.gradescope import gradescope_results
from grader.integrations.nbgrader_checks import ChallengeTests, functions_needed
from grader.pipeline import grade
from tests.grading import tiny_spec
from tests.learner_corpus import MISTAKES
from tests.test_learner_corpus import source_of

CASES = ["second conv has 32 filters", "5x5 kernel", "not scaled", "callback never stops", "dropout rate 0.5"]


def _case(name):
    return next(case for case in MISTAKES if case.name == name)


def _notebook_points(case, source: str) -> dict[str, float]:
    """What nbgrader's test cells give: ChallengeTests.score per check, on the learner's functions."""
    learner = types.ModuleType(f"learner_{case.challenge}")
    exec(compile(source, f"{case.challenge}.py", "exec"), learner.__dict__)  # the corpus: our own edited references
    tests = ChallengeTests(case.challenge)
    return {
        check_id: tests.score(check_id, **{f: getattr(learner, f) for f in functions_needed(check_id)})
        for check_id in tests.checks
    }


@pytest.mark.slow
@pytest.mark.parametrize("name", CASES)
def test_every_route_gives_each_check_the_same_points(name, tmp_path):
    case = _case(name)
    source = source_of(case)
    path = tmp_path / f"{case.challenge}.py"
    path.write_text(source)
    checked = grade(path=path, challenge=case.challenge, out_dir=tmp_path / "check", train=False)
    spec = tiny_spec(tmp_path, case.challenge)
    submitted = grade(path=path, spec_path=spec, profile="tiny", out_dir=tmp_path / "submit", train=True)
    assert checked.error is None and submitted.error is None, (checked.error, submitted.error)
    document = submitted.to_dict()

    routes = {
        "grade check": {c.id: c.points for c in checked.checks},
        "grade submit": {c.id: c.points for c in submitted.checks},
        "grade batch": row_from_result(0, "learner", document).checks,
        "Gradescope": {
            c["id"]: test["score"]
            for c, test in zip(document["checks"], gradescope_results(document)["tests"], strict=True)
        },
        "nbgrader": _notebook_points(case, source),
    }
    shared = set(routes["nbgrader"])  # the checks every route runs: no training in a notebook or a check
    assert shared and shared <= set(routes["grade check"])
    for check_id in sorted(shared):
        points = {route: got[check_id] for route, got in routes.items()}
        assert len(set(points.values())) == 1, (check_id, points)
    # And the planted mistake costs points somewhere, the same everywhere.
    assert any(
        routes["nbgrader"][c] < checked_max
        for c, checked_max in ((c.id, c.max_points) for c in checked.checks if c.id in shared)
    )
