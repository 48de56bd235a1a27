"""Fast unit tests of the leaderboard's pure parts: ranking, tie-breaks, the daily cap, the public/private
split, and record validation. No database, no training."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from grader.leaderboard import LeaderboardError
from grader.leaderboard.ranking import boards, daily_cap_problem, rank
from grader.leaderboard.records import LeaderboardRun, check_learner_id, validate_record
from grader.leaderboard.split import public_test_mask
from tests.leaderboard_records import make_record

T0 = "2025-03-01T10:00:00.000000+00:00"
T1 = "2025-03-01T11:00:00.000000+00:00"
T2 = "2025-03-02T09:00:00.000000+00:00"


def learners(standings):
    return [s.learner for s in standings]


def test_each_learner_ranks_by_their_best_submission():
    records = [
        make_record("alice", public=(30, 0.80), submitted_at=T0),
        make_record("alice", public=(40, 0.85), submitted_at=T1),  # alice's best: more points
        make_record("bob", public=(40, 0.91), submitted_at=T0),
        make_record("bob", public=(40, 0.87), submitted_at=T2),
        make_record("carol", public=(45, 0.70), submitted_at=T2),  # points come before accuracy
    ]
    standings = rank(records, final=False)
    assert learners(standings) == ["carol", "bob", "alice"]
    assert [s.rank for s in standings] == [1, 2, 3]
    bob = standings[1]
    assert (bob.score, bob.accuracy, bob.submitted_at, bob.submissions) == (40, 0.91, T0, 2)
    assert (standings[2].score, standings[2].accuracy) == (40, 0.85)


def test_equal_results_are_ordered_by_the_earlier_submission():
    records = [
        make_record("late", public=(40, 0.9), submitted_at=T1),
        make_record("early", public=(40, 0.9), submitted_at=T0),
        make_record("middle", public=(40, 0.9), submitted_at="2025-03-01T10:30:00.000000+00:00"),
    ]
    assert learners(rank(records, final=False)) == ["early", "middle", "late"]
    # A learner's own best is also the earlier of two equal submissions.
    own = [
        make_record("dora", public=(40, 0.9), submitted_at=T1),
        make_record("dora", public=(40, 0.9), submitted_at=T0),
    ]
    assert rank(own, final=False)[0].submitted_at == T0


def test_public_and_private_boards_rank_on_their_own_half():
    # alice tuned against the public board: best there, worse on the hidden half.
    records = [
        make_record("alice", public=(40, 0.95), private=(40, 0.84), submitted_at=T0),
        make_record("bob", public=(40, 0.90), private=(40, 0.91), submitted_at=T1),
        make_record("bob", public=(40, 0.88), private=(40, 0.93), submitted_at=T2),
    ]
    public, private = rank(records, final=False), rank(records, final=True)
    assert learners(public) == ["alice", "bob"] and learners(private) == ["bob", "alice"]
    assert [s.accuracy for s in public] == [0.95, 0.90]  # bob's public best is his first submission
    assert [s.accuracy for s in private] == [0.93, 0.84]  # on the private half his second one is better
    assert public[1].submitted_at == T1 and private[0].submitted_at == T2


def test_ungraded_submissions_never_rank_and_boards_are_per_challenge_and_profile():
    records = [
        make_record("alice", verdict="not_graded", public=(0, None), private=(0, None), error="no data"),
        make_record("bob", public=(10, None), private=(10, None), verdict="failed"),  # no accuracy: ranks last
        make_record("carol", public=(10, 0.2), verdict="failed"),
        make_record("dave", profile="full"),
        make_record("erin", challenge="cnn"),
    ]
    found = {(b.challenge, b.profile): learners(b.standings) for b in boards(records, final=False)}
    assert found == {("cnn", "quick"): ["erin"], ("fashion", "full"): ["dave"], ("fashion", "quick"): ["carol", "bob"]}
    assert [b.challenge for b in boards(records, final=False, challenge="cnn")] == ["cnn"]


NOON = dt.datetime(2025, 3, 1, 12, 30, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize(
    "used, cap, refused", [(0, None, False), (99, None, False), (2, 3, False), (3, 3, True), (4, 3, True), (1, 1, True)]
)
def test_daily_cap(used, cap, refused):
    problem = daily_cap_problem(used=used, cap=cap, learner="alice", challenge="fashion", now=NOON)
    assert (problem is not None) == refused
    if refused:
        assert f"alice has made {used} graded submission" in problem and f"limit is {cap} per day" in problem
        assert "2025-03-02 00:00 UTC (in 11 h 30 min)" in problem


@pytest.mark.parametrize("challenge", ["fashion", "cnn", "cats_dogs"])
def test_the_split_is_deterministic_stratified_and_per_challenge(challenge):
    labels = np.repeat(np.arange(10), [101, 99, 100, 100, 100, 100, 100, 100, 100, 100])
    np.random.default_rng(0).shuffle(labels)
    mask = public_test_mask(labels, challenge)
    assert np.array_equal(mask, public_test_mask(labels.copy(), challenge))  # the same every time
    for value in range(10):
        members = int((labels == value).sum())
        assert int(mask[labels == value].sum()) == (members + 1) // 2  # each class halved
    others = {name: public_test_mask(labels, name) for name in ("fashion", "cnn", "cats_dogs")}
    assert all(not np.array_equal(mask, other) for name, other in others.items() if name != challenge)
    # Not simply the first half of each class: the public half is spread over the whole range.
    positions = np.flatnonzero(mask)
    assert positions.min() < 50 and positions.max() > len(labels) - 50


def test_records_are_validated_field_by_field():
    good = make_record()
    assert validate_record(good, "x")["submitted_at"] == good["submitted_at"]
    # Another time zone is normalised to UTC, so timestamps sort as text.
    shifted = validate_record(make_record(submitted_at="2025-03-01T12:00:00+02:00"), "x")
    assert shifted["submitted_at"] == T0
    bad = make_record(public_accuracy=1.5, learner="=HYPERLINK(1)", verdict="great", extra=1)
    del bad["seed"]
    with pytest.raises(LeaderboardError) as caught:
        validate_record(bad, "sent.json")
    message = str(caught.value)
    for expected in (
        "sent.json",
        "missing field 'seed'",
        "unknown field 'extra'",
        "'public_accuracy' must be between",
        "'learner' must match",
        "'verdict' must be one of",
    ):
        assert expected in message


@pytest.mark.parametrize("learner", ["", "-rm", "=cmd()", "a b", "x" * 65, "<script>"])
def test_unusable_learner_ids_are_refused(learner):
    with pytest.raises(LeaderboardError, match="learner ID"):
        check_learner_id(learner)
    with pytest.raises(LeaderboardError):
        LeaderboardRun(learner)
    assert check_learner_id("s1234567") == "s1234567" and check_learner_id("ana.lee+cnn@uni.edu")
