"""The batch's gradebook: one row per submission, in the shape course tools import.

Written twice, with the same rows: a CSV that Canvas and Moodle import (docs/batch.md has the
mapping) and a JSON twin (`gradebook.json`) for scripts.

CSV columns: learner, challenge, submission_id, points, max_points, verdict, reason,
test_accuracy, gap, run_folder, note, then one column per check (`check:<id>`, its points; the
checks of every challenge in the batch, in the order the reports show them). `points` and
`test_accuracy` are what the learner's own report shows (the public half of the test set, as in
`grade submit --learner`); the private half stays in the database. `reason` says why a row lost
points (its first failed check, with the hint) or was not graded; `note` says what happened to
the grading itself (interrupted, recorded before, graded again).
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from grader.core.bounded import ParseRefused, loads_json
from grader.describe.sandbox.box import BoxFileError, read_bounded

COLUMNS = (
    "learner",
    "challenge",
    "submission_id",
    "points",
    "max_points",
    "verdict",
    "reason",
    "test_accuracy",
    "gap",
    "run_folder",
    "note",
)
CHECK_PREFIX = "check:"
JSON_SUFFIX = ".json"
MAX_RESULT_BYTES = 4 * 1024 * 1024  # a run folder's result.json, read again for a resumed row


@dataclass(frozen=True)
class Row:
    index: int
    learner: str
    challenge: str
    points: float | None
    max_points: float | None
    verdict: str
    test_accuracy: float | None
    gap: float | None
    run_folder: str
    note: str = ""
    submission_id: str = ""  # the leaderboard's id (grade leaderboard select takes it); "" when not recorded
    reason: str = ""  # why points were lost, or why it was not graded
    checks: dict[str, float] = field(default_factory=dict)  # check id -> points earned

    def cells(self, check_ids: list[str]) -> list[str]:
        def number(value: float | None, digits: int) -> str:
            return "" if value is None else f"{value:.{digits}f}"

        return [
            self.learner,
            self.challenge,
            self.submission_id,
            number(self.points, 2),
            number(self.max_points, 2),
            self.verdict,
            _safe_cell(self.reason),
            number(self.test_accuracy, 4),
            number(self.gap, 4),
            self.run_folder,
            _safe_cell(self.note),
        ] + [number(self.checks.get(c), 2) for c in check_ids]


def reason_of(document: dict[str, Any]) -> str:
    """Why a result lost points: its error, or its first failed check (message and hint)."""
    if document.get("verdict") == "not_graded":
        return str(document.get("error") or "not graded")
    for check in document.get("checks") or []:
        if not check.get("passed", True) and not check.get("bonus"):
            hint = f" ({check['hint']})" if check.get("hint") else ""
            return f"{check.get('title', check.get('id'))}: {check.get('message', '')}{hint}"
    return ""


def _points_of(document: dict[str, Any]) -> dict[str, float]:
    return {
        str(c["id"]): float(c["points"])
        for c in document.get("checks") or []
        if isinstance(c, dict) and "id" in c and isinstance(c.get("points"), (int, float))
    }


def row_from_result(index: int, learner: str, document: dict[str, Any], note: str = "", submission_id: str = "") -> Row:
    metrics = document.get("metrics") or {}
    graded = document["verdict"] != "not_graded"
    return Row(
        index,
        learner,
        document.get("challenge") or "",
        document["score"] if graded else None,
        document["max_score"] if graded else None,
        document["verdict"],
        metrics.get("test_accuracy"),
        metrics.get("gap"),
        document.get("run_dir") or "",
        note,
        submission_id,
        reason_of(document),
        _points_of(document) if graded else {},
    )


def row_from_record(index: int, stored: dict[str, Any], note: str) -> Row:
    """A grading recorded by an earlier run of the batch (its database row); its checks come from
    the result.json in its run folder, where that is still there."""
    document = _result_in(stored["run_dir"])
    return Row(
        index,
        stored["learner"],
        stored["challenge"],
        stored["public_score"],
        stored["max_score"],
        stored["verdict"],
        stored["public_accuracy"],
        stored["gap"],
        stored["run_dir"],
        note,
        stored.get("submission_id") or "",
        reason_of(document) if document else stored.get("error") or "",
        _points_of(document) if document else {},
    )


def _result_in(run_dir: str) -> dict[str, Any] | None:
    if not run_dir:
        return None
    try:
        doc = loads_json(read_bounded(Path(run_dir), "result.json", MAX_RESULT_BYTES), "result.json")
    except (BoxFileError, ParseRefused, OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _safe_cell(text: str) -> str:
    """One line, and never read as a formula by a spreadsheet (a learner's error text can start with '=')."""
    text = " ".join(str(text).split())[:500]
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def check_columns(rows: list[Row]) -> list[str]:
    """Every check id of the rows, in the order their results list them (first seen first)."""
    seen: dict[str, None] = {}
    for row in sorted(rows, key=lambda r: r.index):
        seen.update(dict.fromkeys(row.checks))
    return list(seen)


def write_gradebook(path: Path, rows: list[Row]) -> Path:
    """The CSV at `path` and its JSON twin beside it (path with .json); each written whole or not at all."""
    path = Path(path)
    ordered = sorted(rows, key=lambda r: r.index)
    ids = check_columns(ordered)

    def csv_text(out: Any) -> None:
        writer = csv.writer(out)
        writer.writerow([*COLUMNS, *(CHECK_PREFIX + c for c in ids)])
        for row in ordered:
            writer.writerow(row.cells(ids))

    def json_text(out: Any) -> None:
        json.dump([{k: v for k, v in asdict(row).items() if k != "index"} for row in ordered], out, indent=1)

    _write_whole(path, csv_text)
    _write_whole(json_twin(path), json_text)
    return path


def json_twin(path: Path) -> Path:
    """Where the JSON twin of the CSV gradebook `path` goes: gradebook.csv -> gradebook.json."""
    twin = path.with_suffix(JSON_SUFFIX)
    return twin if twin != path else path.with_name(path.name + JSON_SUFFIX)


def _write_whole(path: Path, write: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.tmp-")
    with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
        write(out)
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)
