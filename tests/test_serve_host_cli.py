"""The host's commands on a live challenge (`grade host ...`), on the service's database, without
a server: links that sign in, the queue, quota extensions, regrades, closing early, the gradebook."""

from __future__ import annotations

import csv
import datetime as dt

from click.testing import CliRunner

from grader.cli import main as cli
from grader.serve.hostfile import load_host_file
from grader.serve.queue import Outcome
from grader.serve.service import default_state_dir
from grader.serve.store import Store
from tests.serving import write_challenge

NOW = dt.datetime.now(dt.timezone.utc)


def store_of(host_file) -> Store:
    return Store(default_state_dir(host_file) / "service.db", load_host_file(host_file))


def host(*args):
    return CliRunner().invoke(cli, ["host", *map(str, args)])


def graded(store: Store, learner: str, public: float, private: float) -> int:
    submission = store.submit(learner, "fashion", "fashion.py", b"print('hi')\n", NOW)
    claim = store.claim("test-worker", NOW)
    assert claim is not None and claim.submission_id == submission
    outcome = Outcome(
        grading_key=f"key-{submission}", verdict="passed", max_score=100.0, public_score=public, private_score=private
    )
    assert store.complete(claim.lease_id, outcome, NOW)
    return submission


def test_links_sign_in_and_a_new_link_ends_the_old_one(tmp_path):
    host_file = write_challenge(tmp_path)
    made = host("links", host_file, "--url", "https://cnn.example.org")
    assert made.exit_code == 0, made.output
    lines = dict(line.split("\t")[0::2] for line in made.output.splitlines())
    assert set(lines) == {"ada", "alan", "grace"}
    assert all(link.startswith("https://cnn.example.org/join/") for link in lines.values())
    store = store_of(host_file)
    first = lines["ada"].rsplit("/", 1)[1]
    assert store.learner_for_token(first) == "ada"
    again = host("links", host_file, "--learner", "ada", "--out", tmp_path / "links.csv")
    assert again.exit_code == 0 and "1 links written" in again.output
    assert (tmp_path / "links.csv").stat().st_mode & 0o077 == 0  # the links are secrets: owner only
    with open(tmp_path / "links.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["learner"] for row in rows] == ["ada"]
    assert store.learner_for_token(first) is None and store.learner_for_token(rows[0]["token"]) == "ada"
    unknown = host("links", host_file, "--learner", "nobody")
    assert unknown.exit_code != 0 and "not on the roster: nobody" in unknown.output


def test_extend_regrade_queue_close_and_export(tmp_path):
    host_file = write_challenge(tmp_path, daily_cap=1)
    host("links", host_file)  # opens the store, the roster loaded
    store = store_of(host_file)
    first = graded(store, "ada", public=80, private=70)
    graded(store, "alan", public=75, private=78)

    extended = host("extend", host_file, "ada", "2")
    assert extended.exit_code == 0 and "ada has 2 extra submissions today" in extended.output
    assert store.quota("ada", "fashion", NOW) == (1, 3)

    regraded = host("regrade", host_file, str(first))
    assert regraded.exit_code == 0 and "1 gradings queued" in regraded.output
    queue = host("queue", host_file)
    assert queue.exit_code == 0 and "queued: 1" in queue.output and f"submission={first}" in queue.output
    assert any(event.action == "regrade" for event in store.events())

    early = host("export", host_file, "--out", tmp_path / "gradebook.csv")
    assert early.exit_code != 0 and "fashion" in early.output  # no final standings before the deadline

    closed = host("close", host_file, "fashion")
    assert closed.exit_code == 0 and "fashion closed at" in closed.output
    exported = host("export", host_file, "--out", tmp_path / "gradebook.csv")
    assert exported.exit_code == 0, exported.output
    with open(tmp_path / "gradebook.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    # The private half decides: Alan (78) before Ada (70), although Ada led the public board.
    assert [(row["rank"], row["learner"], float(row["score"])) for row in rows] == [
        ("1", "Alan Turing", 78.0),
        ("2", "Ada Lovelace", 70.0),
    ]
    published = host("publish", host_file, "--out", tmp_path / "site")
    assert published.exit_code == 0, published.output
    page = (tmp_path / "site" / "fashion" / "index.html").read_text()
    assert page.index("Alan Turing") < page.index("Ada Lovelace")


def test_a_bad_host_file_is_a_clear_message(tmp_path):
    host_file = write_challenge(tmp_path)
    host_file.write_text(host_file.read_text().replace("closes = 2099-01-01T00:00:00Z", "closes = 2099-01-01T00:00:00"))
    answer = host("queue", host_file)
    assert answer.exit_code != 0
    assert "closes" in answer.output and "time zone" in answer.output
    assert not default_state_dir(host_file).exists()  # nothing was made
