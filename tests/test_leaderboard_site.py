"""`grade leaderboard publish`: the static site shows the database's ranking (read back from the DOM that
headless Chromium renders), the private half appears only with --final, and a refused or failed publish
leaves the output folder as it was."""

from __future__ import annotations

import csv
import json
import shutil
import sqlite3
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import main
from grader.leaderboard.db import open_db
from grader.leaderboard.records import validate_record
from tests.leaderboard_records import make_record, tree_snapshot

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Private accuracies end in 7: none of them equals a public one, so any appearance is a leak.
SUBMISSIONS = [
    # learner, challenge, profile, (public points, accuracy), (private points, accuracy), submitted at (UTC)
    ("alice", "fashion", "quick", (40, 0.9310), (40, 0.8417), "2025-03-01T09:00:00"),  # tuned to the public half
    ("alice", "fashion", "quick", (40, 0.9120), (40, 0.9017), "2025-03-01T12:00:00"),
    ("bob", "fashion", "quick", (40, 0.9250), (40, 0.9227), "2025-03-01T10:00:00"),
    ("carol", "fashion", "quick", (40, 0.9250), (40, 0.9127), "2025-03-01T11:00:00"),  # ties bob, later
    ("dan.lee+x@uni.edu", "fashion", "quick", (30, 0.9400), (30, 0.9307), "2025-03-02T08:00:00"),
    ("erin", "fashion", "quick", (0, None), (0, None), "2025-03-02T09:00:00"),  # not graded: never ranks
    ("frank", "fashion", "full", (50, 0.9510), (50, 0.9487), "2025-03-03T08:00:00"),
    ("gina", "cnn", "quick", (35, 0.9850), (35, 0.9877), "2025-03-01T08:00:00"),
    ("hugo", "cnn", "quick", (35, 0.9870), (35, 0.9837), "2025-03-01T09:30:00"),
]
PRIVATE_VALUES = [f"{s[4][1]:.4f}" for s in SUBMISSIONS if s[4][1] is not None]


@pytest.fixture(scope="module")
def db_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("board") / "leaderboard.sqlite"
    records = []
    for learner, challenge, profile, public, private, when in SUBMISSIONS:
        graded = public[1] is not None
        records.append(
            validate_record(
                make_record(
                    learner,
                    challenge=challenge,
                    profile=profile,
                    public=public,
                    private=private,
                    submitted_at=when + "+00:00",
                    verdict="passed" if graded else "not_graded",
                    error=None if graded else "no data",
                ),
                "test",
            )
        )
    with open_db(path, create=True) as db:
        db.add(records, origin="local")
    return path


def expected_ranking(db_path: Path, *, final: bool) -> dict[tuple[str, str], list[tuple]]:
    """The ranking worked out straight from the table, independently of grader.leaderboard.ranking."""
    half = "private" if final else "public"
    connection = sqlite3.connect(db_path)
    rows = connection.execute(
        f"SELECT challenge, profile, learner, {half}_score, {half}_accuracy, submitted_at "
        f"FROM submissions WHERE verdict != 'not_graded'"
    ).fetchall()
    connection.close()
    best: dict[tuple[str, str, str], tuple] = {}
    for challenge, profile, learner, score, accuracy, when in rows:
        candidate = (-score, -accuracy, when)
        key = (challenge, profile, learner)
        if key not in best or candidate < best[key][0]:
            best[key] = (candidate, score, accuracy)
    boards: dict[tuple[str, str], list] = {}
    for (challenge, profile, learner), (_order, score, accuracy) in sorted(best.items(), key=lambda kv: kv[1][0]):
        boards.setdefault((challenge, profile), []).append((learner, score, accuracy))
    # Published, an e-mail address shows only its user part (grader/leaderboard/identity.py).
    return {
        board: [
            (rank, learner.split("@")[0] + "@…" if "@" in learner else learner, f"{score:g} / 50", f"{accuracy:.4f}")
            for rank, (learner, score, accuracy) in enumerate(entries, start=1)
        ]
        for board, entries in boards.items()
    }


class TableReader(HTMLParser):
    """Rows of every table.leaderboard in a DOM, keyed by (challenge, profile): the text of each cell by class."""

    def __init__(self):
        super().__init__()
        self.tables: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.current, self.row, self.cell = None, None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and "leaderboard" in attrs.get("class", ""):
            self.current = (attrs["data-challenge"], attrs["data-profile"])
            self.tables[self.current] = []
        elif tag == "tr" and self.current is not None:
            self.row = {}
        elif tag == "td" and self.row is not None:
            self.cell = attrs.get("class", "")
            self.row[self.cell] = ""

    def handle_data(self, data):
        if self.cell is not None:
            self.row[self.cell] += data

    def handle_endtag(self, tag):
        if tag == "td":
            self.cell = None
        elif tag == "tr" and self.row:
            self.tables[self.current].append(self.row)
            self.row = None
        elif tag == "table":
            self.current = None


def rendered_dom(page: Path, profile_dir: Path) -> str:
    done = subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile_dir}", "--dump-dom", page.resolve().as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def shown_ranking(site: Path, tmp_path: Path) -> dict[tuple[str, str], list[tuple]]:
    shown = {}
    for page in sorted(site.glob("*/index.html")):
        reader = TableReader()
        reader.feed(rendered_dom(page, tmp_path / "chromium-profile"))
        for board, rows in reader.tables.items():
            assert board[0] == page.parent.name
            shown[board] = [
                (int(r["rank"]), r["learner"].strip(), r["score"].strip(), r["accuracy"].strip()) for r in rows
            ]
    return shown


def publish(db_path: Path, out: Path, *extra: str):
    return CliRunner().invoke(main, ["leaderboard", "publish", "--db", str(db_path), "--out", str(out), *extra])


def site_text(site: Path) -> str:
    return "\n".join(p.read_text() for p in sorted(site.rglob("*")) if p.is_file())


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed")
@pytest.mark.parametrize("final", [False, True], ids=["public", "final"])
def test_the_published_page_shows_the_database_ranking_in_chromium(db_path, tmp_path, final):
    site = tmp_path / "site"
    result = publish(db_path, site, *(["--final"] if final else []))
    assert result.exit_code == 0, result.output
    expected = expected_ranking(db_path, final=final)
    assert shown_ranking(site, tmp_path) == expected
    # Sanity of the data itself: the two halves really do rank differently here.
    other = expected_ranking(db_path, final=not final)
    assert [r[1] for r in expected[("fashion", "quick")]] != [r[1] for r in other[("fashion", "quick")]]
    # The index page links every challenge.
    reader_dom = rendered_dom(site / "index.html", tmp_path / "chromium-profile")
    assert 'href="fashion/index.html"' in reader_dom and 'href="cnn/index.html"' in reader_dom


def test_json_and_csv_hold_the_same_ranking(db_path, tmp_path):
    site = tmp_path / "site"
    assert publish(db_path, site).exit_code == 0
    expected = expected_ranking(db_path, final=False)
    document = json.loads((site / "leaderboard.json").read_text())
    assert document["half"] == "public" and document["final"] is False
    from_json = {
        (b["challenge"], b["profile"]): [
            (s["rank"], s["learner"], f"{s['score']:g} / {s['max_score']:g}", f"{s['accuracy']:.4f}")
            for s in b["standings"]
        ]
        for b in document["boards"]
    }
    assert from_json == expected
    with (site / "fashion" / "leaderboard.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    from_csv = {}
    for row in rows:
        from_csv.setdefault((row["challenge"], row["profile"]), []).append(
            (
                int(row["rank"]),
                row["learner"],
                f"{float(row['score']):g} / {float(row['max_score']):g}",
                f"{float(row['accuracy']):.4f}",
            )
        )
    assert from_csv == {board: rows for board, rows in expected.items() if board[0] == "fashion"}


def test_the_private_half_never_appears_before_final(db_path, tmp_path):
    public_site, final_site = tmp_path / "public", tmp_path / "final"
    assert publish(db_path, public_site).exit_code == 0
    shown = CliRunner().invoke(main, ["leaderboard", "show", "--db", str(db_path)])
    assert shown.exit_code == 0 and "public half" in shown.output
    for text in (site_text(public_site), shown.output):
        assert "private_accuracy" not in text and "private_score" not in text
        assert [value for value in PRIVATE_VALUES if value in text] == []
        assert "0.9310" in text or "0.931" in text  # public figures are there
    assert publish(db_path, final_site, "--final").exit_code == 0
    final_text = site_text(final_site)
    final_values = [accuracy for rows in expected_ranking(db_path, final=True).values() for *_, accuracy in rows]
    assert len(final_values) == 7 and all(value in final_text for value in final_values)
    final_shown = CliRunner().invoke(
        main, ["leaderboard", "show", "--db", str(db_path), "--final", "--challenge", "cnn"]
    )
    assert "0.9877" in final_shown.output and "fashion" not in final_shown.output


def test_publishing_replaces_its_own_site_and_refuses_foreign_folders(db_path, tmp_path):
    site = tmp_path / "site"
    assert publish(db_path, site).exit_code == 0
    (site / "fashion" / "stale.html").write_text("from an older publish")
    assert publish(db_path, site, "--final").exit_code == 0  # a previous site is replaced as a whole
    assert not (site / "fashion" / "stale.html").exists()
    assert json.loads((site / "leaderboard.json").read_text())["final"] is True

    foreign = tmp_path / "www"
    foreign.mkdir()
    (foreign / "CNAME").write_text("board.example.org")
    before = tree_snapshot(foreign)
    result = publish(db_path, foreign)
    assert result.exit_code == 2 and "holds files that `grade leaderboard publish` did not write" in result.output
    assert tree_snapshot(foreign) == before

    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    assert "is a file" in publish(db_path, a_file).output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt", "site", "www"]  # no staging left behind


def test_a_failure_while_writing_leaves_the_previous_site_as_it_was(db_path, tmp_path, monkeypatch):
    site = tmp_path / "site"
    assert publish(db_path, site).exit_code == 0
    before = tree_snapshot(site)
    from grader.leaderboard import site as site_module

    real_write = site_module._write_data

    def disk_full_on_the_second_challenge(folder, boards, **kwargs):
        real_write(folder, boards, **kwargs)
        if folder.name == "fashion":
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(site_module, "_write_data", disk_full_on_the_second_challenge)
    result = publish(db_path, site, "--final")
    assert result.exit_code == 2
    assert "cannot write the site" in result.output and "No space left on device" in result.output
    assert "was left as it was" in result.output
    assert tree_snapshot(site) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]
