"""The store of a live challenge: learners and their tokens, submissions, quotas, selections, and
the host's actions, in one SQLite file that is also the job queue (grader/serve/queue.py).

Rules it keeps, whatever calls it (the web app, a CLI, a test):

- A submission and its job are written in one transaction: an accepted upload is never lost
  before it is queued, and a refused one leaves nothing behind.
- The deadline is the server's: an upload is accepted by the moment it arrives (`now`), and
  selections freeze when the challenge closes (at `closes`, or when the host closed it early).
- The daily cap counts a learner's submissions to a challenge per UTC day, except those
  cancelled and those the service could not grade (infrastructure): a learner never pays for the
  service's failures. The host may give a learner extra submissions for a day.
- No private figure leaves the store before the reveal: not on the boards, not in a learner's
  own list (grader/serve/boards.py).
- The uploaded file's name is kept for display only, cleaned; the bytes are stored by submission id.
- Tokens are shown once; only their SHA-256 is stored.

Every call takes the moment `now` (an aware datetime); nothing here reads the clock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
import sqlite3
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.leaderboard.ranking import day_start
from grader.serve import boards, queue
from grader.serve.boards import BoardRow
from grader.serve.database import BUSY_TIMEOUT_S, Database, Refused, parse, shown, stamp
from grader.serve.hostfile import HostFile, RosterEntry
from grader.serve.queue import DEFAULT_LEASE_S, HOST_PRIORITY, Claim, Estimate, Expired, Outcome

FILENAME_MAX = 100
NOT_COUNTED = ("cancelled", "infrastructure")  # statuses the daily cap does not count


@dataclass(frozen=True)
class SubmissionView:
    """One of a learner's own submissions, as their page shows it."""

    id: int
    challenge: str
    filename: str
    size: int
    sha256: str
    created_at: str
    status: str
    reason: str | None
    verdict: str | None
    max_score: float | None
    public_score: float | None
    public_accuracy: float | None
    private_score: float | None  # None until the challenge has closed
    private_accuracy: float | None  # None until the challenge has closed
    selected: bool
    result: dict[str, Any] | None  # the public part of the result document


@dataclass(frozen=True)
class Event:
    """One line of the host's audit: who did what to what."""

    id: int
    at: str
    actor: str
    action: str
    target: str
    detail: dict[str, Any]


def token_hash(token: str) -> str:
    """What is stored of a token: its SHA-256 (a token is random, so no salt or slow hash is needed)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def display_filename(raw: str) -> str:
    """The uploaded file's name, safe to show: its last part, letters, digits and . _ - only."""
    name = unicodedata.normalize("NFKC", raw).replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")
    return name[:FILENAME_MAX] or "submission"


class Store(Database):
    """The service's database, ruled by the host's file. Safe to call from any thread."""

    def __init__(self, path: str | Path, host: HostFile, *, busy_timeout_s: float = BUSY_TIMEOUT_S):
        super().__init__(path, busy_timeout_s=busy_timeout_s)
        self.host = host

    # ------------------------------------------------------------------ learners and tokens

    def add_learners(self, entries: Iterable[RosterEntry], now: dt.datetime) -> int:
        """Put the roster's learners in the store (new ones get an anonymous id); names are updated. Returns how
        many were new."""
        added = 0
        with self.write() as connection:
            for entry in entries:
                cursor = connection.execute(
                    "UPDATE learners SET display_name = ? WHERE id = ?", (entry.name, entry.learner)
                )
                if cursor.rowcount == 0:
                    connection.execute(
                        "INSERT INTO learners (id, display_name, anonymous_id, created_at) VALUES (?, ?, ?, ?)",
                        (entry.learner, entry.name, _new_anonymous_id(connection), stamp(now)),
                    )
                    added += 1
        return added

    def issue_token(self, learner: str) -> str:
        """A new token for the learner, to be shown once; it replaces (revokes) the one issued before."""
        token = secrets.token_urlsafe(32)
        with self.write() as connection:
            cursor = connection.execute("UPDATE learners SET token_hash = ? WHERE id = ?", (token_hash(token), learner))
            if cursor.rowcount == 0:
                raise Refused(f"no learner {learner!r} on the roster: add them to the roster first", 404)
        return token

    def learner_for_token(self, token: str) -> str | None:
        """The learner a token belongs to, or None for an unknown or revoked token."""
        wanted = token_hash(token)
        with self.read() as connection:
            row = connection.execute("SELECT id, token_hash FROM learners WHERE token_hash = ?", (wanted,)).fetchone()
        return row["id"] if row is not None and hmac.compare_digest(row["token_hash"], wanted) else None

    # ------------------------------------------------------------------ deadlines and quotas

    def closes_at(self, challenge: str) -> dt.datetime:
        """When a challenge stops taking submissions and reveals its final standings."""
        with self.read() as connection:
            return self._closes_at(connection, challenge)

    def _closes_at(self, connection: sqlite3.Connection, challenge: str) -> dt.datetime:
        row = connection.execute("SELECT closed_at FROM closed_early WHERE challenge = ?", (challenge,)).fetchone()
        closes = self.host.serve.closes
        return min(closes, parse(row["closed_at"])) if row is not None else closes

    def quota(self, learner: str, challenge: str, now: dt.datetime) -> tuple[int, int]:
        """(used, allowed) today (UTC) for a learner and a challenge, for the upload page."""
        with self.read() as connection:
            return _used_today(connection, learner, challenge, now), self._allowed(connection, learner, challenge, now)

    def _allowed(self, connection: sqlite3.Connection, learner: str, challenge: str, now: dt.datetime) -> int:
        row = connection.execute(
            "SELECT COALESCE(SUM(extra), 0) FROM quota_extensions "
            "WHERE learner = ? AND day = ? AND challenge IN ('', ?)",
            (learner, day_start(now).date().isoformat(), challenge),
        ).fetchone()
        return self.host.serve.daily_cap + int(row[0])

    # ------------------------------------------------------------------ submissions

    def submit(self, learner: str, challenge: str, filename: str, content: bytes, now: dt.datetime) -> int:
        """Accept an upload and queue its grading in one transaction; Refused (nothing stored) otherwise."""
        table = self.host.challenge(challenge)
        if table is None:
            known = ", ".join(c.name for c in self.host.challenges)
            raise Refused(f"there is no challenge {challenge!r} here: the challenges are {known}", 404)
        self._check_size(len(content))
        if now < self.host.serve.opens:
            raise Refused(f"{challenge} opens at {shown(self.host.serve.opens)}: submit from then on", 403)
        with self.write() as connection:
            row = connection.execute("SELECT id FROM learners WHERE id = ?", (learner,)).fetchone()
            if row is None:
                raise Refused("you are not on this challenge's roster: ask the host to add you", 403)
            learner = row["id"]
            closes = self._closes_at(connection, challenge)
            if now >= closes:
                raise Refused(f"{challenge} closed at {shown(closes)}: no more submissions are accepted", 403)
            self._check_quota(connection, learner, challenge, now)
            cursor = connection.execute(
                "INSERT INTO submissions (learner, challenge, profile, filename, sha256, size, created_at, status) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, 'queued')",
                (
                    learner,
                    challenge,
                    table.profile,
                    display_filename(filename),
                    hashlib.sha256(content).hexdigest(),
                    len(content),
                    stamp(now),
                ),
            )
            submission_id = int(cursor.lastrowid or 0)
            connection.execute("INSERT INTO files (submission_id, content) VALUES (?, ?)", (submission_id, content))
            connection.execute(
                "INSERT INTO jobs (submission_id, learner, state, created_at) VALUES (?, ?, 'queued', ?)",
                (submission_id, learner, stamp(now)),
            )
        return submission_id

    def _check_size(self, size: int) -> None:
        most = self.host.serve.upload_max_bytes
        if size == 0:
            raise Refused("the file is empty: choose the .py file you wrote", 400)
        if size > most:
            raise Refused(
                f"the file is {size} bytes, and uploads are limited to {most} bytes: "
                "submit your .py file alone, without data or saved models",
                413,
            )

    def _check_quota(self, connection: sqlite3.Connection, learner: str, challenge: str, now: dt.datetime) -> None:
        used, allowed = (
            _used_today(connection, learner, challenge, now),
            self._allowed(connection, learner, challenge, now),
        )
        if used < allowed:
            return
        reopens = day_start(now) + dt.timedelta(days=1)
        minutes = max(1, int((reopens - now).total_seconds() // 60))
        raise Refused(
            f"daily limit reached: you have made {used} submission{'s' if used != 1 else ''} to {challenge} today, "
            f"and the limit is {allowed} per day (UTC). Cancelled submissions and those the service could not "
            f"grade do not count. The next one is accepted from {shown(reopens)} (in {minutes // 60} h "
            f"{minutes % 60} min)",
            429,
        )

    def submission_content(self, submission_id: int) -> bytes:
        """The uploaded bytes, for the worker that grades them."""
        with self.read() as connection:
            row = connection.execute("SELECT content FROM files WHERE submission_id = ?", (submission_id,)).fetchone()
        if row is None:
            raise Refused(f"no submission {submission_id}", 404)
        return bytes(row["content"])

    def cancel(self, submission_id: int, *, now: dt.datetime, by_learner: str | None = None) -> None:
        """Cancel a submission still waiting in the queue; it then no longer counts against the cap.

        A learner may cancel only their own, and only before its grading starts; the host (no
        `by_learner`) may also cancel a waiting regrade, which keeps the earlier result."""
        with self.write() as connection:
            row = connection.execute("SELECT learner, status FROM submissions WHERE id = ?", (submission_id,))
            submission = row.fetchone()
            if submission is None or (
                by_learner is not None and submission["learner"].casefold() != by_learner.casefold()
            ):
                raise Refused(f"no submission {submission_id} of yours", 404)
            job = connection.execute(
                "SELECT id FROM jobs WHERE submission_id = ? AND state = 'queued'", (submission_id,)
            ).fetchone()
            if job is None or (by_learner is not None and submission["status"] != "queued"):
                raise Refused(
                    f"submission {submission_id} is {submission['status']}: only one waiting in the queue can be "
                    "cancelled",
                    409,
                )
            connection.execute(
                "UPDATE jobs SET state = 'cancelled', finished_at = ? WHERE id = ?", (stamp(now), job[0])
            )
            connection.execute(
                "UPDATE submissions SET status = 'cancelled', reason = ? WHERE id = ? AND status = 'queued'",
                (f"cancelled by {'the learner' if by_learner else 'the host'}", submission_id),
            )
            if by_learner is None:
                _audit(connection, now, "cancel", f"submission {submission_id}", {"job": job[0]})

    def select(self, learner: str, submission_id: int, selected: bool, now: dt.datetime) -> None:
        """Select (or unselect) one of the learner's graded submissions for the final standings.

        At most `selections` per challenge, and only until the challenge closes."""
        with self.write() as connection:
            row = connection.execute(
                "SELECT learner, challenge, status FROM submissions WHERE id = ?", (submission_id,)
            ).fetchone()
            if row is None or row["learner"].casefold() != learner.casefold():
                raise Refused(f"no submission {submission_id} of yours", 404)
            closes = self._closes_at(connection, row["challenge"])
            if now >= closes:
                raise Refused(f"selections froze when {row['challenge']} closed, at {shown(closes)}", 409)
            if selected:
                self._check_selectable(connection, row, submission_id)
            connection.execute("UPDATE submissions SET selected = ? WHERE id = ?", (int(selected), submission_id))

    def _check_selectable(self, connection: sqlite3.Connection, row: sqlite3.Row, submission_id: int) -> None:
        if row["status"] != "graded":
            raise Refused(f"submission {submission_id} is {row['status']}: only a graded one can be selected", 409)
        most = self.host.serve.selections
        others = connection.execute(
            "SELECT COUNT(*) FROM submissions WHERE learner = ? AND challenge = ? AND selected = 1 AND id != ?",
            (row["learner"], row["challenge"], submission_id),
        ).fetchone()[0]
        if others >= most:
            raise Refused(
                f"you have already selected {most} submission{'s' if most != 1 else ''} for the final standings "
                f"of {row['challenge']}: unselect one first",
                409,
            )

    def my_submissions(self, learner: str, now: dt.datetime) -> list[SubmissionView]:
        """The learner's own submissions, newest first; private figures only once the challenge has closed."""
        with self.read() as connection:
            rows = connection.execute(
                "SELECT * FROM submissions WHERE learner = ? ORDER BY created_at DESC, id DESC", (learner,)
            ).fetchall()
            revealed = {name: now >= self._closes_at(connection, name) for name in {row["challenge"] for row in rows}}
        return [_view(row, revealed[row["challenge"]]) for row in rows]

    # ------------------------------------------------------------------ the host's actions

    def extend_quota(
        self, learner: str, n: int, day: dt.date, *, now: dt.datetime, challenge: str | None = None
    ) -> int:
        """Give a learner `n` more submissions on one UTC day (to one challenge, or to each); returns the day's
        extra."""
        if n < 1:
            raise ValueError(f"extend the quota by 1 or more submissions, not {n}")
        if challenge is not None and self.host.challenge(challenge) is None:
            raise Refused(f"there is no challenge {challenge!r} here", 404)
        with self.write() as connection:
            if connection.execute("SELECT 1 FROM learners WHERE id = ?", (learner,)).fetchone() is None:
                raise Refused(f"no learner {learner!r} on the roster", 404)
            key = (learner, challenge or "", day.isoformat())
            connection.execute(
                "INSERT INTO quota_extensions (learner, challenge, day, extra) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (learner, challenge, day) DO UPDATE SET extra = extra + excluded.extra",
                (*key, n),
            )
            extra = connection.execute(
                "SELECT extra FROM quota_extensions WHERE learner = ? AND challenge = ? AND day = ?", key
            ).fetchone()[0]
            _audit(connection, now, "extend quota", f"learner {learner}", {"n": n, "day": key[2], "challenge": key[1]})
        return int(extra)

    def regrade(self, target: int | str, *, now: dt.datetime, priority: int = HOST_PRIORITY) -> list[int]:
        """Queue a new grading of one submission (an id) or of every graded or failed one of a challenge (a name).

        Each new job points at the job it repeats (`regrade_of`); the submission keeps its current
        result until the new one is recorded, and every result stays in `gradings`. Submissions
        already waiting or running are left alone. Returns the new jobs' ids."""
        with self.write() as connection:
            rows = self._regrade_targets(connection, target)
            jobs = []
            for row in rows:
                previous = connection.execute(
                    "SELECT MAX(id) FROM jobs WHERE submission_id = ?", (row["id"],)
                ).fetchone()[0]
                cursor = connection.execute(
                    "INSERT INTO jobs (submission_id, learner, priority, state, created_at, regrade_of) "
                    "VALUES (?, ?, ?, 'queued', ?, ?)",
                    (row["id"], row["learner"], priority, stamp(now), previous),
                )
                jobs.append(int(cursor.lastrowid or 0))
                connection.execute(
                    "UPDATE submissions SET status = 'queued', reason = NULL "
                    "WHERE id = ? AND status = 'infrastructure'",
                    (row["id"],),
                )
            what = f"{'submission' if isinstance(target, int) else 'challenge'} {target}"
            _audit(connection, now, "regrade", what, {"jobs": jobs, "submissions": [row["id"] for row in rows]})
        return jobs

    def _regrade_targets(self, connection: sqlite3.Connection, target: int | str) -> list[sqlite3.Row]:
        """The submissions a regrade repeats: finished ones, not cancelled, with no job waiting or running."""
        pending = "SELECT 1 FROM jobs j WHERE j.submission_id = s.id AND j.state IN ('queued', 'running')"
        finished = f"s.status IN ('graded', 'failed', 'infrastructure') AND NOT EXISTS ({pending})"
        if isinstance(target, int):
            rows = connection.execute(
                f"SELECT s.id, s.learner, s.status, {finished} AS ready FROM submissions s WHERE s.id = ?", (target,)
            ).fetchall()
            if not rows:
                raise Refused(f"no submission {target}", 404)
            if not rows[0]["ready"]:
                raise Refused(f"submission {target} is {rows[0]['status']} or waiting: nothing to regrade", 409)
            return rows
        if self.host.challenge(target) is None:
            raise Refused(f"there is no challenge {target!r} here", 404)
        return connection.execute(
            f"SELECT s.id, s.learner, s.status FROM submissions s WHERE s.challenge = ? AND {finished} ORDER BY s.id",
            (target,),
        ).fetchall()

    def close_early(self, challenge: str, now: dt.datetime) -> dt.datetime:
        """Close a challenge now, before its planned deadline: uploads stop and the final standings open."""
        if self.host.challenge(challenge) is None:
            raise Refused(f"there is no challenge {challenge!r} here", 404)
        with self.write() as connection:
            closes = self._closes_at(connection, challenge)
            if now >= closes:
                raise Refused(f"{challenge} already closed at {shown(closes)}", 409)
            connection.execute(
                "INSERT OR REPLACE INTO closed_early (challenge, closed_at) VALUES (?, ?)", (challenge, stamp(now))
            )
            _audit(connection, now, "close early", f"challenge {challenge}", {"planned": stamp(closes)})
        return now

    def events(self) -> list[Event]:
        """The audit: the host's actions and the reaper's decisions, oldest first."""
        with self.read() as connection:
            rows = connection.execute("SELECT * FROM events ORDER BY id").fetchall()
        return [
            Event(row["id"], row["at"], row["actor"], row["action"], row["target"], json.loads(row["detail"]))
            for row in rows
        ]

    # ------------------------------------------------------------------ the queue (grader/serve/queue.py)

    def claim(self, worker: str, now: dt.datetime, lease_s: float = DEFAULT_LEASE_S) -> Claim | None:
        return queue.claim(self, worker, now, lease_s)

    def renew(self, lease_id: str, now: dt.datetime, lease_s: float = DEFAULT_LEASE_S) -> bool:
        return queue.renew(self, lease_id, now, lease_s)

    def complete(self, lease_id: str, outcome: Outcome, now: dt.datetime) -> bool:
        return queue.complete(self, lease_id, outcome, now)

    def fail(self, lease_id: str, reason: str, now: dt.datetime, *, infrastructure: bool = False) -> bool:
        return queue.fail(self, lease_id, reason, now, infrastructure=infrastructure)

    def expire_leases(self, now: dt.datetime) -> list[Expired]:
        return queue.expire_leases(self, now)

    def queue_position(self, submission_id: int, now: dt.datetime) -> int | None:
        return queue.queue_position(self, submission_id, now)

    def estimate(self, submission_id: int, now: dt.datetime, *, workers: int = 1) -> Estimate:
        return queue.estimate(self, submission_id, now, workers=workers)

    # ------------------------------------------------------------------ the boards (grader/serve/boards.py)

    def public_board(self, challenge: str) -> tuple[BoardRow, ...]:
        return boards.public_board(self, challenge, names=self.host.serve.board_names)

    def final_standings(self, challenge: str, now: dt.datetime) -> tuple[BoardRow, ...]:
        return boards.final_standings(
            self,
            challenge,
            selections=self.host.serve.selections,
            now=now,
            closes=self.closes_at(challenge),
            names=self.host.serve.board_names,
        )


def _used_today(connection: sqlite3.Connection, learner: str, challenge: str, now: dt.datetime) -> int:
    """The learner's submissions to a challenge on `now`'s UTC day that count against the cap."""
    start = day_start(now)
    row = connection.execute(
        "SELECT COUNT(*) FROM submissions WHERE learner = ? AND challenge = ? AND created_at >= ? AND created_at < ? "
        f"AND status NOT IN ({', '.join('?' * len(NOT_COUNTED))})",
        (learner, challenge, stamp(start), stamp(start + dt.timedelta(days=1)), *NOT_COUNTED),
    ).fetchone()
    return int(row[0])


def _new_anonymous_id(connection: sqlite3.Connection) -> str:
    """A random public name, unlinkable to the learner without the database."""
    while True:
        candidate = "learner-" + secrets.token_hex(4)
        if connection.execute("SELECT 1 FROM learners WHERE anonymous_id = ?", (candidate,)).fetchone() is None:
            return candidate


def _audit(connection: sqlite3.Connection, now: dt.datetime, action: str, target: str, detail: dict[str, Any]) -> None:
    connection.execute(
        "INSERT INTO events (at, actor, action, target, detail) VALUES (?, 'host', ?, ?, ?)",
        (stamp(now), action, target, json.dumps(detail, sort_keys=True)),
    )


def _view(row: sqlite3.Row, revealed: bool) -> SubmissionView:
    return SubmissionView(
        id=row["id"],
        challenge=row["challenge"],
        filename=row["filename"],
        size=row["size"],
        sha256=row["sha256"],
        created_at=row["created_at"],
        status=row["status"],
        reason=row["reason"],
        verdict=row["verdict"],
        max_score=row["max_score"],
        public_score=row["public_score"],
        public_accuracy=row["public_accuracy"],
        private_score=row["private_score"] if revealed else None,
        private_accuracy=row["private_accuracy"] if revealed else None,
        selected=bool(row["selected"]),
        result=json.loads(row["result_json"]) if row["result_json"] else None,
    )
