"""The check of a "functions" challenge: did every case give what Keras gives? Pure, no arrays.

The grading step (grader/kinds/functions/grade.py) compares each case's output with Keras'
and condenses it into CaseFacts; this turns one check's cases into points, a message naming
the first failing case (its call, and the row and column of the first wrong value) and a
hint fitting the mistake.
"""

from __future__ import annotations

from dataclasses import dataclass

from grader.checks.result import CheckResult, failed, passed


@dataclass(frozen=True)
class Mismatch:
    row: int
    col: int
    expected: float
    got: float
    differing: int  # how many values differ
    total: int


@dataclass(frozen=True)
class CaseFacts:
    call: str  # "conv2d(image 6x7, kernel 3x3, stride=2, padding='same')"
    # Titles of other checks this case also exercises that have not passed: until they do, it does not count.
    waits_for: tuple[str, ...] = ()
    error: str | None = None  # the complete message when the call gave no usable output
    hint: str = ""  # for the error, or what the wrong output suggests
    expected_shape: tuple[int, ...] = ()
    got_shape: tuple[int, ...] | None = None
    mismatch: Mismatch | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and self.got_shape == self.expected_shape and self.mismatch is None


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(str(n) for n in shape) if shape else "a single number"


def _number(value: float) -> str:
    return f"{value:.6g}"


def case_message(case: CaseFacts) -> str:
    if case.error is not None:
        return case.error
    if case.got_shape != case.expected_shape:
        return f"{case.call} returned shape {_shape(case.got_shape or ())}, expected {_shape(case.expected_shape)}"
    m = case.mismatch
    assert m is not None
    return (
        f"{case.call}: first wrong value at (row {m.row}, col {m.col}): expected {_number(m.expected)}, "
        f"got {_number(m.got)} ({m.differing} of {m.total} values differ)"
    )


def check_cases(id: str, title: str, points: float, reference: str, cases: list[CaseFacts]) -> CheckResult:
    counting = [case for case in cases if not case.waits_for]
    waiting = [case for case in cases if case.waits_for]
    failing = [case for case in counting if not case.passed]
    if failing:
        first = failing[0]
        # "20 of 20 cases fail" says nothing new when each failed alike (an unfinished TODO).
        alike = len(failing) == len(counting) and all(case.error == first.error for case in failing)
        count = f" [{len(failing)} of {len(counting)} cases fail]" if len(counting) > 1 and not alike else ""
        return failed(id, title, points, case_message(first) + count, first.hint)
    message = f"all {len(counting)} random cases match {reference}"
    if waiting:
        others = sorted({title for case in waiting for title in case.waits_for})
        verb = "passes" if len(others) == 1 else "pass"
        message += f"; {len(waiting)} more are checked once {' and '.join(others)} {verb}"
    return passed(id, title, points, message)
