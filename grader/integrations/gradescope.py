"""Gradescope: a grading result as Gradescope's `results.json`.

The fields follow Gradescope's autograder specification; docs/gradescope.md lists the ones
used and docs/gradescope.schema.json is the JSON Schema the tests validate against.

Both functions here work on the result *document* (GradeResult.to_dict(), or a result.json
read back), so `grade submit --format gradescope` and `grade gradescope export` share them. The
autograder zip is built in grader/integrations/gradescope_bundle.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS_FILE = "results.json"
# Learners see every test with its message and hint as soon as it is graded: the hints are the
# point of the kit, and nothing in a check's output gives the held-out data away.
TEST_VISIBILITY = "visible"


def _test_output(check: dict[str, Any]) -> str:
    hint = check.get("hint") or ""
    return check["message"] + (f"\nHint: {hint}" if hint else "")


def gradescope_results(result: dict[str, Any]) -> dict[str, Any]:
    """Gradescope's results.json for one result document."""
    error = result.get("error")
    if error is not None:
        summary = f"Not graded: {error}"
    else:
        word = "Passed" if result["verdict"] == "passed" else "Not passed yet"
        summary = (
            f"{word}: {result['score']:g} of {result['max_score']:g} points ({result['challenge']}, "
            f"profile {result['profile']})."
        )
    tests = []
    for number, check in enumerate(result.get("checks", []), start=1):
        tests.append(
            {
                "name": check["title"] + (" (bonus)" if check.get("bonus") else ""),
                "number": str(number),
                "score": check["points"],
                "max_score": check["max_points"],
                "status": "passed" if check["passed"] else "failed",
                "output": _test_output(check),
                "visibility": TEST_VISIBILITY,
            }
        )
    doc: dict[str, Any] = {
        "score": result["score"] if error is None else 0.0,
        "execution_time": round(float(result.get("durations", {}).get("total", 0.0))),
        "output": summary,
        "tests": tests,
        "extra_data": {
            key: result.get(key) for key in ("challenge", "profile", "verdict", "submission_sha256", "grader_version")
        },
    }
    metrics = result.get("metrics") or {}
    if "test_accuracy" in metrics and "gap" in metrics:
        doc["leaderboard"] = [
            {"name": "Accuracy", "value": round(float(metrics["test_accuracy"]), 4)},
            {"name": "Gap", "value": round(float(metrics["gap"]), 4), "order": "asc"},
        ]
    return doc


def write_results(result: dict[str, Any], path: Path) -> Path:
    """Write results.json for `result` to `path`: a .json file, or else a folder to put results.json in."""
    path = Path(path)
    if path.is_dir() or path.suffix != ".json":
        path = path / RESULTS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(gradescope_results(result), indent=2, allow_nan=False))
    tmp.replace(path)
    return path
