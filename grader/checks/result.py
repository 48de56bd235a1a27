"""The outcome of one check: points, a message, and a hint a learner can act on."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class CheckResult:
    id: str  # stable, for JSON consumers: "architecture.layers", "accuracy.tier1", ...
    title: str  # short, for the table
    points: float
    max_points: float
    passed: bool
    message: str
    hint: str = ""
    bonus: bool = False  # a stretch goal: counted in the score, not needed to pass

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def passed(id: str, title: str, points: float, message: str, *, bonus: bool = False) -> CheckResult:
    return CheckResult(id, title, round(points, 4), round(points, 4), True, message, "", bonus)


def failed(
    id: str, title: str, max_points: float, message: str, hint: str = "", *, bonus: bool = False, points: float = 0.0
) -> CheckResult:
    return CheckResult(id, title, round(points, 4), round(max_points, 4), False, message, hint, bonus)


def not_reached(id: str, title: str, max_points: float, reason: str, *, bonus: bool = False) -> CheckResult:
    """A check that could not run because an earlier stage failed."""
    return CheckResult(id, title, 0.0, round(max_points, 4), False, f"not checked: {reason}", "", bonus)
