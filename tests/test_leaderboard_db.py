"""The leaderboard database: concurrent writers, and bad input (damaged, foreign, incomplete, locked or
missing files) refused with a clear message while the file stays exactly as it was."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.checks.result import CheckResult
from grader.cli import main
from grader.cli.leaderboard import finish_leaderboard_submission
from grader.core.result import GradeResult
from grader.leaderboard import LeaderboardError
from grader.leaderboard.commands import DailyCapReached, check_daily_cap, import_records, record
from grader.leaderboard.db import SCHEMA_VERSION, open_db
from grader.leaderboard.records import LeaderboardRun, validate_record
from grader.leaderboard.signing import load_key, sign
from tests.leaderboard_records import database_snapshot, make_record, submission_id, write_records_in_process

KEY = b"k" * 32
WRITERS, WRITES_EACH = 20, 10


def add(db_path: Path, *records) -> None:
    with open_db(db_path, create=True) as db:
        db.add([validate_record(r, "test") for r in records], origin="local")


def stored_ids(db_path: Path) -> list[str]:
    with open_db(db_path, create=False) as db:
        return [s["submission_id"] for s in db.submissions()]


def graded_result(tmp_path: Path, **overrides) -> GradeResult:
    """A GradeResult as the pipeline leaves it in leaderboard mode, with its result.json written."""
    result = GradeResult(
        challenge="fashion",
        profile="quick",
        mode="submit",
        submission_path="/x/fashion.py",
        submission_sha256="ab" * 32,
        seed=1234,
        backend="tensorflow",
        device="cpu",
        versions={"keras": "3"},
        started_at="2025-03-01T10:00:00+00:00",
        metrics={"test_accuracy": 0.9, "train_accuracy": 0.95, "validation_accuracy": 0.9, "gap": 0.05},
        checks=[CheckResult("accuracy.tier1", "Test accuracy", 10, 10, True, "ok")],
        run_dir=str(tmp_path / "run"),
        leaderboard={"learner": "alice", "test_half": "public"},
    )
    for key, value in overrides.items():
        setattr(result, key, value)
    result.write_json(tmp_path / "run" / "result.json")
    return result


def test_twenty_concurrent_graders_lose_no_row(tmp_path):
    db_path = tmp_path / "leaderboard.sqlite"  # not created yet: the writers also race to create the schema
    context = multiprocessing.get_context("spawn")  # fresh interpreters, as separate `grade submit` runs are
    barrier = context.Barrier(WRITERS)
    writers = [
        context.Process(target=write_records_in_process, args=(str(db_path), worker, WRITES_EACH, barrier))
        for worker in range(WRITERS)
    ]
    for process in writers:
        process.start()
    for process in writers:
        process.join(timeout=300)
    assert [p.exitcode for p in writers] == [0] * WRITERS
    expected = {submission_id("concurrent", w, i) for w in range(WRITERS) for i in range(WRITES_EACH)}
    ids = stored_ids(db_path)
    assert len(ids) == WRITERS * WRITES_EACH and set(ids) == expected
    connection = sqlite3.connect(db_path)
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert connection.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    connection.close()


def damage_pages(path: Path) -> None:
    """Overwrite the header of every b-tree page after the first: a file SQLite calls malformed."""
    data = bytearray(path.read_bytes())
    for page in range(1, len(data) // 4096):
        data[page * 4096 : page * 4096 + 8] = b"\xff" * 8
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["not sqlite", "malformed pages"])
def test_a_damaged_database_is_refused_and_left_as_it_was(tmp_path, damage):
    db_path = tmp_path / "leaderboard.sqlite"
    if damage == "not sqlite":
        db_path.write_text("learner,score\nalice,40\n")
    else:
        add(db_path, *(make_record(f"l{i}", submission_id=submission_id(i)) for i in range(300)))
        damage_pages(db_path)
    before = db_path.read_bytes()
    signed = tmp_path / "signed.json"
    signed.write_text(json.dumps(sign(make_record("zoe"), KEY)))
    attempts = [
        lambda: check_daily_cap(db_path=db_path, learner="alice", challenge="fashion", cap=3),
        lambda: record(graded_result(tmp_path), LeaderboardRun("alice"), db_path=db_path),
        lambda: import_records(files=[signed], db_path=db_path, key=KEY),
    ]
    for attempt in attempts:
        with pytest.raises(LeaderboardError, match="is damaged or is not a SQLite database.*left as it is"):
            attempt()
    result = CliRunner().invoke(main, ["leaderboard", "show", "--db", str(db_path)])
    assert result.exit_code == 2 and "is damaged or is not a SQLite database" in result.output
    out = tmp_path / "site"
    result = CliRunner().invoke(main, ["leaderboard", "publish", "--db", str(db_path), "--out", str(out)])
    assert result.exit_code == 2 and not out.exists()
    assert db_path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["leaderboard.sqlite", "run", "signed.json"]


def test_a_missing_table_or_a_foreign_database_is_named_and_left_as_it_was(tmp_path):
    db_path = tmp_path / "leaderboard.sqlite"
    add(db_path, make_record("alice"))
    connection = sqlite3.connect(db_path)
    connection.execute("DROP TABLE submissions")
    connection.commit()
    connection.close()
    before = database_snapshot(db_path)
    for create in (True, False):
        with pytest.raises(LeaderboardError, match="missing the table 'submissions'.*left as it is"):
            open_db(db_path, create=create)
    with pytest.raises(LeaderboardError, match="missing the table 'submissions'"):
        record(graded_result(tmp_path), LeaderboardRun("alice"), db_path=db_path)
    assert database_snapshot(db_path) == before

    foreign = tmp_path / "other.sqlite"
    connection = sqlite3.connect(foreign)
    connection.execute("CREATE TABLE grades (learner TEXT, points REAL)")
    connection.commit()
    connection.close()
    before = database_snapshot(foreign)
    with pytest.raises(
        LeaderboardError,
        match=r"not a leaderboard database: it has no schema_version table "
        r"\(its tables: grades\)",
    ):
        open_db(foreign, create=True)
    assert database_snapshot(foreign) == before


def test_a_locked_database_is_reported_after_retries_and_nothing_is_written(tmp_path):
    db_path = tmp_path / "leaderboard.sqlite"
    add(db_path, make_record("alice"))
    before = database_snapshot(db_path)
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another program holding the write lock
    try:
        with open_db(db_path, create=True, busy_timeout_s=0.1, attempts=3) as db:
            # Reading still works in WAL mode while another program writes.
            assert len(db.submissions()) == 1
            with pytest.raises(
                LeaderboardError,
                match=r"is locked by another program: could not record the "
                r"submission after 3 attempts.*Nothing was changed",
            ):
                db.add([validate_record(make_record("bob"), "test")], origin="local")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert database_snapshot(db_path) == before
    add(db_path, make_record("bob"))  # once the lock is gone, writing works again
    assert len(stored_ids(db_path)) == 2


def test_a_missing_database_is_named_by_show_and_publish(tmp_path):
    db_path = tmp_path / "none.sqlite"
    for command in (["show"], ["publish", "--out", str(tmp_path / "site")]):
        result = CliRunner().invoke(main, ["leaderboard", *command, "--db", str(db_path)])
        assert result.exit_code == 2
        assert f"no leaderboard database at {db_path}" in result.output
    assert list(tmp_path.iterdir()) == []


def test_a_database_error_keeps_the_graded_result_and_the_signed_record(tmp_path, monkeypatch):
    db_path = tmp_path / "leaderboard.sqlite"
    db_path.write_bytes(b"\x00garbage" * 100)
    result = graded_result(tmp_path)
    written = (tmp_path / "run" / "result.json").read_text()
    run = LeaderboardRun("alice", private_accuracy=0.8, private_score=10, public_images=5, private_images=5)
    monkeypatch.setenv("GRADER_SECRET_KEY", KEY.decode())
    options = {"db_path": db_path, "key": load_key(), "signed_dir": tmp_path / "signed"}
    assert finish_leaderboard_submission(result, run, options) == 2
    assert (tmp_path / "run" / "result.json").read_text() == written
    # The signed record was written before the database failed: importing it later adds the submission.
    [signed] = (tmp_path / "signed").iterdir()
    good_db = tmp_path / "fresh.sqlite"
    [imported] = import_records(files=[signed], db_path=good_db, key=KEY)
    assert imported["learner"] == "alice" and imported["private_accuracy"] == 0.8
    assert stored_ids(good_db) == [imported["submission_id"]]


def test_the_daily_cap_counts_todays_graded_submissions(tmp_path):
    db_path = tmp_path / "leaderboard.sqlite"
    now = dt.datetime(2025, 3, 2, 15, 0, tzinfo=dt.timezone.utc)
    add(
        db_path,
        make_record("alice", submitted_at="2025-03-01T23:59:59+00:00"),  # yesterday: not counted
        make_record("alice", submitted_at="2025-03-02T00:00:00+00:00"),
        make_record(
            "alice",
            submitted_at="2025-03-02T09:00:00+00:00",
            verdict="not_graded",
            error="no data",
            public=(0, None),
            private=(0, None),
        ),  # the grader's problem: not counted
        make_record("alice", submitted_at="2025-03-02T10:00:00+00:00", challenge="cnn"),  # another challenge
        make_record("bob", submitted_at="2025-03-02T10:00:00+00:00"),
    )
    check_daily_cap(db_path=db_path, learner="alice", challenge="fashion", cap=2, now=now)
    check_daily_cap(db_path=db_path, learner="alice", challenge="fashion", cap=None, now=now)
    with pytest.raises(DailyCapReached, match="alice has made 1 graded submission to fashion today"):
        check_daily_cap(db_path=db_path, learner="alice", challenge="fashion", cap=1, now=now)


def test_the_daily_cap_refuses_before_training_with_exit_code_2(tmp_path):
    db_path = tmp_path / "leaderboard.sqlite"
    today = dt.datetime.now(dt.timezone.utc).isoformat()
    add(db_path, make_record("alice", submitted_at=today))
    before = database_snapshot(db_path)
    submission = tmp_path / "fashion.py"
    submission.write_text("raise SystemExit('must not run')\n")
    out = tmp_path / "run"
    result = CliRunner().invoke(
        main,
        ["submit", str(submission), "--learner", "alice", "--db", str(db_path), "--daily-cap", "1", "--out", str(out)],
    )
    assert result.exit_code == 2
    assert "daily submission limit reached: alice has made 1 graded submission to fashion today" in result.output
    assert not out.exists()  # refused before anything ran
    assert database_snapshot(db_path) == before


def test_sign_without_learner_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(main, ["submit", str(tmp_path / "fashion.py"), "--sign"])
    assert result.exit_code == 2 and "--sign needs --learner" in result.output
