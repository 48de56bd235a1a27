"""A live challenge when things break: the server dies mid-grading, a grading worker dies twice, a
hostile file arrives. Each runs a real `grade serve` on 127.0.0.1 with the tiny profile.

- Server killed (SIGKILL) while grading, then started again: the grading runs once more and is
  recorded once (one submission, one job, one grading).
- Grading worker killed twice: the engine runs it once more after the first death; after the
  second the submission is "could not grade" and costs the learner nothing.
- Hostile uploads from tests/hostile/: contained as in `grade submit` (the same verdict and
  points), no marker anywhere, and the server lives on.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from grader.leaderboard.records import LeaderboardRun
from grader.pipeline import grade
from grader.serve.hostfile import load_host_file
from grader.serve.store import Store
from tests.grading import SUBMISSIONS
from tests.serving import (
    GRADE,
    grading_workers,
    learner_links,
    start_server,
    status,
    submit,
    token_of,
    wait_for,
    workers_while_grading,
    write_challenge,
)
from tests.test_hostile import HOSTILE, MARKER, PRELUDE

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="the service grades only in the sandbox (bubblewrap)"),
]


def finished(server, token: str, submission: int):
    answer = status(server, token, submission)
    return answer if answer["status"] in ("graded", "failed", "infrastructure", "cancelled") else None


def test_a_server_killed_mid_grading_grades_once_after_a_restart(tmp_path, data_dir):
    host_file = write_challenge(tmp_path / "host")
    server = start_server(host_file, data_dir)
    try:
        # The warm worker starts with the service, before any upload (so the first one does not wait for it).
        warm = wait_for(lambda: grading_workers(server), limit_s=60, what="the warm worker")
        token = token_of(learner_links(server)["ada"])
        submission = submit(server, token, SUBMISSIONS / "fashion_ok.py")
        workers = wait_for(lambda: workers_while_grading(server), limit_s=120, what="the grading to start")
        assert workers == warm  # the same process grades it
        server.kill()
        # The grading dies with the server (its worker is bound to its parent's life).
        wait_for(
            lambda: not any(Path(f"/proc/{pid}").exists() for pid in workers), limit_s=60, what="the worker to die"
        )
        with server.db() as db:
            assert db.execute("SELECT state FROM jobs").fetchall()[0][0] == "running"  # its lease was left behind
    finally:
        server.stop()

    again = start_server(host_file, data_dir)
    try:
        answer = wait_for(lambda: finished(again, token, submission), limit_s=300, what="the grading to finish")
        assert answer["status"] == "graded" and answer["result"]["verdict"] == "passed", answer
        with again.db() as db:
            assert db.execute("SELECT COUNT(*) FROM submissions").fetchone()[0] == 1
            jobs = db.execute("SELECT state, attempts FROM jobs").fetchall()
            assert [(row["state"], row["attempts"]) for row in jobs] == [("done", 2)]
            assert db.execute("SELECT COUNT(*) FROM gradings WHERE submission_id = ?", (submission,)).fetchone()[0] == 1
            reaped = db.execute("SELECT action FROM events WHERE actor = 'reaper'").fetchall()
            assert [row["action"] for row in reaped] == ["lease expired: requeued"]
    finally:
        again.stop()


def test_a_worker_killed_twice_is_could_not_grade_and_costs_no_quota(tmp_path, data_dir):
    host_file = write_challenge(tmp_path / "host", daily_cap=1)
    server = start_server(host_file, data_dir)
    try:
        token = token_of(learner_links(server)["ada"])
        submission = submit(server, token, SUBMISSIONS / "fashion_ok.py")
        killed = []
        for _ in range(2):
            pid = wait_for(
                lambda: [p for p in workers_while_grading(server) if p not in killed],
                limit_s=120,
                what="a grading worker",
            )[0]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        answer = wait_for(lambda: finished(server, token, submission), limit_s=120, what="the verdict")
        assert answer["status"] == "infrastructure" and answer["status_text"] == "could not grade", answer
        assert "does not count against your daily limit" in answer["reasons"][0]
        assert server.process.poll() is None  # the service lives on
        store = Store(server.state / "service.db", load_host_file(host_file))
        used, allowed = store.quota("ada", "fashion", store_now())
        assert (used, allowed) == (0, 1)
        # The daily cap of 1 still lets Ada upload: the failure was the service's.
        assert submit(server, token, SUBMISSIONS / "fashion_ok.py") > submission
    finally:
        server.stop()


def store_now():
    import datetime as dt

    return dt.datetime.now(dt.timezone.utc)


def test_the_ray_engine_grades_what_grade_submit_to_sends(tmp_path, data_dir):
    """`--engine ray`: the grading is a task on a (here, local) Ray cluster, recorded as on one
    machine; `grade submit FILE --to URL` uploads, follows it and prints the verdict."""
    pytest.importorskip("ray")
    host_file = write_challenge(tmp_path / "host")
    server = start_server(host_file, data_dir, lease_s=30, options=("--engine", "ray"))
    try:
        token = token_of(learner_links(server)["ada"])
        (tmp_path / "token").write_text(token)
        sent = subprocess.Popen(
            [*GRADE, "submit", str(SUBMISSIONS / "fashion_ok.py"), "--challenge", "fashion", "--to", server.url,
             "--token-file", str(tmp_path / "token"), "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        local_workers: set[int] = set()

        def done() -> bool:
            local_workers.update(grading_workers(server))  # a local engine's worker is the server's child
            return sent.poll() is not None

        wait_for(done, limit_s=300, what="grade submit --to", every_s=0.05)
        stdout, stderr = sent.communicate()
        assert sent.returncode == 0, stderr  # 0: passed
        answer = json.loads(stdout)
        assert answer["status"] == "graded" and answer["result"]["verdict"] == "passed", answer
        assert "uploaded to" in stderr and "graded" in stderr
        assert local_workers == set()  # the grading ran in a Ray worker, not beside the server
    finally:
        server.stop()
    assert "Traceback" not in server.log.read_text(errors="replace")


HOSTILE_CASES = ["kill_parent", "read_service_state"]


@pytest.fixture(scope="module")
def hostile_service(tmp_path_factory, data_dir):
    host_file = write_challenge(tmp_path_factory.mktemp("hostile-serve") / "host", daily_cap=10)
    server = start_server(host_file, data_dir)
    yield server, token_of(learner_links(server)["grace"])
    server.stop()


@pytest.mark.parametrize("case", HOSTILE_CASES)
def test_a_hostile_upload_is_contained_as_in_grade_submit(case, hostile_service, tmp_path, data_dir):
    server, token = hostile_service
    source = (SUBMISSIONS / "fashion_ok.py").read_text() + PRELUDE + (HOSTILE / f"{case}.py").read_text()
    path = tmp_path / "fashion.py"
    path.write_text(source)
    submission = submit(server, token, path)
    answer = wait_for(lambda: finished(server, token, submission), limit_s=300, what="the verdict")
    assert server.process.poll() is None and status(server, token, submission)["id"] == submission

    local = grade(
        path=path,
        spec_path=server.host_file.parent / "fashion.toml",
        profile="tiny",
        out_dir=tmp_path / "local",
        data_dir=data_dir,
        train=True,
        leaderboard=LeaderboardRun(learner="grace"),  # the public half of the test set, as the service grades
    )
    assert answer["status"] == "graded", answer
    served = answer["result"]
    assert served["verdict"] == local.verdict
    assert [(c["id"], c["points"]) for c in served["checks"]] == [(c.id, c.points) for c in local.checks]
    everything = json.dumps(answer) + "".join(
        p.read_text(errors="replace") for p in server.state.rglob("*") if p.is_file() and p.suffix in (".html", ".log")
    )
    assert MARKER not in everything
