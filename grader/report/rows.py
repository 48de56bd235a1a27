"""What every report shows, as plain text: shared by the terminal report and the HTML report.

Both reports draw the same rows; only the styling differs. Keeping the comparisons here means
the two can never disagree about which cell of the model summary differs from the spec.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from grader.checks.result import CheckResult
from grader.result import GradeResult

VERDICT_LABELS = {"passed": "PASSED", "failed": "FAILED", "not_graded": "NOT GRADED"}


def shape_text(shape: Any) -> str:
    return "x".join("?" if d is None else str(d) for d in shape) if shape else "-"


def points_text(check: CheckResult) -> str:
    return f"{check.points:g}/{check.max_points:g}" + (" bonus" if check.bonus else "")


def verdict_text(result: GradeResult) -> str:
    if result.error:
        return f"NOT GRADED: {result.error}"
    return (f"{VERDICT_LABELS[result.verdict]}  {result.score:g} / {result.max_score:g} points  "
            f"({result.challenge}, {result.mode}, profile {result.profile})")


@dataclass(frozen=True)
class Cell:
    text: str
    differs: bool = False  # the learner's cell does not match the expected one


@dataclass(frozen=True)
class LayerRow:
    yours: tuple[Cell, Cell, Cell]  # type, output shape, params
    expected: tuple[Cell, Cell, Cell]
    is_total: bool = False


def layer_rows(result: GradeResult) -> list[LayerRow]:
    """The learner's layers beside the spec's, in order, plus a final 'total' row.

    Layers of kinds the spec does not list (augmentation, say) are left out, so the rows line
    up; a cell differs when the spec fixes that value and the learner's is another.
    """
    observed = [row for row in result.model_summary if row["type"] != "InputLayer"]
    expected = result.expected_summary
    expected_types = {e["type"] for e in expected}
    shown = [row for row in observed if row["type"] in expected_types]
    rows = []
    for index in range(max(len(shown), len(expected))):
        got = shown[index] if index < len(shown) else None
        want = expected[index] if index < len(expected) else None
        yours = []
        for key in ("type", "output", "params"):
            text = _cell_text(got, key)
            differs = want is not None and (got is None or (want.get(key) is not None and text != _cell_text(want, key)))
            yours.append(Cell(text, differs))
        rows.append(LayerRow(tuple(yours), tuple(Cell(_cell_text(want, k)) for k in ("type", "output", "params"))))
    total = sum(row["params"] for row in observed)
    want_total = sum(e["params"] or 0 for e in expected)
    rows.append(LayerRow((Cell("total"), Cell(""), Cell(f"{total:,}", total != want_total)),
                         (Cell("total"), Cell(""), Cell(f"{want_total:,}")), is_total=True))
    return rows


def _cell_text(row: dict[str, Any] | None, key: str) -> str:
    if row is None:
        return "—"
    value = row.get(key)
    if value is None:
        return "any"
    if key == "output":
        return shape_text(value)
    if key == "params":
        return f"{value:,}"
    return str(value)


def figures_text(result: GradeResult) -> list[str]:
    """The measured figures, one line each: accuracies and gap, then how training ran."""
    lines = []
    m = result.metrics
    if m:
        lines.append(f"test accuracy {m['test_accuracy']:.4f}   training {m['train_accuracy']:.4f}   "
                     f"validation {m['validation_accuracy']:.4f}   gap {m['gap']:+.4f}")
    epochs = len(result.history.get("loss", []))
    seconds = result.durations.get("train")
    if epochs:
        lines.append(f"{epochs} epochs" + (f" in {seconds:.0f} s" if seconds else "") + f" on {result.device}, "
                     f"backend {result.backend}, seed {result.seed}")
    return lines
