"""Ranking, as pure functions of stored submissions (plain dicts with the database's columns).

A board is one challenge under one profile (profiles grade different amounts of data, so their
scores are not comparable). A learner's best submission is the one with the most points, then
the highest test accuracy on the half being ranked, then the earliest; learners are ranked by
their best submission the same way, so of two equal results the earlier one ranks higher.
Submissions the grader could not grade (`not_graded`) never rank.

`final=False` reads only the public half's figures: nothing of the private half reaches a
public board, not even its order.

The final standings (`final=True`) follow Kaggle: a learner's final result is the best private
score among the submissions they selected (at most `selections`), or, when they selected none,
among their `selections` best public ones. So submitting more often is not more draws at the
private half: the private figures of the other submissions never count.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

from grader import config


@dataclass(frozen=True)
class Standing:
    rank: int
    learner: str
    score: float
    max_score: float
    accuracy: float | None  # on the half ranked; None for a challenge without test accuracy or a failed run
    gap: float | None
    submitted_at: str  # of the best submission
    submissions: int  # graded submissions of this learner to this board
    submission_id: str
    display_name: str = ""  # as the learner's latest submission typed it ("" in files before names were kept)
    first_submission_id: str = ""  # the learner's earliest submission to this board (anonymous names; host only)


@dataclass(frozen=True)
class Board:
    challenge: str
    profile: str
    final: bool  # ranked on the private half
    standings: tuple[Standing, ...]

    @property
    def half(self) -> str:
        return "private" if self.final else "public"


def figures(submission: dict[str, Any], final: bool) -> tuple[float, float | None]:
    """(points, accuracy) on the half being ranked."""
    half = "private" if final else "public"
    return submission[f"{half}_score"] or 0.0, submission[f"{half}_accuracy"]


def order_key(submission: dict[str, Any], final: bool) -> tuple:
    """Sorts better submissions first: more points, higher accuracy, earlier, then a stable tie-break."""
    score, accuracy = figures(submission, final)
    return (
        -score,
        -(accuracy if accuracy is not None else -1.0),
        submission["submitted_at"],
        submission.get("id") or 0,
        submission["submission_id"],
    )


def final_candidates(own: list[dict[str, Any]], selected: AbstractSet[str], most: int) -> list[dict[str, Any]]:
    """The submissions of one learner that compete in the final standings."""
    chosen = [s for s in own if s["submission_id"] in selected]
    if chosen:
        return sorted(chosen, key=lambda s: order_key(s, False))[:most]
    return sorted(own, key=lambda s: order_key(s, False))[:most]  # by default: the best public ones


def rank(
    submissions: Iterable[dict[str, Any]],
    *,
    final: bool,
    selected: AbstractSet[str] = frozenset(),
    selections: int = config.FINAL_SELECTIONS,
) -> tuple[Standing, ...]:
    """The standings of one board's submissions: each learner's best, best first."""
    by_learner: dict[str, list[dict[str, Any]]] = {}
    for submission in submissions:
        if submission["verdict"] != "not_graded":
            by_learner.setdefault(submission["learner"], []).append(submission)
    competing = {
        learner: final_candidates(own, selected, selections) if final else own for learner, own in by_learner.items()
    }
    best = sorted(
        (min(own, key=lambda s: order_key(s, final)) for own in competing.values()), key=lambda s: order_key(s, final)
    )
    standings = []
    for position, submission in enumerate(best, start=1):
        score, accuracy = figures(submission, final)
        own = sorted(by_learner[submission["learner"]], key=lambda s: (s["submitted_at"], s["submission_id"]))
        standings.append(
            Standing(
                rank=position,
                learner=submission["learner"],
                score=score,
                max_score=submission["max_score"],
                accuracy=accuracy,
                gap=submission["gap"],
                submitted_at=submission["submitted_at"],
                submissions=len(own),
                submission_id=submission["submission_id"],
                display_name=own[-1].get("display_name") or submission["learner"],
                first_submission_id=own[0]["submission_id"],
            )
        )
    return tuple(standings)


def boards(
    submissions: Iterable[dict[str, Any]],
    *,
    final: bool,
    challenge: str | None = None,
    selected: AbstractSet[str] = frozenset(),
) -> list[Board]:
    """One board per (challenge, profile) that has submissions, sorted by name."""
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for submission in submissions:
        if challenge is None or submission["challenge"] == challenge:
            grouped.setdefault((submission["challenge"], submission["profile"]), []).append(submission)
    return [
        Board(name, profile, final, rank(grouped[(name, profile)], final=final, selected=selected))
        for name, profile in sorted(grouped)
    ]


# ----------------------------------------------------------------------------- daily cap


def day_start(now: dt.datetime) -> dt.datetime:
    """Midnight UTC of `now`'s day: the daily cap counts per UTC day, the same for every host."""
    now = now.astimezone(dt.timezone.utc)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def daily_cap_problem(*, used: int, cap: int | None, learner: str, challenge: str, now: dt.datetime) -> str | None:
    """The message that refuses one more submission today, or None when it is allowed."""
    if cap is None or used < cap:
        return None
    reopens = day_start(now) + dt.timedelta(days=1)
    wait_minutes = max(1, int((reopens - now).total_seconds() // 60))
    return (
        f"daily submission limit reached: {learner} has made {used} graded submission"
        f"{'s' if used != 1 else ''} to {challenge} today, and the limit is {cap} per day (UTC). "
        f"The next one is accepted from {reopens:%Y-%m-%d %H:%M} UTC (in {wait_minutes // 60} h "
        f"{wait_minutes % 60} min); `grade check` is not limited"
    )
