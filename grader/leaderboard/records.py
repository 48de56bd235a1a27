"""The leaderboard record of one submission: what the database stores and what hosts sign.

A record is a flat JSON object. It carries the private half's score, so it is for hosts only:
learners see result.json, which never holds it. `validate_record` is the gate every imported
record passes after its signature checked out, so even a host-signed file of the wrong shape
or from another version is refused with a message rather than half-stored.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import socket
import uuid
from dataclasses import dataclass
from typing import Any

from grader.leaderboard.errors import LeaderboardError
from grader.leaderboard.identity import LEARNER_ID, display_name, learner_key

RECORD_VERSION = 1
SIGNATURE_FIELD = "signature"
VERDICTS = ("passed", "failed", "not_graded")

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # challenge and profile names: also folder names
SHA256 = re.compile(r"([0-9a-f]{64})?")  # empty when the file could not be read
SUBMISSION_ID = re.compile(r"[0-9a-f]{32}")


def check_learner_id(learner: str) -> str:
    """The learner ID as typed, normalised for display (identity.display_name); LeaderboardError if unusable."""
    return display_name(learner)


@dataclass
class LeaderboardRun:
    """Leaderboard mode of one grading: who submitted, and what stays with the host.

    The pipeline fills in the private half's figures here; they never go into the GradeResult
    (so never into result.json, reports or the terminal), only into the database and signed records.
    """

    learner: str  # as given; the learner's key once made (identity.learner_key: "Erin" is "erin")
    private_accuracy: float | None = None
    private_score: float | None = None
    public_images: int = 0
    private_images: int = 0
    display_name: str = ""  # the ID as typed ("Erin"); from `learner` when not given

    def __post_init__(self) -> None:
        self.display_name = display_name(self.display_name or self.learner)
        self.learner = learner_key(self.learner)


def utc_timestamp(moment: dt.datetime | None = None) -> str:
    """One fixed format (UTC, microseconds), so timestamps sort correctly as text in SQL."""
    moment = moment or dt.datetime.now(dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")


def build_record(result: Any, run: LeaderboardRun, *, submitted_at: str | None = None) -> dict[str, Any]:
    """The record of a graded GradeResult (or of its JSON form), with the private half's figures from `run`."""
    document = result if isinstance(result, dict) else result.to_dict()
    metrics = document["metrics"]
    graded = document["verdict"] != "not_graded"
    return {
        "record_version": RECORD_VERSION,
        "submission_id": uuid.uuid4().hex,
        "learner": run.learner,
        "display_name": run.display_name,
        "challenge": document["challenge"],
        "profile": document["profile"],
        "submission_sha256": document["submission_sha256"],
        "verdict": document["verdict"],
        "max_score": document["max_score"],
        "public_score": document["score"],
        # Without test metrics (a challenge that trains nothing, or a failed run) both halves
        # score the same points: only accuracy on the test images can differ between them.
        "private_score": (run.private_score if run.private_score is not None else document["score"])
        if graded
        else None,
        "public_accuracy": metrics.get("test_accuracy"),
        "private_accuracy": run.private_accuracy,
        "public_images": run.public_images,
        "private_images": run.private_images,
        "train_accuracy": metrics.get("train_accuracy"),
        "validation_accuracy": metrics.get("validation_accuracy"),
        "gap": metrics.get("gap"),
        "error": document["error"],
        "device": document["device"],
        "backend": document["backend"],
        "versions": dict(document["versions"]),
        "grader_version": document["grader_version"],
        "seed": document["seed"],
        "graded_on": socket.gethostname(),
        "started_at": document["started_at"],
        # When grading began, not when it ended: of two equal results the one submitted first wins,
        # however long each took to train.
        "submitted_at": submitted_at or document["started_at"] or utc_timestamp(),
    }


# ----------------------------------------------------------------------------- validation


def _text(pattern: re.Pattern | None = None, *, optional: bool = False):
    def check(value: Any) -> str | None:
        if value is None and optional:
            return None
        if not isinstance(value, str):
            return "must be text"
        if pattern is not None and not pattern.fullmatch(value):
            return f"must match {pattern.pattern}"
        return None

    return check


def _number(low: float, high: float, *, optional: bool = True):
    def check(value: Any) -> str | None:
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return "must be a number" + (" or null" if optional else "")
        if not low <= value <= high:
            return f"must be between {low:g} and {high:g}"
        return None

    return check


def _count(value: Any) -> str | None:
    return None if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else "must be a count (>= 0)"


def _integer(value: Any) -> str | None:
    return None if isinstance(value, int) and not isinstance(value, bool) else "must be an integer"


def _timestamp(value: Any) -> str | None:
    if not isinstance(value, str):
        return "must be an ISO 8601 time"
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return "must be an ISO 8601 time"
    return None if moment.tzinfo is not None else "must include a time zone"


def _versions(value: Any) -> str | None:
    if isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return None
    return "must map names to version strings"


FIELDS = {
    "record_version": lambda v: (
        None
        if v == RECORD_VERSION
        else f"is {v!r}, and this grader reads version {RECORD_VERSION} (sign it with a grader of the same version)"
    ),
    "submission_id": _text(SUBMISSION_ID),
    "learner": _text(LEARNER_ID),
    "display_name": _text(LEARNER_ID),
    "challenge": _text(NAME),
    "profile": _text(NAME),
    "submission_sha256": _text(SHA256),
    "verdict": lambda v: None if v in VERDICTS else f"must be one of {', '.join(VERDICTS)}",
    "max_score": _number(0, 1e6, optional=False),
    "public_score": _number(0, 1e6),
    "private_score": _number(0, 1e6),
    "public_accuracy": _number(0, 1),
    "private_accuracy": _number(0, 1),
    "public_images": _count,
    "private_images": _count,
    "train_accuracy": _number(0, 1),
    "validation_accuracy": _number(0, 1),
    "gap": _number(-1, 1),
    "error": _text(optional=True),
    "device": _text(),
    "backend": _text(),
    "versions": _versions,
    "grader_version": _text(),
    "seed": _integer,
    "graded_on": _text(),
    "started_at": lambda v: None if v == "" else _timestamp(v),
    "submitted_at": _timestamp,
}


def validate_record(record: Any, where: str) -> dict[str, Any]:
    """The record with its timestamp normalised; LeaderboardError naming every bad field otherwise."""
    if not isinstance(record, dict):
        raise LeaderboardError(f"{where}: not a leaderboard record (a JSON object was expected)")
    # A record signed before display names were kept has none: its learner ID is its name.
    record = {"display_name": record.get("learner"), **record} if "display_name" not in record else record
    problems = [f"missing field {name!r}" for name in FIELDS if name not in record]
    problems += [f"unknown field {name!r}" for name in record if name not in FIELDS and name != SIGNATURE_FIELD]
    problems += [
        f"field {name!r} {problem}"
        for name, check in FIELDS.items()
        if name in record and (problem := check(record[name])) is not None
    ]
    if problems:
        raise LeaderboardError(f"{where}: not a valid leaderboard record: " + "; ".join(problems))
    clean = {name: record[name] for name in FIELDS}
    clean["learner"] = learner_key(record["learner"])  # "Erin" of an older record is "erin"
    clean["submitted_at"] = utc_timestamp(dt.datetime.fromisoformat(record["submitted_at"]))
    return clean
