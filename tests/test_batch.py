"""grade batch: discovery, planning, recording once, resume, and a real local Ray cluster.

The fast tests use no training. The slow ones grade real submissions on a tiny profile: one
batch interrupted (SIGINT) and resumed on this machine, and one on a local Ray cluster with
2 CPUs whose worker is killed mid-grading.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from grader import config
from grader.batch.engines import core_slots
from grader.batch.gradebook import Row, write_gradebook
from grader.batch.inputs import BatchInputError, discover
from grader.batch.jobs import grading_key
from grader.batch.run import BatchError, grade_batch, plan
from grader.describe.sandbox import isolation as iso
from grader.leaderboard import LeaderboardError
from grader.leaderboard.db import SCHEMA_VERSION, open_db
from grader.spec import challenge_names
from tests import procfs
from tests.grading import SUBMISSIONS, tiny_spec
from tests.leaderboard_records import make_record

CHALLENGES = challenge_names()
OK = (SUBMISSIONS / "fashion_ok.py").read_text()
HOSTILE = Path(__file__).parent / "hostile"
needs_sandbox = pytest.mark.skipif(not iso.choose().isolated, reason="leaderboard gradings need a sandbox")


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


# --------------------------------------------------------------------------- discovery


def test_a_folder_of_learners_finds_each_challenge_file_and_says_what_it_skipped(tmp_path):
    write(tmp_path / "alice" / "fashion.py", OK)
    write(tmp_path / "alice" / "cnn.ipynb", "{}")
    write(tmp_path / "alice" / "notes.txt", "")
    write(tmp_path / "bob" / "fashion.py", OK)
    write(tmp_path / "bob" / "fashion.ipynb", "{}")  # which one is meant? not ours to guess
    write(tmp_path / "=cmd()" / "fashion.py", OK)  # not a usable learner ID
    write(tmp_path / "carol" / "homework.py", OK)
    (tmp_path / "mallory").symlink_to(tmp_path / "alice")
    found = discover(tmp_path, challenge=None, challenges=CHALLENGES)
    assert [(s.learner, s.path.name, s.challenge) for s in found.submissions] == [
        ("alice", "cnn.ipynb", "cnn"),
        ("alice", "fashion.py", "fashion"),
    ]
    reasons = dict(found.skipped)
    assert "keep one" in reasons[str(tmp_path / "bob")]
    assert "learner ID '=cmd()' is not usable" in reasons[str(tmp_path / "=cmd()")]
    assert "no file named after a challenge" in reasons[str(tmp_path / "carol")]
    assert "symbolic link" in reasons[str(tmp_path / "mallory")]

    # With --challenge, a learner's only Python file counts, whatever its name.
    found = discover(tmp_path, challenge="fashion", challenges=CHALLENGES)
    assert {(s.learner, s.path.name) for s in found.submissions} == {("alice", "fashion.py"), ("carol", "homework.py")}


def test_one_file_per_learner_needs_the_challenge(tmp_path):
    write(tmp_path / "alice.py", OK)
    write(tmp_path / "bob.ipynb", "{}")
    with pytest.raises(BatchInputError, match="needs --challenge NAME"):
        discover(tmp_path, challenge=None, challenges=CHALLENGES)
    found = discover(tmp_path, challenge="fashion", challenges=CHALLENGES)
    assert [(s.learner, s.challenge) for s in found.submissions] == [("alice", "fashion"), ("bob", "fashion")]


def test_a_list_file_reports_every_bad_row(tmp_path):
    write(tmp_path / "work" / "a.py", OK)
    write(
        tmp_path / "list.csv",
        "learner,path,challenge\nalice,work/a.py,fashion\n,work/a.py,\nbob,,\ncarol,/abs/c.py,cnn\n",
    )
    found = discover(tmp_path / "list.csv", challenge=None, challenges=CHALLENGES)
    assert [(s.learner, s.path, s.challenge) for s in found.submissions] == [
        ("alice", tmp_path / "work" / "a.py", "fashion"),
        ("carol", Path("/abs/c.py"), "cnn"),
    ]
    assert [why for _, why in found.skipped][1] == "no path"
    assert found.skipped[0][0].endswith("list.csv, line 3")
    write(tmp_path / "bad.csv", "name,file\nalice,a.py\n")
    with pytest.raises(BatchInputError, match="must name the columns learner,path"):
        discover(tmp_path / "bad.csv", challenge=None, challenges=CHALLENGES)
    with pytest.raises(BatchInputError, match="not a CSV list"):
        discover(tmp_path / "work" / "a.py", challenge=None, challenges=CHALLENGES)
    with pytest.raises(BatchInputError, match="no such file or folder"):
        discover(tmp_path / "nothing", challenge=None, challenges=CHALLENGES)


def test_an_nbgrader_course_reads_submitted_learner_assignment(tmp_path):
    write(tmp_path / "course" / "submitted" / "alice" / "fashion" / "fashion.ipynb", "{}")
    write(tmp_path / "course" / "submitted" / "alice" / "cnn" / "cnn.ipynb", "{}")
    write(tmp_path / "course" / "submitted" / "bob" / "fashion" / "fashion.ipynb", "{}")
    write(tmp_path / "course" / "source" / "fashion" / "fashion.ipynb", "{}")  # the course's own: not a learner
    found = discover(tmp_path / "course", challenge=None, challenges=CHALLENGES)
    assert found.layout == "an nbgrader course"
    assert [(s.learner, s.challenge) for s in found.submissions] == [
        ("alice", "cnn"),
        ("alice", "fashion"),
        ("bob", "fashion"),
    ]
    only = discover(tmp_path / "course" / "submitted", challenge="fashion", challenges=CHALLENGES)
    assert [s.learner for s in only.submissions] == ["alice", "bob"]


# --------------------------------------------------------------------------- planning, keys, records


def test_plan_refuses_what_grade_submit_would_refuse_and_grades_a_copy_once(tmp_path):
    alice = write(tmp_path / "in" / "alice" / "fashion.py", OK)
    write(tmp_path / "in" / "bob" / "fashion.py", b"\xff\xfe not text")
    (tmp_path / "in" / "carol").mkdir()
    (tmp_path / "in" / "carol" / "fashion.py").symlink_to(alice)
    found = discover(tmp_path / "in", challenge=None, challenges=CHALLENGES)
    submissions = found.submissions + [found.submissions[0]]  # the same file twice in one list
    planned = plan(
        submissions,
        spec_path=None,
        profile="quick",
        seed=1,
        device="cpu",
        data_dir=None,
        out_dir=tmp_path / "out",
        isolation=None,
    )
    jobs, refused = planned.jobs, planned.refused
    assert [j.learner for j in jobs] == ["alice"]
    assert jobs[0].run_dir == str(tmp_path / "out" / "alice" / f"fashion-{jobs[0].key[:12]}")
    assert jobs[0].watchdog_s > 600 and jobs[0].cpus == 1
    assert planned.datasets == {jobs[0].key: "fashion_mnist"}
    why = {job.learner: reason for job, reason in refused}
    assert "not UTF-8" in why["bob"]
    assert "symbolic link" in why["carol"]
    assert "already in this batch" in why["alice"]
    # The key changes with every input that changes the verdict.
    base = dict(
        learner="alice",
        challenge="fashion",
        submission_sha256="a" * 64,
        spec_sha256="b" * 64,
        profile="quick",
        seed=1,
        kit_version="0.1.0",
    )
    keys = {grading_key(**base)} | {
        grading_key(**{**base, name: value})
        for name, value in [
            ("learner", "bob"),
            ("submission_sha256", "c" * 64),
            ("spec_sha256", "d" * 64),
            ("profile", "full"),
            ("seed", 2),
            ("kit_version", "0.2.0"),
        ]
    }
    assert len(keys) == 7


def test_a_grading_key_is_recorded_once_and_an_older_file_is_upgraded(tmp_path):
    db_path = tmp_path / "board.sqlite"
    first, second, third = (make_record(submitted_at=f"2025-03-0{day}T10:00:00.000000+00:00") for day in (1, 2, 3))
    with open_db(db_path, create=True) as db:
        db.add([first], origin="local")
    connection = sqlite3.connect(db_path)  # as the previous version left it
    connection.execute("DROP TABLE batch_gradings")
    connection.execute("UPDATE schema_version SET version = 2")
    connection.commit()
    connection.close()
    with open_db(db_path, create=True) as db:
        assert db.batch_gradings(["k1"]) == {}
        db.add([second], origin="local", batch_gradings={second["submission_id"]: ("k1", "/runs/a")})
        assert db._query("v", "SELECT version FROM schema_version")[0][0] == SCHEMA_VERSION == 4
        assert db.batch_gradings(["k1", "k2"])["k1"]["submission_id"] == second["submission_id"]
        with pytest.raises(LeaderboardError, match="already recorded"):
            db.add([third], origin="local", batch_gradings={third["submission_id"]: ("k1", "/runs/b")})
        assert len(db.submissions()) == 2  # the refused one added nothing, not even its submission row


def test_gradebook_cells_never_read_as_formulas(tmp_path):
    rows = [
        Row(1, "bob", "fashion", None, None, "not_graded", None, None, "", '=HYPERLINK("x")\nsecond line'),
        Row(0, "alice", "fashion", 95.0, 100.0, "passed", 0.87654, 0.01234, "/runs/a"),
    ]
    path = write_gradebook(tmp_path / "gradebook.csv", rows)
    read = list(csv.DictReader(path.open()))
    assert [r["learner"] for r in read] == ["alice", "bob"]
    assert read[0]["points"] == "95.00" and read[0]["test_accuracy"] == "0.8765" and read[0]["gap"] == "0.0123"
    assert read[1]["note"] == '\'=HYPERLINK("x") second line'


def _result(verdict: str, checks: list[tuple[str, float, float, str]], error: str | None = None) -> dict:
    return {
        "challenge": "fashion",
        "verdict": verdict,
        "score": sum(c[1] for c in checks),
        "max_score": sum(c[2] for c in checks),
        "error": error,
        "run_dir": "/runs/x",
        "metrics": {"test_accuracy": 0.9, "gap": 0.01} if verdict != "not_graded" else {},
        "checks": [
            {
                "id": i,
                "title": i.title(),
                "points": p,
                "max_points": m,
                "passed": p == m,
                "message": msg,
                "hint": "do this" if p < m else "",
                "bonus": False,
            }
            for i, p, m, msg in checks
        ],
    }


def test_the_gradebook_has_a_column_per_check_the_reason_and_the_submission_id_in_csv_and_json(tmp_path):
    from grader.batch.gradebook import row_from_record, row_from_result

    good = _result("passed", [("preprocess", 5, 5, "ok"), ("architecture.layers", 12, 12, "ok")])
    slip = _result(
        "failed",
        [
            ("preprocess", 0, 5, "values up to 255"),
            ("architecture.layers", 12, 12, "ok"),
            ("callback", 0, 10, "never stops"),
        ],
    )
    broken = _result("not_graded", [], error="fashion.py line 3: SyntaxError")
    run_dir = tmp_path / "runs" / "cy"
    run_dir.mkdir(parents=True)
    (run_dir / "result.json").write_text(json.dumps(slip))  # a row resumed from the database reads its checks here
    stored = {
        "learner": "cy",
        "challenge": "fashion",
        "public_score": 12.0,
        "max_score": 27.0,
        "verdict": "failed",
        "public_accuracy": 0.9,
        "gap": 0.01,
        "run_dir": str(run_dir),
        "submission_id": "sub-cy",
    }
    rows = [
        row_from_result(0, "ann", good, submission_id="sub-ann"),
        row_from_result(1, "bob", slip),
        row_from_result(2, "dee", broken),
        row_from_record(3, stored, "recorded by an earlier run"),
    ]
    path = write_gradebook(tmp_path / "gradebook.csv", rows)
    book = {r["learner"]: r for r in csv.DictReader(path.open())}
    header = next(csv.reader(path.open()))
    assert header[-3:] == ["check:preprocess", "check:architecture.layers", "check:callback"]
    assert book["ann"]["submission_id"] == "sub-ann" and book["ann"]["reason"] == ""
    assert (book["ann"]["check:preprocess"], book["ann"]["check:callback"]) == ("5.00", "")
    assert book["bob"]["reason"] == "Preprocess: values up to 255 (do this)"
    assert book["dee"]["reason"] == "fashion.py line 3: SyntaxError" and book["dee"]["check:preprocess"] == ""
    assert book["cy"]["submission_id"] == "sub-cy" and book["cy"]["check:callback"] == "0.00"
    twin = json.loads((tmp_path / "gradebook.json").read_text())
    assert [r["learner"] for r in twin] == ["ann", "bob", "dee", "cy"]
    assert twin[1]["checks"] == {"preprocess": 0.0, "architecture.layers": 12.0, "callback": 0.0}


def test_core_slots_share_the_cores_without_overlap():
    assert core_slots(2, [0, 1, 2, 3]) == [(0, 1), (2, 3)]
    assert core_slots(3, [0, 1, 2, 3]) == [(0,), (1,), (2,)]
    assert core_slots(3, [0, 1]) == [(0,), (1,), (0,)]


def test_each_grading_is_bounded_to_its_threads_cores_and_gpu_share(tmp_path):
    from grader.keras_support.backend import GPU_MEMORY_FRACTION_ENV, resource_env

    env = resource_env(cpu_threads=3, gpu_memory_fraction=0.25)
    assert env["OMP_NUM_THREADS"] == env["TF_NUM_INTRAOP_THREADS"] == "3" and env["TF_NUM_INTEROP_THREADS"] == "2"
    assert env["XLA_PYTHON_CLIENT_MEM_FRACTION"] == env[GPU_MEMORY_FRACTION_ENV] == "0.250"
    assert resource_env() == {}
    with pytest.raises(ValueError, match="between 0 and 1"):
        resource_env(gpu_memory_fraction=1.5)
    # The worker applies them to itself before Keras is imported; its children inherit them.
    script = (
        "import os, sys; from grader.batch.jobs import Job; from grader.batch.worker import bound_resources; "
        "bound_resources(Job(0, 'a', 'x.py', 'fashion', 'k', 'r', 'quick', 1, 'cpu', cpu_threads=1, cores=(0,), "
        "gpu_memory_fraction=0.5)); import subprocess; print(subprocess.run([sys.executable, '-c', "
        '\'import os; print(sorted(os.sched_getaffinity(0)), os.environ["OMP_NUM_THREADS"], '
        'os.environ["XLA_PYTHON_CLIENT_MEM_FRACTION"])\'], capture_output=True, text=True).stdout)'
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["[0]", "1", "0.500"], done.stderr[-2000:]


def test_an_output_path_that_cannot_be_used_is_refused_before_anything_runs(tmp_path):
    write(tmp_path / "in" / "alice" / "fashion.py", OK)
    write(tmp_path / "a-file", "")
    with pytest.raises(BatchError, match="exists and is not a folder"):
        grade_batch(source=tmp_path / "in", db_path=tmp_path / "board.sqlite", out_dir=tmp_path / "a-file")
    with pytest.raises(BatchError, match="is a folder: give the path of a CSV file"):
        grade_batch(
            source=tmp_path / "in", db_path=tmp_path / "board.sqlite", out_dir=tmp_path / "out", gradebook=tmp_path
        )
    assert not (tmp_path / "board.sqlite").exists()


@needs_sandbox
def test_a_damaged_database_is_refused_before_anything_trains(tmp_path):
    write(tmp_path / "in" / "alice" / "fashion.py", OK)
    write(tmp_path / "board.sqlite", b"not a database at all, just text" * 4)
    with pytest.raises(BatchError, match="damaged or is not a SQLite database"):
        grade_batch(source=tmp_path / "in", db_path=tmp_path / "board.sqlite", out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- grading for real


def _learners(root: Path) -> None:
    write(root / "alice" / "fashion.py", OK)
    write(root / "bob" / "fashion.py", OK.replace("Dense(10,", "Dense(12,"))  # wrong output width
    write(root / "carol" / "fashion.py", OK.replace("def build_model():", "def build_model(:"))  # broken


@dataclass(frozen=True)
class Snapshot:
    """Which processes ran before a test: what a test leaves behind is judged against it."""

    pids: frozenset[int]

    @classmethod
    def now(cls) -> Snapshot:
        return cls(frozenset(int(pid) for pid in os.listdir("/proc") if pid.isdigit()))

    def leaked(self) -> list[str]:
        """Batch workers and trainers that started after the snapshot and were not started by a
        process that was already running (another grading on this machine, such as a
        calibration whose next seed starts its trainer during the test, is not this test's
        leak). A leaked process has lost its parent: its parent is now init."""
        leaked = []
        for line in _processes("grader.batch.worker") + _processes("grader.train.trainer"):
            pid = int(line.split(":")[0])
            parent = procfs.parent(pid)
            if pid not in self.pids and (parent is None or parent in (1, os.getpid()) or parent not in self.pids):
                leaked.append(line)
        return leaked


def _processes(needle: str) -> list[str]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if needle in cmdline:
            found.append(f"{pid}: {cmdline[:100]}")
    return found


def _db_rows(db_path: Path) -> tuple[list[tuple], list[str]]:
    connection = sqlite3.connect(db_path)
    try:
        rows = connection.execute("SELECT learner, verdict FROM submissions ORDER BY learner").fetchall()
        keys = [r[0] for r in connection.execute("SELECT grading_key FROM batch_gradings").fetchall()]
    finally:
        connection.close()
    return rows, keys


@needs_sandbox
def test_an_interrupted_batch_resumes_without_grading_anything_twice(tmp_path, shared_cache):
    before = Snapshot.now()
    _learners(tmp_path / "in")
    # Bob's and Carol's files take seconds to import, so that the interrupt after the first
    # recorded grading lands while they are still being graded (quick ones were done first).
    slow = "import time\ntime.sleep(6)  # still importing when the test interrupts the batch\n"
    write(tmp_path / "in" / "bob" / "fashion.py", slow + (tmp_path / "in" / "bob" / "fashion.py").read_text())
    write(tmp_path / "in" / "carol" / "fashion.py", slow + OK.replace('activation="softmax"', 'activation="relu"', 1))
    spec = tiny_spec(tmp_path, "fashion")
    db_path, out = tmp_path / "board.sqlite", tmp_path / "out"
    command = [
        sys.executable,
        "-m",
        "grader.cli",
        "batch",
        str(tmp_path / "in"),
        "--spec",
        str(spec),
        "--profile",
        "tiny",
        "--device",
        "cpu",
        "--db",
        str(db_path),
        "--out",
        str(out),
    ]
    # SIGINT as a terminal's Ctrl-C delivers it: a shell starting this suite in the background
    # leaves SIGINT ignored, and Python then never turns it into KeyboardInterrupt.
    driver = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and driver.poll() is None:  # wait for the first recorded grading
        if _has_table(db_path) and _db_rows(db_path)[1]:
            break
        time.sleep(0.05)
    assert driver.poll() is None, driver.communicate()[0][-3000:]
    driver.send_signal(signal.SIGINT)
    output = driver.communicate(timeout=120)[0]
    assert driver.returncode == 130, output[-3000:]
    assert "interrupted: run the same command again" in output
    first_rows, first_keys = _db_rows(db_path)
    assert 1 <= len(first_keys) < 3 and len(first_rows) == len(first_keys)
    book = list(csv.DictReader((out / "gradebook.csv").open()))
    assert sum(r["note"].startswith("interrupted") for r in book) == 3 - len(first_keys)
    assert before.leaked() == []

    again = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    rows, keys = _db_rows(db_path)
    assert sorted(rows) == [("alice", "passed"), ("bob", "failed"), ("carol", "failed")]
    assert len(keys) == len(set(keys)) == 3
    book = {r["learner"]: r for r in csv.DictReader((out / "gradebook.csv").open())}
    assert sum(r["note"] == "recorded by an earlier run" for r in book.values()) == len(first_keys)
    assert book["alice"]["verdict"] == "passed" and float(book["alice"]["test_accuracy"]) > 0.1
    assert (Path(book["alice"]["run_folder"]) / "result.json").is_file()

    third = subprocess.run(command, capture_output=True, text=True, timeout=300)  # nothing left to grade
    assert third.returncode == 0 and "3 were recorded by an earlier run" in third.stdout, third.stdout[-2000:]
    assert _db_rows(db_path) == (rows, keys)


def _has_table(db_path: Path) -> bool:
    try:
        connection = sqlite3.connect(db_path)
        try:
            return bool(connection.execute("SELECT 1 FROM sqlite_master WHERE name = 'batch_gradings'").fetchall())
        finally:
            connection.close()
    except sqlite3.Error:
        return False


def _kill_a_ray_worker_mid_grading(killed: list[int], stop: threading.Event) -> None:
    """SIGKILL the first Ray worker whose grading process has been at work for 3 seconds."""
    seen: dict[int, float] = {}
    while not stop.is_set() and not killed:
        for line in _processes("grader.batch.worker"):
            pid = int(line.split(":")[0])
            parent = procfs.parent(pid)
            try:
                title = Path(f"/proc/{parent}/cmdline").read_bytes() if parent is not None else b""
            except OSError:
                continue
            if not title.startswith(b"ray::"):  # a Ray worker running a task (named "grade <learner> ...")
                continue
            first = seen.setdefault(pid, time.monotonic())
            if time.monotonic() - first > 3:
                os.kill(parent, signal.SIGKILL)
                killed.append(parent)
                return
        time.sleep(0.2)


@needs_sandbox
def test_a_ray_cluster_grades_a_course_once_even_when_a_worker_dies(tmp_path, shared_cache):
    pytest.importorskip("ray")
    from grader.batch.engines import RayEngine

    before = Snapshot.now()
    root = tmp_path / "in"
    _learners(root)
    write(
        root / "dave" / "fashion.py",
        OK
        + "\n\ndef hostile_win(what):\n    print('HOSTILE-WIN', what)\n\n"
        + (HOSTILE / "write_database.py").read_text(),
    )
    write(root / "erin" / "fashion.py", OK.replace('keras.layers.Dense(128, activation="relu"),\n', ""))
    write(root / "frank" / "fashion.py", b"\xff\xfe not text")
    spec = tiny_spec(tmp_path, "fashion")
    db_path, out = tmp_path / "board.sqlite", tmp_path / "out"

    killed: list[int] = []
    stop = threading.Event()
    killer = threading.Thread(target=_kill_a_ray_worker_mid_grading, args=(killed, stop), daemon=True)
    killer.start()
    try:
        summary = grade_batch(
            source=root,
            spec_path=spec,
            profile="tiny",
            device="cpu",
            db_path=db_path,
            out_dir=out,
            engine=RayEngine(num_cpus=2),
        )
    finally:
        stop.set()
        killer.join(timeout=10)
    assert killed, "no Ray worker was caught mid-grading"
    verdicts = {row.learner: row.verdict for row in summary.rows}
    assert verdicts == {
        "alice": "passed",
        "bob": "failed",
        "carol": "failed",
        "dave": verdicts["dave"],
        "erin": "failed",
        "frank": "not_graded",
    }, [(r.learner, r.verdict, r.note) for r in summary.rows]
    assert verdicts["dave"] in ("passed", "failed")
    assert summary.exit_code == config.EXIT_NOT_GRADED  # frank's file could not be graded
    rows, keys = _db_rows(db_path)
    assert [learner for learner, _ in rows] == ["alice", "bob", "carol", "dave", "erin"]  # each exactly once
    assert len(keys) == len(set(keys)) == 5
    connection = sqlite3.connect(db_path)
    assert not connection.execute("SELECT 1 FROM sqlite_master WHERE name = 'hostile'").fetchall()
    connection.close()
    for run_dir in out.glob("*/fashion-*"):
        assert "HOSTILE-WIN" not in (run_dir / "result.json").read_text()
    assert before.leaked() == []


def test_a_batch_without_a_sandbox_stops_once_before_the_first_learner(tmp_path, monkeypatch):
    # Each grading of a batch is recorded, so none may run unisolated: said once, up front, not
    # once per learner after loading the data, and as root without telling root to become root.
    monkeypatch.setattr(iso, "choose", lambda requested=None: iso.Isolation("none", "no bubblewrap here"))
    for learner in ("ann", "bob", "cy"):
        write(tmp_path / "in" / learner / "fashion.py", (SUBMISSIONS / "fashion_ok.py").read_text())
    db = tmp_path / "board.db"
    with pytest.raises(BatchError) as refused:
        grade_batch(source=tmp_path / "in", out_dir=tmp_path / "runs", db_path=db)
    message = str(refused.value)
    assert "grade batch (it records every grading) needs an isolated sandbox" in message
    assert "no bubblewrap here" in message and "install bubblewrap" in message
    assert ("run as root" in message) == (os.geteuid() != 0)
    assert not (tmp_path / "runs").exists() and not db.exists()


def test_the_batch_help_offers_only_isolation_that_can_record():
    from click.testing import CliRunner

    from grader.cli import main as cli

    help_text = CliRunner().invoke(cli, ["batch", "--help"]).output
    assert "[auto|namespaces|uid]" in help_text and "none" not in help_text.split("--isolation")[1].split("\n")[0]
