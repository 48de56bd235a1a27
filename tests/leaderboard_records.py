"""Helpers for the leaderboard tests: synthetic records, and a writer process for the concurrency test."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from typing import Any

from grader.leaderboard.records import RECORD_VERSION


def submission_id(*parts: Any) -> str:
    """A deterministic 32-hex-digit submission ID, so a test knows exactly which IDs to expect."""
    return hashlib.md5("-".join(map(str, parts)).encode()).hexdigest()


def make_record(
    learner: str = "alice",
    *,
    challenge: str = "fashion",
    profile: str = "quick",
    public: tuple[float, float | None] = (40.0, 0.9),
    private: tuple[float, float | None] = (40.0, 0.9),
    submitted_at: str = "2025-03-01T10:00:00.000000+00:00",
    verdict: str = "passed",
    **overrides: Any,
) -> dict[str, Any]:
    """A valid record; `public` and `private` are (points, accuracy) on each half."""
    record = {
        "record_version": RECORD_VERSION,
        "submission_id": submission_id(learner, challenge, profile, public, private, submitted_at),
        "learner": learner,
        "display_name": learner,
        "challenge": challenge,
        "profile": profile,
        "submission_sha256": hashlib.sha256(f"{learner}{submitted_at}".encode()).hexdigest(),
        "verdict": verdict,
        "max_score": 50.0,
        "public_score": public[0],
        "private_score": private[0],
        "public_accuracy": public[1],
        "private_accuracy": private[1],
        "public_images": 5000,
        "private_images": 5000,
        "train_accuracy": 0.95,
        "validation_accuracy": 0.91,
        "gap": 0.04,
        "error": None,
        "device": "cpu",
        "backend": "tensorflow",
        "versions": {"python": "3.11", "keras": "3.0"},
        "grader_version": "0.1.0",
        "seed": 1234,
        "graded_on": "test-host",
        "started_at": submitted_at,
        "submitted_at": submitted_at,
    }
    record.update(overrides)
    return record


def database_snapshot(path: Path) -> tuple[str, list[str]]:
    """(sha256 of the file, SQL dump of its content): both must be unchanged after a refused operation."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    connection = sqlite3.connect(path)
    try:
        return digest, list(connection.iterdump())
    finally:
        connection.close()


def tree_snapshot(folder: Path) -> dict[str, str]:
    """Every file under `folder` (hidden ones too) with the sha256 of its bytes."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def write_records_in_process(db_path: str, worker: int, count: int, barrier) -> None:
    """One of many concurrent graders: wait for all, then record `count` submissions, one write each."""
    from grader.leaderboard.db import open_db
    from grader.leaderboard.records import validate_record

    barrier.wait()
    for index in range(count):
        record = make_record(
            f"learner{worker:02d}",
            submitted_at=f"2025-03-01T10:{worker:02d}:{index:02d}+00:00",
            submission_id=submission_id("concurrent", worker, index),
        )
        # A fresh connection per write, as separate `grade submit` runs would do.
        with open_db(Path(db_path), create=True) as db:
            db.add([validate_record(record, "test")], origin="local")
