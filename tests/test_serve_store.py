"""The live service's store and queue: tokens, submissions, quotas, fair claims, leases, fencing,
restarts, the host's actions and the boards. Every moment is given (`now`); nothing sleeps."""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
import threading

import pytest

from grader.serve.database import SCHEMA_VERSION, StoreError
from grader.serve.hostfile import ChallengeTable, HostFile, RosterEntry, ServeTable
from grader.serve.queue import INFRASTRUCTURE_REASON, Outcome
from grader.serve.store import Refused, Store, display_filename

UTC = dt.timezone.utc
OPENS = dt.datetime(2027, 1, 8, 9, 0, tzinfo=UTC)
CLOSES = dt.datetime(2027, 1, 15, 17, 0, tzinfo=UTC)
DAY = dt.datetime(2027, 1, 10, 12, 0, tzinfo=UTC)
LEARNERS = ("alice", "bob", "carol")


def later(seconds: float, start: dt.datetime = DAY) -> dt.datetime:
    return start + dt.timedelta(seconds=seconds)


def make_host(tmp_path, **serve) -> HostFile:
    table = ServeTable(title="CNN week", opens=OPENS, closes=CLOSES, roster="roster.csv", **serve)
    challenges = (ChallengeTable(name="fashion"), ChallengeTable(name="digits", profile="full"))
    return HostFile(path=tmp_path / "challenge.toml", serve=table, challenges=challenges)


def make_store(tmp_path, learners=LEARNERS, **serve) -> Store:
    store = Store(tmp_path / "serve.sqlite", make_host(tmp_path, **serve))
    store.add_learners([RosterEntry(learner=name, name=name.title()) for name in learners], OPENS)
    return store


def outcome(key, public, private, public_accuracy=None, private_accuracy=None, verdict="passed") -> Outcome:
    return Outcome(
        grading_key=key,
        verdict=verdict,
        max_score=100.0,
        public_score=public,
        private_score=private,
        public_accuracy=public_accuracy,
        private_accuracy=private_accuracy,
        result={"score": public, "checks": []},
    )


def graded(store, learner, public, private, now, *, challenge="fashion", accuracy=(None, None)) -> int:
    """Submit, claim and complete one submission; its id."""
    submission = store.submit(learner, challenge, "model.py", f"{learner} {now}".encode(), now)
    claim = store.claim("w1", now)
    assert claim is not None and claim.submission_id == submission
    assert store.complete(claim.lease_id, outcome(f"key-{submission}", public, private, *accuracy), later(60, now))
    return submission


def rows(store, sql, *parameters):
    connection = sqlite3.connect(store.path)
    try:
        return connection.execute(sql, parameters).fetchall()
    finally:
        connection.close()


def status(store, submission_id) -> str:
    return rows(store, "SELECT status FROM submissions WHERE id = ?", submission_id)[0][0]


# --------------------------------------------------------------------------- the file


def test_the_store_is_a_versioned_wal_database(tmp_path):
    store = make_store(tmp_path)
    assert rows(store, "PRAGMA journal_mode") == [("wal",)]
    assert rows(store, "SELECT value FROM meta WHERE key = 'schema_version'") == [(str(SCHEMA_VERSION),)]


def test_a_file_of_another_version_or_not_sqlite_is_refused_untouched(tmp_path):
    store = make_store(tmp_path)
    connection = sqlite3.connect(store.path)
    connection.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    connection.commit()
    connection.close()
    with pytest.raises(StoreError, match="schema version 99"):
        Store(store.path, store.host)
    other = tmp_path / "notes.sqlite"
    other.write_bytes(b"just some notes, not a database at all")
    with pytest.raises(StoreError, match="not a SQLite database"):
        Store(other, store.host)
    assert other.read_bytes() == b"just some notes, not a database at all"


# --------------------------------------------------------------------------- tokens


def test_a_token_is_shown_once_and_only_its_hash_is_stored(tmp_path):
    store = make_store(tmp_path)
    token = store.issue_token("alice")
    assert len(token) >= 43
    assert store.learner_for_token(token) == "alice"
    assert rows(store, "SELECT token_hash FROM learners WHERE id = 'alice'") == [
        (hashlib.sha256(token.encode()).hexdigest(),)
    ]
    assert not [p for p in tmp_path.glob("serve.sqlite*") if token.encode() in p.read_bytes()]
    assert store.learner_for_token("not-a-token") is None
    assert store.learner_for_token("") is None


def test_a_new_token_revokes_the_old_one_and_an_unknown_learner_gets_none(tmp_path):
    store = make_store(tmp_path)
    first = store.issue_token("bob")
    second = store.issue_token("bob")
    assert first != second
    assert store.learner_for_token(first) is None and store.learner_for_token(second) == "bob"
    with pytest.raises(Refused) as caught:
        store.issue_token("mallory")
    assert caught.value.status == 404


# --------------------------------------------------------------------------- submitting


def test_a_submission_and_its_job_are_stored_together_by_id(tmp_path):
    store = make_store(tmp_path)
    submission = store.submit("alice", "digits", "../../etc/passwd", b"print('hi')", DAY)
    assert rows(store, "SELECT learner, challenge, profile, filename, size, sha256, status FROM submissions") == [
        ("alice", "digits", "full", "passwd", 11, hashlib.sha256(b"print('hi')").hexdigest(), "queued")
    ]
    assert rows(store, "SELECT submission_id, state, attempts FROM jobs") == [(submission, "queued", 0)]
    assert store.submission_content(submission) == b"print('hi')"
    # The uploaded name never became a file: the folder holds only the database (and its WAL files while open).
    assert {p.name for p in tmp_path.iterdir()} <= {"serve.sqlite", "serve.sqlite-shm", "serve.sqlite-wal"}


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("my model (1).py", "my_model_1_.py"),
        ("C:\\Users\\me\\cnn.py", "cnn.py"),
        ("..", "submission"),
        (".hidden.py", "hidden.py"),
        ("x" * 300, "x" * 100),
    ],
)
def test_the_uploaded_name_is_cleaned_for_display(raw, shown):
    assert display_filename(raw) == shown


def test_a_failure_while_queueing_stores_no_submission_either(tmp_path):
    store = make_store(tmp_path)
    connection = sqlite3.connect(store.path)
    connection.execute("CREATE TRIGGER no_jobs BEFORE INSERT ON jobs BEGIN SELECT RAISE(ABORT, 'queue down'); END")
    connection.commit()
    connection.close()
    with pytest.raises(sqlite3.IntegrityError, match="queue down"):
        store.submit("alice", "fashion", "model.py", b"x", DAY)
    assert rows(store, "SELECT COUNT(*) FROM submissions") == [(0,)]
    assert rows(store, "SELECT COUNT(*) FROM files") == [(0,)]


@pytest.mark.parametrize(
    ("learner", "challenge", "content", "now", "code", "words"),
    [
        ("alice", "fashion", b"x", later(-1, OPENS), 403, "opens at 2027-01-08 09:00 UTC"),
        ("alice", "fashion", b"x", CLOSES, 403, "closed at 2027-01-15 17:00 UTC"),
        ("alice", "cifar", b"x", DAY, 404, "the challenges are fashion, digits"),
        ("alice", "fashion", b"x" * 1001, DAY, 413, "limited to 1000 bytes"),
        ("alice", "fashion", b"", DAY, 400, "empty"),
        ("mallory", "fashion", b"x", DAY, 403, "not on this challenge's roster"),
    ],
)
def test_a_refused_upload_says_why_and_stores_nothing(tmp_path, learner, challenge, content, now, code, words):
    store = make_store(tmp_path, upload_max_bytes=1000)
    with pytest.raises(Refused) as caught:
        store.submit(learner, challenge, "model.py", content, now)
    assert caught.value.status == code and words in caught.value.message
    assert rows(store, "SELECT COUNT(*) FROM submissions") == [(0,)]
    assert rows(store, "SELECT COUNT(*) FROM jobs") == [(0,)]


def test_the_daily_cap_counts_per_utc_day_and_per_challenge(tmp_path):
    store = make_store(tmp_path, daily_cap=2)
    store.submit("alice", "fashion", "a.py", b"1", DAY)
    store.submit("alice", "fashion", "a.py", b"2", later(1))
    with pytest.raises(Refused) as caught:
        store.submit("alice", "fashion", "a.py", b"3", later(2))
    assert caught.value.status == 429
    assert "limit is 2 per day (UTC)" in caught.value.message
    assert "accepted from 2027-01-11 00:00 UTC (in 11 h 59 min)" in caught.value.message
    assert store.quota("alice", "fashion", later(3)) == (2, 2)
    store.submit("alice", "digits", "a.py", b"4", later(3))  # another challenge has its own cap
    store.submit("bob", "fashion", "a.py", b"5", later(4))  # and another learner
    # 00:30 in Paris on the 11th is still the 10th in UTC; midnight UTC is a new day.
    paris = dt.timezone(dt.timedelta(hours=1))
    with pytest.raises(Refused):
        store.submit("alice", "fashion", "a.py", b"6", dt.datetime(2027, 1, 11, 0, 30, tzinfo=paris))
    store.submit("alice", "fashion", "a.py", b"7", dt.datetime(2027, 1, 11, 0, 0, tzinfo=UTC))


def test_cancelled_and_infrastructure_failures_do_not_count_but_failures_do(tmp_path):
    store = make_store(tmp_path, daily_cap=1)
    first = store.submit("alice", "fashion", "a.py", b"1", DAY)
    store.cancel(first, now=later(1), by_learner="alice")
    second = store.submit("alice", "fashion", "a.py", b"2", later(2))
    for attempt in range(2):  # the worker vanishes twice
        assert store.claim("w1", later(10 + attempt * 100), lease_s=30) is not None
        store.expire_leases(later(50 + attempt * 100))
    assert status(store, second) == "infrastructure"
    third = store.submit("alice", "fashion", "a.py", b"3", later(300))
    claim = store.claim("w1", later(301))
    assert claim is not None and claim.submission_id == third
    assert store.fail(claim.lease_id, "your preprocess() raised ValueError", later(302))
    assert status(store, third) == "failed"
    assert not store.complete(claim.lease_id, outcome("k3", 90, 90), later(302))  # a failed grading stays failed
    assert rows(store, "SELECT status, public_score FROM submissions WHERE id = ?", third) == [("failed", None)]
    with pytest.raises(Refused) as caught:
        store.submit("alice", "fashion", "a.py", b"4", later(303))
    assert caught.value.status == 429 and "made 1 submission to fashion" in caught.value.message


def test_the_host_can_give_extra_submissions_for_one_day(tmp_path):
    store = make_store(tmp_path, daily_cap=1)
    store.submit("alice", "fashion", "a.py", b"1", DAY)
    assert store.extend_quota("alice", 1, DAY.date(), now=DAY, challenge="fashion") == 1
    assert store.extend_quota("alice", 1, DAY.date(), now=DAY) == 1  # to every challenge
    assert store.quota("alice", "fashion", DAY) == (1, 3)
    assert store.quota("alice", "digits", DAY) == (0, 2)
    assert store.quota("alice", "fashion", later(86400)) == (0, 1)  # not the next day
    store.submit("alice", "fashion", "a.py", b"2", later(1))
    store.submit("alice", "fashion", "a.py", b"3", later(2))
    with pytest.raises(Refused):
        store.submit("alice", "fashion", "a.py", b"4", later(3))
    assert [(e.actor, e.action, e.target) for e in store.events()] == [("host", "extend quota", "learner alice")] * 2
    with pytest.raises(ValueError):
        store.extend_quota("alice", 0, DAY.date(), now=DAY)


# --------------------------------------------------------------------------- claiming


def test_claims_run_one_job_per_learner_and_the_earliest_first(tmp_path):
    store = make_store(tmp_path)
    a1 = store.submit("alice", "fashion", "a.py", b"1", DAY)
    a2 = store.submit("alice", "fashion", "a.py", b"2", later(1))
    b1 = store.submit("bob", "fashion", "b.py", b"3", later(2))
    first, second = store.claim("w1", later(10)), store.claim("w2", later(10))
    assert first is not None and second is not None
    assert (first.submission_id, second.submission_id) == (a1, b1)  # not alice's second while her first runs
    assert store.claim("w3", later(10)) is None
    assert (first.learner, first.challenge, first.profile, first.attempt, first.regrade) == (
        "alice",
        "fashion",
        "quick",
        1,
        False,
    )
    assert first.lease_id != second.lease_id and first.lease_expires_at == later(70)
    assert store.complete(first.lease_id, outcome("k1", 50, 50), later(20))
    third = store.claim("w1", later(21))
    assert third is not None and third.submission_id == a2


def test_the_learner_with_fewer_gradings_today_goes_first(tmp_path):
    store = make_store(tmp_path)
    store.submit("alice", "fashion", "a.py", b"1", DAY)
    a2 = store.submit("alice", "fashion", "a.py", b"2", later(1))
    b1 = store.submit("bob", "fashion", "b.py", b"3", later(2))
    first = store.claim("w1", later(10))
    assert first is not None and store.complete(first.lease_id, outcome("k1", 1, 1), later(20))
    second = store.claim("w1", later(21))
    assert second is not None and second.submission_id == b1  # alice had one today, bob none
    assert store.queue_position(a2, later(21)) == 1


def test_a_regrade_waits_behind_learners_uploads(tmp_path):
    store = make_store(tmp_path)
    old = graded(store, "alice", 10, 10, DAY)
    store.regrade(old, now=later(100))
    fresh = store.submit("carol", "fashion", "c.py", b"c", later(200))
    claim = store.claim("w1", later(300))
    assert claim is not None and claim.submission_id == fresh


# --------------------------------------------------------------------------- leases and fencing


def test_an_expired_lease_requeues_once_and_fences_out_the_old_worker(tmp_path):
    store = make_store(tmp_path)
    submission = store.submit("alice", "fashion", "a.py", b"1", DAY)
    stale = store.claim("w1", later(10), lease_s=60)
    assert stale is not None and status(store, submission) == "running"
    assert store.expire_leases(later(69)) == []
    (expired,) = store.expire_leases(later(70))
    assert (expired.submission_id, expired.worker, expired.attempts, expired.action) == (
        submission,
        "w1",
        1,
        "requeued",
    )
    assert status(store, submission) == "queued"
    assert not store.renew(stale.lease_id, later(71))
    fresh = store.claim("w2", later(72))
    assert fresh is not None and fresh.attempt == 2 and fresh.lease_id != stale.lease_id
    assert not store.complete(stale.lease_id, outcome("k", 99, 99), later(80))  # the late result is refused
    assert not store.fail(stale.lease_id, "boom", later(80))
    assert store.complete(fresh.lease_id, outcome("k", 40, 38), later(90))
    assert store.complete(fresh.lease_id, outcome("k-again", 77, 77), later(91))  # again: a no-op
    assert rows(store, "SELECT status, public_score, private_score FROM submissions") == [("graded", 40, 38)]
    assert rows(store, "SELECT COUNT(*) FROM gradings") == [(1,)]
    assert [e.action for e in store.events()] == ["lease expired: requeued"]


def test_a_second_expiry_reports_an_infrastructure_failure(tmp_path):
    store = make_store(tmp_path)
    submission = store.submit("alice", "fashion", "a.py", b"1", DAY)
    assert store.claim("w1", later(0), lease_s=10) is not None
    store.expire_leases(later(10))
    second = store.claim("w2", later(20), lease_s=10)
    assert second is not None
    (expired,) = store.expire_leases(later(30))
    assert (expired.attempts, expired.action) == (2, "infrastructure")
    assert rows(store, "SELECT status, reason FROM submissions") == [("infrastructure", INFRASTRUCTURE_REASON)]
    assert "could not grade (infrastructure)" in INFRASTRUCTURE_REASON
    assert store.claim("w3", later(40)) is None  # not tried a third time
    assert not store.complete(second.lease_id, outcome("k", 1, 1), later(41))
    assert status(store, submission) == "infrastructure"


def test_a_heartbeat_keeps_the_lease(tmp_path):
    store = make_store(tmp_path)
    store.submit("alice", "fashion", "a.py", b"1", DAY)
    claim = store.claim("w1", later(0), lease_s=60)
    assert claim is not None
    assert store.renew(claim.lease_id, later(50), lease_s=60)
    assert store.expire_leases(later(100)) == []
    assert [e.action for e in store.expire_leases(later(110))] == ["requeued"]
    assert not store.renew("no-such-lease", later(0))


def test_a_result_is_recorded_once_per_grading_key(tmp_path):
    store = make_store(tmp_path)
    first = store.submit("alice", "fashion", "a.py", b"same", DAY)
    second = store.submit("alice", "fashion", "a.py", b"same", later(1))
    one = store.claim("w1", later(2))
    assert one is not None and store.complete(one.lease_id, outcome("same-key", 30, 31), later(3))
    two = store.claim("w1", later(4))
    assert two is not None and store.complete(two.lease_id, outcome("same-key", 35, 36), later(5))
    assert rows(store, "SELECT COUNT(*), MIN(job_id) FROM gradings") == [(1, one.job_id)]
    assert rows(store, "SELECT id, public_score, private_score FROM submissions ORDER BY id") == [
        (first, 30, 31),
        (second, 30, 31),
    ]


def test_a_submission_the_grader_could_not_grade_is_failed_with_its_reason(tmp_path):
    store = make_store(tmp_path)
    submission = store.submit("alice", "fashion", "a.py", b"1", DAY)
    claim = store.claim("w1", later(1))
    assert claim is not None
    broken = Outcome("k", "not_graded", 100.0, None, None, reason="model() returned None")
    assert store.complete(claim.lease_id, broken, later(2))
    assert rows(store, "SELECT status, reason FROM submissions") == [("failed", "model() returned None")]
    assert store.public_board("fashion") == ()
    with pytest.raises(ValueError):
        Outcome("k", "great", 100.0, 1.0, 1.0)
    assert submission == claim.submission_id


def test_a_restarted_service_resumes_without_grading_anything_twice(tmp_path):
    store = make_store(tmp_path)
    done = graded(store, "alice", 20, 20, DAY)
    waiting = store.submit("bob", "fashion", "b.py", b"b", later(100))
    stale = store.claim("w1", later(101), lease_s=60)
    assert stale is not None and stale.submission_id == waiting
    # The process dies; a new one opens the same file.
    restarted = Store(store.path, make_host(tmp_path))
    assert [e.submission_id for e in restarted.expire_leases(later(200))] == [waiting]
    fresh = restarted.claim("w2", later(201))
    assert fresh is not None and fresh.submission_id == waiting and fresh.attempt == 2
    assert restarted.claim("w3", later(202)) is None  # the graded one is not claimed again
    assert not store.complete(stale.lease_id, outcome("b-old", 90, 90), later(203))
    assert restarted.complete(fresh.lease_id, outcome("b", 30, 30), later(204))
    assert rows(restarted, "SELECT submission_id FROM gradings ORDER BY job_id") == [(done,), (waiting,)]


# --------------------------------------------------------------------------- queue position


def test_queue_position_and_estimate_follow_the_claim_order(tmp_path):
    store = make_store(tmp_path)
    a1 = store.submit("alice", "fashion", "a.py", b"1", DAY)
    b1 = store.submit("bob", "fashion", "b.py", b"2", later(1))
    c1 = store.submit("carol", "fashion", "c.py", b"3", later(2))
    assert [store.queue_position(s, later(3)) for s in (a1, b1, c1)] == [1, 2, 3]
    assert store.estimate(c1, later(3)).median_s is None
    for seconds, start in ((60, 10), (120, 100)):
        claim = store.claim("w1", later(start))
        assert claim is not None and store.complete(claim.lease_id, outcome(f"k{start}", 1, 1), later(start + seconds))
    assert store.queue_position(a1, later(300)) is None
    estimate = store.estimate(c1, later(300), workers=1)
    assert (estimate.position, estimate.median_s, estimate.ready_in_s) == (1, 90.0, 90.0)


# --------------------------------------------------------------------------- cancelling


def test_a_learner_cancels_only_their_own_waiting_submission(tmp_path):
    store = make_store(tmp_path)
    mine = store.submit("alice", "fashion", "a.py", b"1", DAY)
    running = store.submit("bob", "fashion", "b.py", b"2", later(1))
    with pytest.raises(Refused) as caught:
        store.cancel(mine, now=later(2), by_learner="bob")
    assert caught.value.status == 404
    store.cancel(mine, now=later(2), by_learner="ALICE")
    assert status(store, mine) == "cancelled"
    claim = store.claim("w1", later(3))
    assert claim is not None and claim.submission_id == running  # the cancelled one is never claimed
    with pytest.raises(Refused) as caught:
        store.cancel(running, now=later(4), by_learner="bob")
    assert caught.value.status == 409 and "running" in caught.value.message
    with pytest.raises(Refused):
        store.cancel(mine, now=later(5), by_learner="alice")  # not twice
    assert store.events() == []  # a learner's cancel is not a host action


# --------------------------------------------------------------------------- the host's actions


def test_a_regrade_keeps_the_old_result_until_the_new_one_and_both_are_kept(tmp_path):
    store = make_store(tmp_path)
    first = graded(store, "alice", 20, 21, DAY)
    second = graded(store, "bob", 30, 31, later(100))
    queued = store.submit("carol", "fashion", "c.py", b"c", later(200))
    (job,) = store.regrade(first, now=later(300))
    assert rows(store, "SELECT regrade_of FROM jobs WHERE id = ?", job) == rows(
        store, "SELECT MIN(id) FROM jobs WHERE submission_id = ?", first
    )
    assert status(store, first) == "graded" and store.public_board("fashion")[1].score == 20
    with pytest.raises(Refused) as caught:
        store.regrade(first, now=later(301))  # already waiting
    assert caught.value.status == 409
    assert sorted(store.regrade("fashion", now=later(302))) == [job + 1]  # only bob's: carol's is queued, alice's waits
    claims = [store.claim("w1", later(400)), store.claim("w2", later(400)), store.claim("w3", later(400))]
    assert [c.submission_id for c in claims if c] == [queued, first, second]
    regrade = claims[1]
    assert regrade is not None and regrade.regrade
    assert store.complete(regrade.lease_id, outcome("alice-v2", 25, 26), later(500))
    assert rows(store, "SELECT public_score, private_score, grading_key FROM submissions WHERE id = ?", first) == [
        (25, 26, "alice-v2")
    ]
    assert rows(store, "SELECT grading_key FROM gradings WHERE submission_id = ? ORDER BY job_id", first) == [
        (f"key-{first}",),
        ("alice-v2",),
    ]
    assert [(e.action, e.target) for e in store.events()] == [
        ("regrade", f"submission {first}"),
        ("regrade", "challenge fashion"),
    ]


def test_a_regrade_after_an_infrastructure_failure_grades_it_again(tmp_path):
    store = make_store(tmp_path)
    submission = store.submit("alice", "fashion", "a.py", b"1", DAY)
    claim = store.claim("w1", later(1))
    assert claim is not None and store.fail(claim.lease_id, "data cache missing", later(2), infrastructure=True)
    assert status(store, submission) == "infrastructure"
    store.regrade(submission, now=later(3), priority=0)
    assert status(store, submission) == "queued"
    again = store.claim("w1", later(4))
    assert again is not None and again.submission_id == submission and again.regrade


def test_closing_early_stops_uploads_freezes_selections_and_reveals(tmp_path):
    store = make_store(tmp_path)
    submission = graded(store, "alice", 20, 21, DAY)
    with pytest.raises(Refused):
        store.final_standings("fashion", later(100))
    assert store.close_early("fashion", later(100)) == later(100)
    assert store.closes_at("fashion") == later(100) and store.closes_at("digits") == CLOSES
    with pytest.raises(Refused) as caught:
        store.submit("alice", "fashion", "a.py", b"2", later(101))
    assert caught.value.status == 403 and "closed at 2027-01-10 12:01 UTC" in caught.value.message
    store.submit("alice", "digits", "a.py", b"2", later(101))  # the other challenge is still open
    with pytest.raises(Refused) as caught:
        store.select("alice", submission, True, later(102))
    assert caught.value.status == 409 and "froze" in caught.value.message
    assert [row.score for row in store.final_standings("fashion", later(102))] == [21]
    assert [e.action for e in store.events()] == ["close early"]
    with pytest.raises(Refused):
        store.close_early("fashion", later(103))


# --------------------------------------------------------------------------- boards


def test_the_public_board_shows_each_learners_best_public_result_and_no_private_figure(tmp_path):
    store = make_store(tmp_path)
    graded(store, "alice", 40, 10, DAY, accuracy=(0.80, 0.10))
    graded(store, "alice", 60, 11, later(100), accuracy=(0.90, 0.11))
    graded(store, "bob", 60, 99, later(200), accuracy=(0.90, 0.99))  # equal public result, later
    graded(store, "carol", 50, 98, later(300), accuracy=(0.85, 0.98))
    board = store.public_board("fashion")
    assert [(r.rank, r.name, r.score, r.accuracy, r.tied, r.submissions) for r in board] == [
        (1, "Alice", 60, 0.90, True, 2),
        (2, "Bob", 60, 0.90, True, 1),
        (3, "Carol", 50, 0.85, False, 1),
    ]
    assert not {10, 11, 99, 98, 0.10, 0.11, 0.99, 0.98} & {v for r in board for v in vars(r).values()}
    assert store.public_board("digits") == ()


def test_an_anonymous_board_shows_stable_ids_that_name_no_one(tmp_path):
    store = make_store(tmp_path, board_names="anonymous")
    graded(store, "alice", 40, 10, DAY)
    graded(store, "bob", 30, 10, later(100))
    names = [row.name for row in store.public_board("fashion")]
    assert all(name.startswith("learner-") for name in names) and len(set(names)) == 2
    assert not any(word in name.lower() for name in names for word in LEARNERS)
    graded(store, "alice", 50, 10, later(200))
    assert [row.name for row in store.public_board("fashion")] == names


def test_final_standings_use_the_selected_submissions_or_the_best_public_ones(tmp_path):
    store = make_store(tmp_path)  # selections = 2
    a1 = graded(store, "alice", 60, 50, DAY)
    graded(store, "alice", 55, 51, later(100))
    a3 = graded(store, "alice", 10, 95, later(200))  # poor in public, lucky in private
    graded(store, "bob", 50, 70, later(300))
    graded(store, "carol", 50, 70, later(400))  # the same final result as bob, later
    with pytest.raises(Refused) as caught:
        store.final_standings("fashion", later(-1, CLOSES))
    assert caught.value.status == 403 and "revealed when it closes" in caught.value.message
    # Alice selected nothing: her two best public ones compete, not the lucky one.
    standings = store.final_standings("fashion", CLOSES)
    assert [(r.name, r.score, r.tied) for r in standings] == [
        ("Bob", 70, True),
        ("Carol", 70, True),
        ("Alice", 51, False),
    ]
    store_before = Store(store.path, store.host)
    store_before.select("alice", a3, True, later(500))
    store_before.select("alice", a1, True, later(501))
    assert [(r.name, r.score) for r in store.final_standings("fashion", CLOSES)][0] == ("Alice", 95)


def test_selections_are_own_graded_submissions_and_at_most_n(tmp_path):
    store = make_store(tmp_path, selections=1)
    mine = graded(store, "alice", 10, 10, DAY)
    other = graded(store, "alice", 20, 20, later(100))
    waiting = store.submit("alice", "fashion", "a.py", b"w", later(200))
    store.select("alice", mine, True, later(300))
    with pytest.raises(Refused) as caught:
        store.select("alice", other, True, later(301))
    assert caught.value.status == 409 and "unselect one first" in caught.value.message
    with pytest.raises(Refused) as caught:
        store.select("bob", mine, True, later(302))
    assert caught.value.status == 404
    with pytest.raises(Refused) as caught:
        store.select("alice", waiting, True, later(303))
    assert caught.value.status == 409 and "only a graded one" in caught.value.message
    store.select("alice", mine, False, later(304))
    store.select("alice", other, True, later(305))
    assert rows(store, "SELECT id FROM submissions WHERE selected = 1") == [(other,)]


def test_my_submissions_are_mine_only_and_private_figures_wait_for_the_reveal(tmp_path):
    store = make_store(tmp_path)
    mine = graded(store, "alice", 40, 41, DAY, accuracy=(0.8, 0.81))
    graded(store, "bob", 50, 51, later(100))
    waiting = store.submit("alice", "digits", "my model.py", b"w", later(200))
    views = store.my_submissions("alice", later(300))
    assert [(v.id, v.status, v.filename) for v in views] == [
        (waiting, "queued", "my_model.py"),
        (mine, "graded", "model.py"),
    ]
    assert (views[1].public_score, views[1].private_score, views[1].private_accuracy) == (40, None, None)
    assert views[1].result == {"checks": [], "score": 40}
    revealed = store.my_submissions("alice", CLOSES)
    assert (revealed[1].private_score, revealed[1].private_accuracy) == (41, 0.81)
    assert store.my_submissions("mallory", DAY) == []


# --------------------------------------------------------------------------- concurrency


def test_threads_submitting_and_claiming_at_once_record_everything_once(tmp_path):
    threads_n, each = 8, 10
    learners = tuple(f"learner{i}" for i in range(threads_n))
    store = make_store(tmp_path, learners=learners, daily_cap=each)
    submitted: list[int] = []
    claimed: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(threads_n)

    def work(index: int) -> None:
        try:
            start.wait()
            for n in range(each):
                now = later(index * 1000 + n * 10)
                submission = store.submit(learners[index], "fashion", "m.py", f"{index}-{n}".encode(), now)
                claim = store.claim(f"w{index}", now)
                with lock:
                    submitted.append(submission)
                    if claim is not None:
                        claimed.append(claim.job_id)
                if claim is not None:
                    assert store.complete(claim.lease_id, outcome(f"k{claim.job_id}", 1, 1), now)
        except BaseException as err:  # reported below, with the thread's traceback
            errors.append(err)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads_n)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert not errors, errors
    while (claim := store.claim("drain", later(10**6))) is not None:
        claimed.append(claim.job_id)
        assert store.complete(claim.lease_id, outcome(f"k{claim.job_id}", 1, 1), later(10**6))
    assert len(submitted) == len(set(submitted)) == threads_n * each
    assert len(claimed) == len(set(claimed)) == threads_n * each
    assert rows(store, "SELECT COUNT(*), COUNT(DISTINCT sha256) FROM submissions") == [(80, 80)]
    assert rows(store, "SELECT state, attempts, COUNT(*) FROM jobs GROUP BY state, attempts") == [("done", 1, 80)]
    assert rows(store, "SELECT COUNT(*) FROM gradings") == [(80,)]
