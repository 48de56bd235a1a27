"""Who a learner is on a board: one ID however it is typed, the name as they typed it, and what
the public sees.

    learner_key("Erin")  == learner_key("erin") == "erin"      one learner, one daily cap, one row
    display_name(" Erin ")                     == "Erin"      kept with each submission, for the host
    public_boards(boards, names="display")     names as typed, an e-mail address cut to its user part
    public_boards(boards, names="anonymous")   "learner-3f9a1c": stable, unlinkable without the database

IDs are compared after Unicode NFKC normalisation and case folding ("Ｅｒｉｎ", "ERIN" and "erin"
are the same learner); what is stored and shown must then still be letters, digits and . _ @ + -
(LEARNER_ID: they appear in file names, HTML and CSV). Learners whose best submission
earned no points are not published: a public board lists who got somewhere.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import unicodedata

from grader.leaderboard.errors import LeaderboardError
from grader.leaderboard.ranking import Board, Standing

NAMES = ("display", "anonymous")
# Learner IDs appear in file names, HTML and CSV: letters, digits and . _ @ + - only, starting with
# a letter or digit (so no spreadsheet reads a learner called "=cmd()" as a formula).
LEARNER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")


def _checked(text: str, original: str) -> str:
    if not LEARNER_ID.fullmatch(text):
        raise LeaderboardError(
            f"learner ID {original!r} is not usable: use 1 to 64 letters, digits and . _ @ + -, "
            "starting with a letter or digit (for example a student number or a login)"
        )
    return text


def display_name(raw: str) -> str:
    """The ID as the learner or host typed it (NFKC-normalised, trimmed); LeaderboardError if unusable."""
    if not isinstance(raw, str):
        raise LeaderboardError(f"learner ID {raw!r} is not text")
    return _checked(unicodedata.normalize("NFKC", raw).strip(), raw)


def learner_key(raw: str) -> str:
    """The ID a learner is known by: the display name case-folded (and normalised again, as folding
    can undo NFKC)."""
    return _checked(unicodedata.normalize("NFKC", display_name(raw).casefold()), raw)


def _public_name(standing: Standing, names: str, show_emails: bool) -> str:
    if names == "anonymous":
        # From the learner's first submission ID: random, kept by the host, never published.
        return "learner-" + hashlib.sha256(f"anonymous:{standing.first_submission_id}".encode()).hexdigest()[:6]
    name = standing.display_name or standing.learner
    if "@" in name and not show_emails:
        return name.split("@", 1)[0] + "@…"
    return name


def public_boards(boards: list[Board], *, names: str = "display", show_emails: bool = False) -> list[Board]:
    """The boards as a public page may show them: named as the host chose (`names`, NAMES), e-mail
    addresses cut unless `show_emails`, and without the learners whose best earned no points."""
    if names not in NAMES:
        raise LeaderboardError(f"unknown names {names!r}: use one of {', '.join(NAMES)}")
    shown = []
    for board in boards:
        standings = tuple(
            dataclasses.replace(s, learner=_public_name(s, names, show_emails), display_name="")
            for s in board.standings
            if s.score > 0
        )
        shown.append(dataclasses.replace(board, standings=standings))
    return shown
