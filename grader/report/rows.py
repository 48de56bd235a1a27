"""What every report shows, as plain text: shared by the terminal report and the HTML report.

Both reports draw the same rows; only the styling differs. Keeping the comparisons here means
the two can never disagree about which cell of the model summary differs from the spec.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from grader.checks.result import CheckResult
from grader.core.result import GradeResult
from grader.core.text import clean

VERDICT_LABELS = {"passed": "PASSED", "failed": "FAILED", "not_graded": "NOT GRADED"}


def shape_text(shape: Any) -> str:
    return "x".join("?" if d is None else str(d) for d in shape) if shape else "-"


def points_text(check: CheckResult) -> str:
    return f"{check.points:g}/{check.max_points:g}" + (" bonus" if check.bonus else "")


def verdict_text(result: GradeResult) -> str:
    if result.error:
        return f"NOT GRADED: {result.error}"
    return (
        f"{VERDICT_LABELS[result.verdict]}  {result.score:g} / {result.max_score:g} points  "
        f"({result.challenge}, {result.mode}, profile {result.profile})"
    )


# What a failed check says when the failed check above it had the very same message and hint.
SAME_AS_ABOVE = "fails for the same reason as the check above"


@dataclass(frozen=True)
class CheckRow:
    check: CheckResult
    points: str
    message: str
    hint: str  # "" for a passed check, or when the row above gave the same one


def check_rows(result: GradeResult) -> list[CheckRow]:
    """The checks with the words each row shows. While build_model() is not written, every
    check that needs the model fails for that one reason: it is said once, and the rows under
    it point up to it rather than repeat it (result.json keeps every message in full)."""
    rows: list[CheckRow] = []
    above: tuple[str, str] | None = None  # the reason of the row above, when it failed
    for check in result.checks:
        reason = (check.message, check.hint)
        if not check.passed and reason == above:
            message, hint = SAME_AS_ABOVE, ""
        else:
            message, hint = clean(check.message), "" if check.passed else clean(check.hint)
        rows.append(CheckRow(check, points_text(check), message, hint))
        above = None if check.passed else reason
    return rows


@dataclass(frozen=True)
class Cell:
    text: str
    differs: bool = False  # the learner's cell does not match the expected one


@dataclass(frozen=True)
class LayerRow:
    yours: tuple[Cell, ...]  # three: type, output shape, params
    expected: tuple[Cell, ...]
    is_total: bool = False


def layer_rows(result: GradeResult) -> list[LayerRow]:
    """The learner's layers beside the spec's, row by row as the architecture checks aligned them,
    plus a final 'total' row. A missing or extra layer has "—" on the other side; a cell differs
    when the spec fixes that value and the learner's is another.
    """
    rows = []
    for pair in result.layer_table:
        got, want = pair["yours"], pair["expected"]
        yours = []
        for key in ("type", "output", "params"):
            text = _cell_text(got, key)
            differs = got is None or want is None or (want.get(key) is not None and text != _cell_text(want, key))
            yours.append(Cell(clean(f"{got['name']} ({got['type']})" if key == "type" and got else text, 200), differs))
        rows.append(LayerRow(tuple(yours), tuple(Cell(_cell_text(want, k)) for k in ("type", "output", "params"))))
    observed = [row for row in result.model_summary if row["type"] != "InputLayer"]
    total = sum(row["params"] for row in observed)
    wanted = [pair["expected"]["params"] for pair in result.layer_table if pair["expected"] is not None]
    # Layers the spec gives no count for (pooling, Flatten) have none to add; a variant that fixes
    # no count at all (the stretch goal) has no expected total.
    want_total = None if all(w is None for w in wanted) else sum(w or 0 for w in wanted)
    want_text = "any" if want_total is None else f"{want_total:,}"
    rows.append(
        LayerRow(
            (Cell("total"), Cell(""), Cell(f"{total:,}", want_total is not None and total != want_total)),
            (Cell("total"), Cell(""), Cell(want_text)),
            is_total=True,
        )
    )
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
        # In leaderboard mode every test figure is of the public half (the private half decides the final standings).
        half = " (public half of the test set)" if result.leaderboard else ""
        lines.append(
            f"test accuracy {m['test_accuracy']:.4f}{half}   training {m['train_accuracy']:.4f}   "
            f"validation {m['validation_accuracy']:.4f}   gap {m['gap']:+.4f}"
        )
    epochs = len(result.history.get("loss", []))
    seconds = result.durations.get("train")
    if epochs:
        lines.append(
            f"{epochs} epochs" + (f" in {seconds:.0f} s" if seconds else "") + f" on {result.device}, "
            f"backend {result.backend}, seed {result.seed}"
        )
    return lines
