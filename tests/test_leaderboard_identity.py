"""Who a learner is on a board: one ID however it is typed, the name as typed, what the public sees."""

from __future__ import annotations

import json
import sqlite3

import pytest

from grader.leaderboard import LeaderboardError
from grader.leaderboard.commands import publish, standings
from grader.leaderboard.db import open_db
from grader.leaderboard.identity import display_name, learner_key
from grader.leaderboard.records import LeaderboardRun, validate_record
from tests.leaderboard_records import make_record


@pytest.mark.parametrize("typed", ["Erin", "erin", "ERIN", " Erin ", "Ｅｒｉｎ"])
def test_every_spelling_of_a_learner_is_one_learner_and_keeps_its_own_display_name(typed):
    run = LeaderboardRun(learner=typed)
    assert run.learner == learner_key(typed) == "erin"
    assert (
        run.display_name == display_name(typed) == ("Erin" if typed.strip() in ("Erin", "Ｅｒｉｎ") else typed.strip())
    )


def test_an_id_that_is_still_unusable_after_normalising_is_refused():
    with pytest.raises(LeaderboardError, match="not usable"):
        LeaderboardRun(learner="=cmd()")


def _board(tmp_path, records):
    db_path = tmp_path / "board.sqlite"
    with open_db(db_path, create=True) as db:
        db.add([validate_record(r, "test") for r in records], origin="local")
    return db_path


def test_erin_and_erin_share_one_row_named_as_last_typed(tmp_path):
    first = make_record("Erin", public=(30.0, 0.90), submitted_at="2025-03-01T10:00:00.000000+00:00")
    second = make_record("erin", public=(40.0, 0.92), submitted_at="2025-03-02T10:00:00.000000+00:00")
    second["display_name"] = "erin"
    db_path = _board(tmp_path, [first, second])
    (board,) = standings(db_path=db_path, final=False)
    (row,) = board.standings
    assert (row.learner, row.display_name, row.submissions, row.score) == ("erin", "erin", 2, 40.0)


def test_the_public_site_cuts_e_mail_addresses_anonymises_on_request_and_leaves_out_learners_without_points(tmp_path):
    db_path = _board(
        tmp_path,
        [
            make_record("Dan.Lee@uni.edu", public=(40.0, 0.93)),
            make_record("ann", public=(30.0, 0.90)),
            make_record("zed", public=(0.0, 0.10), verdict="failed"),  # a skeleton: graded, no points
        ],
    )

    def published(**options):
        out = tmp_path / f"site-{len(list(tmp_path.iterdir()))}"
        publish(db_path=db_path, out=out, final=False, **options)
        document = json.loads((out / "leaderboard.json").read_text())
        text = "".join(p.read_text() for p in out.rglob("*") if p.is_file())
        return [s["learner"] for s in document["boards"][0]["standings"]], text

    names, text = published()
    assert names == ["Dan.Lee@…", "ann"] and "uni.edu" not in text and "zed" not in text
    names, text = published(show_emails=True)
    assert names == ["Dan.Lee@uni.edu", "ann"]
    names, text = published(names="anonymous")
    assert all(n.startswith("learner-") and len(n) == 14 for n in names) and len(set(names)) == 2
    assert "Dan" not in text and "ann" not in names
    assert published(names="anonymous")[0] == names  # the same labels every time it is published


def test_a_record_signed_before_display_names_were_kept_reads_as_its_learner(tmp_path):
    old = make_record("Erin")
    del old["display_name"]
    clean = validate_record(old, "an older signed record")
    assert (clean["learner"], clean["display_name"]) == ("erin", "Erin")


def test_a_version_3_file_is_read_as_it_is_and_gains_display_names_on_the_first_write(tmp_path):
    db_path = _board(tmp_path, [make_record("ann")])
    connection = sqlite3.connect(db_path)  # as version 3 left it: no display_name column
    connection.execute("ALTER TABLE submissions DROP COLUMN display_name")
    connection.execute("UPDATE schema_version SET version = 3")
    connection.commit()
    connection.close()
    (board,) = standings(db_path=db_path, final=False)
    assert board.standings[0].display_name == "ann"  # read as it is: the learner's ID is the name
    with open_db(db_path, create=False) as db:
        db.add(
            [validate_record(make_record("Bo", submitted_at="2025-03-05T10:00:00.000000+00:00"), "t")], origin="local"
        )
        assert db._query("v", "SELECT version FROM schema_version")[0][0] == 4
    names = {s.learner: s.display_name for s in standings(db_path=db_path, final=False)[0].standings}
    assert names == {"ann": "ann", "bo": "Bo"}
