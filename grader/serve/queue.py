"""The job queue, in the store's own SQLite file: no broker, so nothing between an upload and its job.

    claim ──> running (a lease: an id and an expiry) ──renew──> ... ──complete / fail──> done / failed
                 │ lease expired (expire_leases)
                 └──> queued again once; the second time the submission is 'infrastructure'

- **Fair claims**: a learner with a grading running waits; among the others, the learner who has
  had the fewest gradings started today goes first, then the earliest submission. Learners'
  uploads come before the host's regrades (priority). One learner's ten uploads cannot hold the
  queue against everyone else (first-in-first-out can).
- **Leases and fencing**: a result is recorded only while its lease is held. A worker that
  stopped answering, whose job was given to another, cannot record a late result over the new one.
- **Idempotent results**: a result is recorded once per grading key (same learner, file, spec,
  profile, seed and grader version); the same lease completing twice changes nothing.
- **Infrastructure failures never cost quota**: the daily cap does not count them.

Every function takes the store's `Database` and the moment `now` (aware), so nothing here reads the clock.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sqlite3
import statistics
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from grader.leaderboard.ranking import day_start
from grader.leaderboard.records import VERDICTS
from grader.serve.database import Database, parse, stamp

MAX_ATTEMPTS = 2  # a grading whose worker vanished is tried once more, then reported
DEFAULT_LEASE_S = 60.0
HOST_PRIORITY = -1  # regrades wait behind learners' uploads
INFRASTRUCTURE_REASON = (
    "could not grade (infrastructure): the grading stopped twice on the service's side; "
    "this submission does not count against your daily limit"
)

# The claim order, also the order `queue_position` reports; {free} leaves out learners with a
# grading running when a worker claims.
QUEUE_ORDER = """
    SELECT j.id, j.submission_id, j.learner
    FROM jobs j JOIN submissions s ON s.id = j.submission_id
    WHERE j.state = 'queued' {free}
    ORDER BY j.priority DESC,
             (SELECT COUNT(*) FROM jobs t WHERE t.learner = j.learner AND t.started_at >= :day) ASC,
             s.created_at ASC,
             j.id ASC
"""


@dataclass(frozen=True)
class Claim:
    """A job given to a worker: what to grade, and the lease that proves it is still the worker's."""

    job_id: int
    submission_id: int
    lease_id: str
    lease_expires_at: dt.datetime
    learner: str
    challenge: str
    profile: str
    sha256: str
    filename: str
    attempt: int
    regrade: bool


@dataclass(frozen=True)
class Outcome:
    """A finished grading. `result` is the public part of the result document (never the private half)."""

    grading_key: str
    verdict: str  # passed | failed | not_graded (the learner's code could not be graded)
    max_score: float
    public_score: float | None
    private_score: float | None
    public_accuracy: float | None = None
    private_accuracy: float | None = None
    reason: str | None = None  # why it was not graded, in the learner's terms
    result: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.grading_key or len(self.grading_key) > 200:
            raise ValueError("an outcome needs a grading key of 1 to 200 characters")
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict {self.verdict!r} is not one of {', '.join(VERDICTS)}")
        numbers = (self.max_score, self.public_score, self.private_score, self.public_accuracy, self.private_accuracy)
        if any(value is not None and not math.isfinite(value) for value in numbers):
            raise ValueError("an outcome's scores must be finite numbers")


@dataclass(frozen=True)
class Expired:
    """What the reaper did with one job whose lease ran out, for the host."""

    job_id: int
    submission_id: int
    learner: str
    worker: str | None
    attempts: int
    action: Literal["requeued", "infrastructure"]


@dataclass(frozen=True)
class Estimate:
    """Where a submission waits and about how long until its result (None: not queued, or no history)."""

    position: int | None
    median_s: float | None
    ready_in_s: float | None


# --------------------------------------------------------------------------- the worker's side


def claim(db: Database, worker: str, now: dt.datetime, lease_s: float = DEFAULT_LEASE_S) -> Claim | None:
    """Take the next job in fair order with a fresh lease, or None when no learner's job may start."""
    expires = now + dt.timedelta(seconds=lease_s)
    with db.write() as connection:
        row = connection.execute(
            QUEUE_ORDER.format(free="AND j.learner NOT IN (SELECT learner FROM jobs WHERE state = 'running')")
            + " LIMIT 1",
            {"day": stamp(day_start(now))},
        ).fetchone()
        if row is None:
            return None
        lease_id = uuid.uuid4().hex
        connection.execute(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_id = ?, lease_expires_at = ?, "
            "worker = ?, started_at = ? WHERE id = ?",
            (lease_id, stamp(expires), worker, stamp(now), row["id"]),
        )
        connection.execute(
            "UPDATE submissions SET status = 'running' WHERE id = ? AND status = 'queued'", (row["submission_id"],)
        )
        job = connection.execute(
            "SELECT j.*, s.challenge, s.profile, s.sha256, s.filename FROM jobs j "
            "JOIN submissions s ON s.id = j.submission_id WHERE j.id = ?",
            (row["id"],),
        ).fetchone()
    return Claim(
        job_id=job["id"],
        submission_id=job["submission_id"],
        lease_id=lease_id,
        lease_expires_at=expires,
        learner=job["learner"],
        challenge=job["challenge"],
        profile=job["profile"],
        sha256=job["sha256"],
        filename=job["filename"],
        attempt=job["attempts"],
        regrade=job["regrade_of"] is not None,
    )


def renew(db: Database, lease_id: str, now: dt.datetime, lease_s: float = DEFAULT_LEASE_S) -> bool:
    """The heartbeat: extend a lease still held. False tells the worker to stop: its job went to another."""
    with db.write() as connection:
        cursor = connection.execute(
            "UPDATE jobs SET lease_expires_at = ? WHERE lease_id = ? AND state = 'running'",
            (stamp(now + dt.timedelta(seconds=lease_s)), lease_id),
        )
        return cursor.rowcount == 1


def complete(db: Database, lease_id: str, outcome: Outcome, now: dt.datetime) -> bool:
    """Record a grading's result if the lease is still held; True once this lease's result is recorded.

    A result already recorded under the same grading key is kept, not replaced: the same file,
    spec and seed graded twice gives one result. The same lease completing again changes nothing.
    """
    with db.write() as connection:
        job = connection.execute("SELECT id, submission_id, state, worker FROM jobs WHERE lease_id = ?", (lease_id,))
        row = job.fetchone()
        if row is None or row["state"] not in ("running", "done"):
            return False  # the lease was lost (expired and given to another) or the grading was failed
        if row["state"] == "done":
            return True
        recorded = _record_grading(connection, row, outcome, now)
        connection.execute(
            "UPDATE jobs SET state = 'done', finished_at = ?, lease_expires_at = NULL WHERE id = ?",
            (stamp(now), row["id"]),
        )
        connection.execute(
            "UPDATE submissions SET status = ?, reason = ?, verdict = ?, max_score = ?, public_score = ?, "
            "private_score = ?, public_accuracy = ?, private_accuracy = ?, result_json = ?, grading_key = ?, "
            "graded_at = ? WHERE id = ?",
            (
                "failed" if recorded["verdict"] == "not_graded" else "graded",
                recorded["reason"],
                recorded["verdict"],
                recorded["max_score"],
                recorded["public_score"],
                recorded["private_score"],
                recorded["public_accuracy"],
                recorded["private_accuracy"],
                recorded["result_json"],
                recorded["grading_key"],
                stamp(now),
                row["submission_id"],
            ),
        )
    return True


def _record_grading(
    connection: sqlite3.Connection, job: sqlite3.Row, outcome: Outcome, now: dt.datetime
) -> sqlite3.Row:
    """The grading stored under the outcome's key: inserted now, or the one recorded earlier."""
    connection.execute(
        "INSERT INTO gradings (job_id, submission_id, grading_key, verdict, reason, max_score, public_score, "
        "private_score, public_accuracy, private_accuracy, result_json, worker, recorded_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (grading_key) DO NOTHING",
        (
            job["id"],
            job["submission_id"],
            outcome.grading_key,
            outcome.verdict,
            outcome.reason,
            outcome.max_score,
            outcome.public_score,
            outcome.private_score,
            outcome.public_accuracy,
            outcome.private_accuracy,
            json.dumps(outcome.result, sort_keys=True),
            job["worker"],
            stamp(now),
        ),
    )
    return connection.execute("SELECT * FROM gradings WHERE grading_key = ?", (outcome.grading_key,)).fetchone()


def fail(db: Database, lease_id: str, reason: str, now: dt.datetime, *, infrastructure: bool = False) -> bool:
    """A grading that could not run. `infrastructure`: the service's fault, so it costs no quota
    and a regraded submission keeps its earlier result. False when the lease is no longer held."""
    with db.write() as connection:
        row = connection.execute(
            "SELECT id, submission_id FROM jobs WHERE lease_id = ? AND state = 'running'", (lease_id,)
        ).fetchone()
        if row is None:
            return False
        connection.execute(
            "UPDATE jobs SET state = 'failed', finished_at = ?, lease_expires_at = NULL WHERE id = ?",
            (stamp(now), row["id"]),
        )
        if infrastructure:
            _mark_infrastructure(connection, row["submission_id"], reason)
        else:
            connection.execute(
                "UPDATE submissions SET status = 'failed', reason = ? WHERE id = ?", (reason, row["submission_id"])
            )
    return True


def _mark_infrastructure(connection: sqlite3.Connection, submission_id: int, reason: str) -> None:
    """Mark a submission as not graded for the service's reasons, unless it has a result to keep."""
    connection.execute(
        "UPDATE submissions SET status = 'infrastructure', reason = ? WHERE id = ? AND status IN ('queued', 'running')",
        (reason, submission_id),
    )


# --------------------------------------------------------------------------- the reaper


def expire_leases(db: Database, now: dt.datetime) -> list[Expired]:
    """Jobs whose lease ran out: back to the queue once, then 'infrastructure'. Run it on start and often."""
    done: list[Expired] = []
    with db.write() as connection:
        rows = connection.execute(
            "SELECT id, submission_id, learner, worker, attempts FROM jobs "
            "WHERE state = 'running' AND lease_expires_at <= ? ORDER BY id",
            (stamp(now),),
        ).fetchall()
        for row in rows:
            again = row["attempts"] < MAX_ATTEMPTS
            if again:
                connection.execute(
                    "UPDATE jobs SET state = 'queued', lease_id = NULL, lease_expires_at = NULL, worker = NULL "
                    "WHERE id = ?",
                    (row["id"],),
                )
                connection.execute(
                    "UPDATE submissions SET status = 'queued' WHERE id = ? AND status = 'running'",
                    (row["submission_id"],),
                )
            else:
                connection.execute(
                    "UPDATE jobs SET state = 'failed', lease_id = NULL, lease_expires_at = NULL, finished_at = ? "
                    "WHERE id = ?",
                    (stamp(now), row["id"]),
                )
                _mark_infrastructure(connection, row["submission_id"], INFRASTRUCTURE_REASON)
            expired = Expired(
                job_id=row["id"],
                submission_id=row["submission_id"],
                learner=row["learner"],
                worker=row["worker"],
                attempts=row["attempts"],
                action="requeued" if again else "infrastructure",
            )
            connection.execute(
                "INSERT INTO events (at, actor, action, target, detail) VALUES (?, 'reaper', ?, ?, ?)",
                (
                    stamp(now),
                    f"lease expired: {expired.action}",
                    f"submission {row['submission_id']}",
                    json.dumps({"job": row["id"], "worker": row["worker"], "attempts": row["attempts"]}),
                ),
            )
            done.append(expired)
    return done


# --------------------------------------------------------------------------- what learners see


def queue_position(db: Database, submission_id: int, now: dt.datetime) -> int | None:
    """1 for the next to be claimed; None when the submission has no job waiting.

    The order is the claim's, without the one-running-per-learner rule (a learner's waiting job
    is not passed by their own later ones, and others' do not wait for it)."""
    with db.read() as connection:
        rows = connection.execute(QUEUE_ORDER.format(free=""), {"day": stamp(day_start(now))}).fetchall()
    ids = [row["submission_id"] for row in rows]
    return ids.index(submission_id) + 1 if submission_id in ids else None


def median_duration_s(db: Database, recent: int = 20) -> float | None:
    """The median of the last `recent` gradings' durations, or None before the first one."""
    with db.read() as connection:
        rows = connection.execute(
            "SELECT started_at, finished_at FROM jobs WHERE state = 'done' ORDER BY finished_at DESC LIMIT ?",
            (recent,),
        ).fetchall()
    durations = [(parse(row["finished_at"]) - parse(row["started_at"])).total_seconds() for row in rows]
    return statistics.median(durations) if durations else None


def estimate(db: Database, submission_id: int, now: dt.datetime, *, workers: int = 1) -> Estimate:
    """Position and a rough wait: the jobs ahead, `workers` at a time, each taking the recent median."""
    position = queue_position(db, submission_id, now)
    median = median_duration_s(db)
    ready = None if position is None or median is None else math.ceil(position / max(1, workers)) * median
    return Estimate(position=position, median_s=median, ready_in_s=ready)


def release_workers(db: Database, prefix: str, *, keep: str, now: dt.datetime) -> list[Expired]:
    """Leases held by workers named `prefix...`, other than `keep...`: a service that starts again on
    the same machine knows its earlier run's workers are dead, so their leases end now rather than
    when they run out (then `expire_leases`: queued once more, or 'infrastructure')."""
    with db.write() as connection:
        connection.execute(
            "UPDATE jobs SET lease_expires_at = ? WHERE state = 'running' AND substr(worker, 1, ?) = ? "
            "AND substr(worker, 1, ?) != ?",
            (stamp(now), len(prefix), prefix, len(keep), keep),
        )
    return expire_leases(db, now)
