"""The batch's gradebook: one CSV row per submission, in the shape course tools import.

Columns: learner, challenge, points, max_points, verdict, test_accuracy, gap, run_folder, note.
`points` and `test_accuracy` are what the learner's own report shows (the public half of the
test set, as in `grade submit --learner`); the private half stays in the database. A row's
`note` says why it has no points (could not grade, interrupted, recorded before).
"""

from __future__ import annotations

import csv
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

COLUMNS = ("learner", "challenge", "points", "max_points", "verdict", "test_accuracy", "gap", "run_folder", "note")


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

    def cells(self) -> list[str]:
        def number(value: float | None, digits: int) -> str:
            return "" if value is None else f"{value:.{digits}f}"

        return [self.learner, self.challenge, number(self.points, 2), number(self.max_points, 2), self.verdict,
                number(self.test_accuracy, 4), number(self.gap, 4), self.run_folder, _safe_cell(self.note)]


def row_from_result(index: int, learner: str, document: dict[str, Any], note: str = "") -> Row:
    metrics = document.get("metrics") or {}
    graded = document["verdict"] != "not_graded"
    return Row(index, learner, document.get("challenge") or "", document["score"] if graded else None,
               document["max_score"] if graded else None, document["verdict"], metrics.get("test_accuracy"),
               metrics.get("gap"), document.get("run_dir") or "", note or (document.get("error") or ""))


def row_from_record(index: int, stored: dict[str, Any], note: str) -> Row:
    """A grading recorded by an earlier run of the batch (its database row)."""
    return Row(index, stored["learner"], stored["challenge"], stored["public_score"], stored["max_score"],
               stored["verdict"], stored["public_accuracy"], stored["gap"], stored["run_dir"], note)


def _safe_cell(text: str) -> str:
    """One line, and never read as a formula by a spreadsheet (a learner's error text can start with '=')."""
    text = " ".join(str(text).split())[:500]
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def write_gradebook(path: Path, rows: list[Row]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.tmp-")
    with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for row in sorted(rows, key=lambda r: r.index):
            writer.writerow(row.cells())
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)
    return path
