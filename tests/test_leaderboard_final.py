"""Final standings as on Kaggle: the private score of the selected submissions, or of the best public ones."""

from __future__ import annotations

import sqlite3

import pytest
from click.testing import CliRunner

from grader.cli import main as cli
from grader.leaderboard.commands import select, standings
from grader.leaderboard.db import SCHEMA_VERSION, open_db
from grader.leaderboard.errors import LeaderboardError
from grader.leaderboard.ranking import rank
from tests.leaderboard_records import make_record

T = [f"2025-03-01T0{h}:00:00.000000+00:00" for h in range(1, 10)]


def alice_and_bob():
    # Alice submits often: her fourth submission is lucky on the private half but poor on the public one.
    alice = [
        make_record("alice", public=(40, 0.90), private=(40, 0.89), submitted_at=T[0]),
        make_record("alice", public=(40, 0.91), private=(40, 0.88), submitted_at=T[1]),
        make_record("alice", public=(40, 0.89), private=(40, 0.87), submitted_at=T[2]),
        make_record("alice", public=(40, 0.86), private=(40, 0.95), submitted_at=T[3]),
    ]
    bob = [make_record("bob", public=(40, 0.90), private=(40, 0.90), submitted_at=T[4])]
    return alice, bob


def test_by_default_the_best_public_submissions_compete_not_every_draw():
    alice, bob = alice_and_bob()
    final = {s.learner: s for s in rank(alice + bob, final=True)}
    # Her two best public ones (0.91, 0.90) count: their best private is 0.89, not the lucky 0.95.
    assert final["alice"].accuracy == 0.89 and final["alice"].submission_id == alice[0]["submission_id"]
    assert [s.learner for s in rank(alice + bob, final=True)] == ["bob", "alice"]
    # The public board is unchanged: every submission's public figure counts there.
    assert rank(alice + bob, final=False)[0].learner == "alice"


def test_a_selected_submission_counts_and_the_others_do_not():
    alice, bob = alice_and_bob()
    lucky = alice[3]["submission_id"]
    final = {s.learner: s for s in rank(alice + bob, final=True, selected={lucky})}
    assert final["alice"].accuracy == 0.95 and final["alice"].submission_id == lucky


def test_select_in_the_database_replaces_checks_and_upgrades_a_version_1_file(tmp_path):
    db_path = tmp_path / "board.sqlite"
    alice, bob = alice_and_bob()
    with open_db(db_path, create=True) as db:
        db.add(alice + bob, origin="local")
    # A file made by the previous grader: version 1, no selections table. It still reads.
    connection = sqlite3.connect(db_path)
    connection.execute("DROP TABLE selections")
    connection.execute("UPDATE schema_version SET version = 1")
    connection.commit()
    connection.close()
    assert standings(db_path=db_path, final=True)[0].standings[0].learner == "bob"

    ids = [r["submission_id"] for r in alice]
    assert select(db_path=db_path, learner="alice", submission_ids=[ids[3]]) == {
        "challenge": "fashion",
        "profile": "quick",
    }
    with open_db(db_path, create=False) as db:
        assert db.selections() == {ids[3]}
        assert db._query("version", "SELECT version FROM schema_version")[0][0] == SCHEMA_VERSION
    assert standings(db_path=db_path, final=True)[0].standings[0].learner == "alice"
    select(db_path=db_path, learner="alice", submission_ids=[ids[0], ids[1]])  # replaces the earlier choice
    with open_db(db_path, create=False) as db:
        assert db.selections() == {ids[0], ids[1]}

    for learner, chosen, message in [
        ("alice", ids[:3], "at most 2 submissions"),
        ("bob", [ids[0]], "is not bob's"),
        ("alice", ["no-such-id"], "no submission no-such-id"),
    ]:
        with pytest.raises(LeaderboardError, match=message):
            select(db_path=db_path, learner=learner, submission_ids=chosen)
    with open_db(db_path, create=False) as db:  # nothing changed by the refused ones
        assert db.selections() == {ids[0], ids[1]}


def test_cli_select(tmp_path):
    db_path = tmp_path / "board.sqlite"
    alice, _ = alice_and_bob()
    with open_db(db_path, create=True) as db:
        db.add(alice, origin="local")
    result = CliRunner().invoke(
        cli, ["leaderboard", "select", "alice", alice[3]["submission_id"], "--db", str(db_path)]
    )
    assert result.exit_code == 0, result.output
    assert "alice's final submissions for fashion (quick)" in result.output
    refused = CliRunner().invoke(cli, ["leaderboard", "select", "bob", alice[0]["submission_id"], "--db", str(db_path)])
    assert refused.exit_code != 0 and "is not bob's" in refused.output
