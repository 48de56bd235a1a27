"""The boards of a live challenge, as reads of the store ranked by the leaderboard's own rules.

- `public_board`: each learner's best graded submission on the public half; of two equal results
  the earlier submission ranks higher. It never reads a private figure: nothing of the private
  half, not even its order, reaches a page before the reveal.
- `final_standings`: only once the challenge has closed. Kaggle's rule, as grade leaderboard
  ranks it (grader/leaderboard/ranking.py): each learner's selected submissions (at most
  `selections`), or, when they selected none, their `selections` best public ones, ranked on
  their private figures.

A row is named as the host's file says (`board_names`): the roster's display name, or the
learner's stable anonymous id. Ties (equal points and accuracy) are marked, so the order the
earlier submission wins is explained on the page.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

from grader.leaderboard.ranking import Standing, rank
from grader.serve.database import Database, Refused, shown

PUBLIC_COLUMNS = "s.id, s.learner, s.verdict, s.max_score, s.created_at, s.public_score, s.public_accuracy, s.selected"
PRIVATE_COLUMNS = ", s.private_score, s.private_accuracy"


@dataclass(frozen=True)
class BoardRow:
    rank: int
    name: str  # the display name or the anonymous id, as the host chose
    score: float
    max_score: float
    accuracy: float | None
    submitted_at: str  # of the submission ranked (UTC): explains the order of ties
    submissions: int  # graded submissions of this learner to this challenge
    tied: bool  # another row has the same score and accuracy; the earlier submission ranks higher


def _rows(
    db: Database, challenge: str, *, private: bool
) -> tuple[list[dict[str, Any]], dict[str, str], dict[str, str]]:
    """The challenge's graded submissions as the ranking reads them, and each learner's two names."""
    columns = PUBLIC_COLUMNS + (PRIVATE_COLUMNS if private else "")
    with db.read() as connection:
        found = connection.execute(
            f"SELECT {columns}, l.id AS learner_id, l.display_name, l.anonymous_id FROM submissions s "
            "JOIN learners l ON l.id = s.learner WHERE s.challenge = ? AND s.status = 'graded'",
            (challenge,),
        ).fetchall()
    submissions = [
        {
            "id": row["id"],
            "submission_id": str(row["id"]),
            "learner": row["learner_id"],
            "display_name": row["display_name"],
            "verdict": row["verdict"],
            "max_score": row["max_score"] or 0.0,
            "submitted_at": row["created_at"],
            "public_score": row["public_score"],
            "public_accuracy": row["public_accuracy"],
            "private_score": row["private_score"] if private else None,
            "private_accuracy": row["private_accuracy"] if private else None,
            "gap": None,
            "selected": bool(row["selected"]),
        }
        for row in found
    ]
    display = {row["learner_id"]: row["display_name"] for row in found}
    anonymous = {row["learner_id"]: row["anonymous_id"] for row in found}
    return submissions, display, anonymous


def _board_rows(standings: tuple[Standing, ...], names: dict[str, str]) -> tuple[BoardRow, ...]:
    """Standings as a page shows them, with the rows that share a result marked."""
    results = Counter((s.score, s.accuracy) for s in standings)
    return tuple(
        BoardRow(
            rank=s.rank,
            name=names[s.learner],
            score=s.score,
            max_score=s.max_score,
            accuracy=s.accuracy,
            submitted_at=s.submitted_at,
            submissions=s.submissions,
            tied=results[(s.score, s.accuracy)] > 1,
        )
        for s in standings
    )


def _names(kind: str, display: dict[str, str], anonymous: dict[str, str]) -> dict[str, str]:
    if kind not in ("display", "anonymous"):
        raise ValueError(f"board names {kind!r}: use 'display' or 'anonymous'")
    return anonymous if kind == "anonymous" else display


def public_board(db: Database, challenge: str, *, names: str = "display") -> tuple[BoardRow, ...]:
    """Each learner's best public result, best first, ties to the earlier submission."""
    submissions, display, anonymous = _rows(db, challenge, private=False)
    return _board_rows(rank(submissions, final=False), _names(names, display, anonymous))


def final_standings(
    db: Database, challenge: str, *, selections: int, now: dt.datetime, closes: dt.datetime, names: str = "display"
) -> tuple[BoardRow, ...]:
    """The private standings, from each learner's selected (or best public) submissions; refused before `closes`."""
    if now < closes:
        raise Refused(f"the final standings of {challenge} are revealed when it closes, at {shown(closes)}", 403)
    submissions, display, anonymous = _rows(db, challenge, private=True)
    selected = {s["submission_id"] for s in submissions if s["selected"]}
    standings = rank(submissions, final=True, selected=selected, selections=selections)
    return _board_rows(standings, _names(names, display, anonymous))
