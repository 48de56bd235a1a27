"""The hostile corpus (tests/hostile/): every attack fails, the verdict is clear, nothing leaks.

Each file in tests/hostile/ is one attack, appended to the small correct submission
(tests/submissions/fashion_ok.py), so it may override any of its functions (the originals stay
reachable as _base_build_model and _base_preprocess). Where an attack could tell that it
worked, it calls hostile_win(), which prints a marker. For every file this asserts:

- the grader returned a result with a clear verdict (graded, exit 0/1, or its documented 2);
- no marker and no secret in anything the grader wrote or printed;
- nothing outside the run folder changed (the grader's files, the data, the caches, a
  database, the host's /tmp) and nothing reached a listener on the host's 127.0.0.1;
- no process is left behind, and training ran no more epochs than the profile allows.

Every bomb in the corpus is bounded, so a limit that fails cannot take the machine down.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sqlite3
import tempfile
import threading
import time
from pathlib import Path

import pytest

from grader import config
from grader.describe.sandbox import isolation as iso
from grader.pipeline import grade
from grader.pipeline.processes import COLD, Processes
from tests import procfs
from tests.grading import SUBMISSIONS, tiny_spec

HOSTILE = Path(__file__).parent / "hostile"
CASES = sorted(HOSTILE.glob("*.py"))
SECRET = "hostile-test-secret-7f3a9c1e5b"
HOST_CANARY = Path("/tmp/hostile-host-canary")
MARKER = "HOSTILE-WIN"

PRELUDE = f'''
_base_build_model = build_model
_base_preprocess = preprocess


def hostile_win(what):
    print("{MARKER}: " + str(what), flush=True)


print("HOSTILE-STARTED", flush=True)
'''

# What a few attacks must end in, beyond "contained": (the failure's stage) where it is certain.
EXPECTED_FAILURE = {
    "loop_at_import": "timeout",
    "loop_in_build_model": "timeout",
    "loop_in_callback": "timeout",
    "lambda_layer": "build_model",
    "custom_layer_class": "build_model",
    "function_activation": "build_model",
    "subclassed_model": "build_model",
    "custom_loss_function": "build_model",
    "huge_dense": "build_model",
    "preprocess_too_large": "preprocess",
    "preprocess_nan": "preprocess",
    "preprocess_objects": "preprocess",
    "exit_at_import": "crash",
    "forge_child_result": "preprocess",
    "malformed_child_result": "build_model",
    "huge_child_result": "crash",
    "fifo_child_result": "crash",
    "symlink_child_result": "crash",
    "disk_bomb": "crash",
    "symlink_preprocessed": "preprocess",
    "plant_weights_constant": "build_model",
    "upsampling_bomb": "build_model",
    "deep_child_result": "crash",
    "huge_npy_header": "preprocess",
    "many_small_files": "crash",
}
# Attacks on the callback probe: graded, but the callback check earns nothing.
EXPECTED_CHECK_FAILED = {
    "stop_training_probe": "callback",
    "hardcoded_target": "callback",
    "empty_probe_answer": "callback",
}
# What the failure message must name, where the issue is precisely one thing.
EXPECTED_MESSAGE = {"upsampling_bomb": "up_sampling2d", "plant_weights_constant": "Constant"}

pytestmark = pytest.mark.skipif(not iso.choose().isolated, reason="no sandbox available on this machine")


def test_the_corpus_is_large_and_documented():
    assert len(CASES) >= 40
    for case in CASES:
        first = case.read_text().splitlines()[0]
        assert first.startswith("# ") and "->" in first, f"{case.name}: first line must say the attack -> the outcome"


class Listener:
    """A TCP listener on 127.0.0.1 that records whatever reaches it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.received = b""
        self.connections = 0
        self.stopped = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.settimeout(1)
            try:
                self.received += conn.recv(1024)
            except OSError:
                pass
            conn.close()

    def stop(self) -> None:
        self.stopped = True
        self.thread.join(timeout=2)
        self.sock.close()


@pytest.fixture(scope="module")
def listener():
    server = Listener()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def hostile_spec(tmp_path_factory) -> Path:
    from grader.keras_support import backend

    backend.import_keras()  # Keras writes keras.json into KERAS_HOME on first import: before any snapshot
    folder = tmp_path_factory.mktemp("hostile-spec")
    path = tiny_spec(
        folder, "fashion", train_limit=256, validation_limit=128, test_limit=256, time_budget_s=90, describe_budget_s=25
    )
    path.write_text(
        path.read_text() + "\n[profiles.tiny.sandbox]\nmemory_mb = 4096\n"
        "processes = 48\ndisk_mb = 400\nfile_size_mb = 200\ntmp_mb = 64\n"
    )
    return path


@pytest.fixture(scope="module")
def database(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("hostile-db") / "leaderboard.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE results (learner TEXT, score REAL)")
        db.execute("INSERT INTO results VALUES ('alice', 50)")
    return path


def _tree_state(root: Path) -> list[tuple[str, int, int]]:
    state = []
    for path in sorted(root.rglob("*")):
        if "__pycache__" in path.parts:
            continue
        info = path.lstat()
        state.append((str(path.relative_to(root)), info.st_size, info.st_mtime_ns))
    return state


def _grader_hash() -> str:
    digest = hashlib.sha256()
    for path in sorted((config.REPO_ROOT / "grader").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def _outside_state(shared_cache: Path, database: Path) -> dict:
    import site

    return {
        "grader": _grader_hash(),
        "site-packages": sorted(os.listdir(site.getsitepackages()[0])),
        "cache": _tree_state(shared_cache),
        "data": _tree_state(Path(os.environ["GRADER_DATA_DIR"])),
        "keras home": _tree_state(Path(os.environ["KERAS_HOME"])) if Path(os.environ["KERAS_HOME"]).exists() else [],
        "database": hashlib.sha256(database.read_bytes()).hexdigest(),
        "host tmp": sorted(p.name for p in Path("/tmp").glob("hostile*")),
        # A grading (as root, too) never changes the temp folder's mode or owner (it once made /tmp 0700).
        "tmp mode": (os.stat("/tmp").st_mode, os.stat("/tmp").st_uid, os.stat(tempfile.gettempdir()).st_mode),
    }


def _ours(pid: int) -> bool:
    """A process this test could have left: a descendant of pytest, in another PID namespace (a
    sandbox's), or running as one of the fallback's uids."""
    try:
        if os.readlink(f"/proc/{pid}/ns/pid") != os.readlink("/proc/self/ns/pid"):
            return True
        if iso.FALLBACK_UID_BASE <= os.stat(f"/proc/{pid}").st_uid < iso.FALLBACK_UID_BASE + iso.FALLBACK_UID_COUNT:
            return True
        while pid > 1:
            pid = procfs.parent(pid) or 0
            if pid == os.getpid():
                return True
    except OSError:
        return False
    return False


def _live_pids() -> set[int]:
    return {int(p) for p in os.listdir("/proc") if p.isdigit()}


def _describe_pids(pids: set[int]) -> list[str]:
    described = []
    for pid in sorted(pids):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if procfs.state(pid) not in ("Z", None) and _ours(pid):
            described.append(f"{pid}: {cmdline[:120]}")
    return described


def _everything_written(result, run_dir: Path) -> str:
    texts = [json.dumps(result.to_dict())]
    for path in run_dir.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".html", ".log"):
            texts.append(path.read_text(errors="replace"))
    return "\n".join(texts)


def _grade_contained(
    case: Path,
    tmp_path: Path,
    hostile_spec: Path,
    listener: Listener,
    database: Path,
    shared_cache: Path,
    monkeypatch,
    *,
    train: bool,
    processes: Processes = COLD,
):
    """Grade one hostile case and assert it was contained; the result, for the caller's own checks."""
    source = (
        (SUBMISSIONS / "fashion_ok.py").read_text() + PRELUDE + case.read_text().replace("__PORT__", str(listener.port))
    )
    submission = tmp_path / "fashion.py"
    submission.write_text(source)
    monkeypatch.setenv("GRADER_SECRET_KEY", SECRET)
    monkeypatch.setenv("GRADER_DB", str(database))
    HOST_CANARY.unlink(missing_ok=True)
    before = _outside_state(shared_cache, database)
    pids_before = _live_pids()
    received_before = listener.received

    run_dir = tmp_path / "run"
    result = grade(
        path=submission,
        spec_path=hostile_spec,
        profile="tiny",
        out_dir=run_dir,
        device="cpu",
        train=train,
        processes=processes,
    )

    # A clear verdict: graded (the attack is the learner's problem), with an explanation when failed.
    assert result.error is None, result.error
    assert result.exit_code in (config.EXIT_PASSED, config.EXIT_FAILED)
    assert result.isolation in ("namespaces", "uid")
    assert "HOSTILE-STARTED" in result.output, result.output[-1000:]  # the attack did run, in the sandbox
    written = _everything_written(result, run_dir)
    assert MARKER not in written, [line for line in written.splitlines() if MARKER in line][:3]
    assert SECRET not in written
    assert "\x1b" not in written and "\u202e" not in written
    # Nothing outside the run folder changed, nothing reached the host's network.
    time.sleep(0.2)
    assert _outside_state(shared_cache, database) == before
    assert not HOST_CANARY.exists()
    assert listener.received == received_before
    # No process left.
    left = _describe_pids(_live_pids() - pids_before - {os.getpid()})
    assert left == [], left
    return result


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_hostile_submission_is_contained(case, tmp_path, hostile_spec, listener, database, shared_cache, monkeypatch):
    result = _grade_contained(case, tmp_path, hostile_spec, listener, database, shared_cache, monkeypatch, train=True)
    if case.stem in EXPECTED_FAILURE:
        assert result.failure is not None and result.failure["stage"] == EXPECTED_FAILURE[case.stem], result.failure
        assert result.verdict == "failed"
        if case.stem in EXPECTED_MESSAGE:
            assert EXPECTED_MESSAGE[case.stem] in result.failure["message"], result.failure
    if case.stem in EXPECTED_CHECK_FAILED:
        check = next(c for c in result.checks if c.id == EXPECTED_CHECK_FAILED[case.stem])
        assert not check.passed and check.points == 0, check
    assert len(result.history.get("loss", [])) <= 1  # no more training than allowed
    if case.stem == "forge_child_result":  # the parent's own times stand; the child's implausible claims are dropped
        assert result.durations["child"] > 0.001 and result.durations["total"] < 1e9
        assert result.durations["import"] == 0.1 and "keras" not in result.durations
        assert "build_model" not in result.durations


# `grade check` runs the same sandbox on another backend (Keras' numpy backend, grader/keras_support/backend.py
# check_backend): the attacks on resources, the host and the grader, once more in check mode.
CHECK_CASES = [
    HOSTILE / f"{name}.py"
    for name in (
        "memory_bomb",
        "fork_bomb",
        "output_bomb",
        "disk_bomb",
        "kill_parent",
        "setsid_daemon",
        "read_secret_env",
        "read_parent_environ",
        "network_localhost",
        "read_test_split_cache",
        "nested_userns",
        "monkeypatch_fit",
    )
]


@pytest.mark.slow
@pytest.mark.parametrize("case", CHECK_CASES, ids=lambda p: p.stem)
def test_hostile_submission_is_contained_in_a_check(
    case, tmp_path, hostile_spec, listener, database, shared_cache, monkeypatch
):
    result = _grade_contained(case, tmp_path, hostile_spec, listener, database, shared_cache, monkeypatch, train=False)
    assert result.mode == "check" and result.history == {}
    assert result.backend == "numpy"  # none of these cases imports a backend library: the fast check ran


@pytest.fixture(scope="module")
def warm_pool():
    from grader.warm.pool import WarmProcesses

    pool = WarmProcesses()
    yield pool
    pool.close()


# Warm: the attacks on the processes around the sandbox (the helper is their parent's parent).
WARM_CASES = [
    HOSTILE / f"{name}.py"
    for name in (
        "kill_parent",
        "setsid_daemon",
        "fork_bomb",
        "read_parent_environ",
        "network_localhost",
        "nested_userns",
    )
]
# (The limits are the same rlimits, set by the same start: tests/test_warm.py compares them from inside.)


@pytest.mark.slow
@pytest.mark.parametrize("case", WARM_CASES, ids=lambda p: p.stem)
def test_hostile_submission_is_contained_in_a_warm_check(
    case, tmp_path, hostile_spec, listener, database, shared_cache, monkeypatch, warm_pool
):
    """`grade check --warm`: the child and the trainer were started before the submission was
    known, by the warm helper's pool, and the same attacks are contained the same way."""
    from grader.spec import load_spec

    warm_pool.prime(
        isolation=iso.choose(),
        limits=load_spec(hostile_spec).profile("tiny").sandbox,
        keras_backend="numpy",
        device="cpu",
    )
    # The oldest of each kind is handed over first; the spares wait for the next check.
    ready = [c[0].sandbox.process for c in warm_pool.children.values()] + [
        t[0].process for t in warm_pool.trainers.values()
    ]
    spares = [c.sandbox.process for c in sum(warm_pool.children.values(), [])[1:]] + [
        t.process for t in sum(warm_pool.trainers.values(), [])[1:]
    ]
    handed_before = dict(warm_pool.handed_over)
    result = _grade_contained(
        case, tmp_path, hostile_spec, listener, database, shared_cache, monkeypatch, train=False, processes=warm_pool
    )
    assert result.mode == "check" and result.backend == "numpy"
    # Both processes were the ones started ahead, and neither outlived its one check.
    assert warm_pool.handed_over == {"child": handed_before["child"] + 1, "trainer": handed_before["trainer"] + 1}
    assert len(ready) == 2 and all(process.poll() is not None for process in ready)
    assert len(spares) == 2 * (warm_pool.depth - 1) and all(process.poll() is None for process in spares)
