"""`grade check --warm`: the helper answers as a cold check would, and checks share nothing.

Each test runs the real command line (client, helper, sandbox) with its own runtime folder,
so it talks to a helper of its own, and stops that helper at the end. A helper that a failed
test leaves behind stops by itself: GRADER_WARM_IDLE_S is short here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.describe.sandbox import isolation as iso
from tests import procfs
from tests.grading import SUBMISSIONS

pytestmark = pytest.mark.skipif(not iso.choose().isolated, reason="no sandbox available on this machine")

GRADE = [sys.executable, "-m", "grader.cli"]

# Appended to a correct submission: leave traces a later check could find, and a process that
# would outlive the check (bounded: it ends by itself after 30 s).
PLANT = """
import os, subprocess
for _folder in ("/tmp", os.environ.get("HOME", "/tmp"), os.getcwd()):
    try:
        open(os.path.join(_folder, "warm-plant"), "w").write("planted")
    except OSError:
        pass
subprocess.Popen(["python3", "-c", "import time; [time.sleep(0.5) for _ in range(60)]", "warm-plant-daemon"],
                 start_new_session=True)
print("PLANTED", flush=True)
"""

# Appended to a correct submission: print what the sandbox looks like from inside, and any trace
# of an earlier check.
LOOK = """
import os, resource, socket
def _view():
    found = [p for p in ("/tmp/warm-plant", os.path.join(os.environ.get("HOME", "/tmp"), "warm-plant"),
                         os.path.join(os.getcwd(), "warm-plant")) if os.path.exists(p)]
    processes = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                processes.append(open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\\0", b" ").decode())
            except OSError:
                pass
    found += [c for c in processes if "warm-plant-daemon" in c]
    status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
    mounts = sorted(" ".join(line.split()[1:3]) for line in open("/proc/self/mounts"))
    limits = {name: resource.getrlimit(getattr(resource, name)) for name in dir(resource) if name.startswith("RLIMIT_")}
    try:
        socket.create_connection(("127.0.0.1", __PORT__), timeout=2).close()
        network = "connected"
    except OSError as err:
        network = type(err).__name__
    view = {"uid": os.getuid(), "gid": os.getgid(), "host": socket.gethostname(), "cwd": os.getcwd(),
            "env": sorted(os.environ), "mounts": mounts, "limits": limits, "network": network,
            "processes": len(processes), "caps": [status[k].strip() for k in ("CapEff", "CapBnd", "NoNewPrivs")],
            "home": sorted(os.listdir(os.environ["HOME"])), "tmp": sorted(os.listdir("/tmp"))}
    print("VIEW " + __import__("json").dumps(view, sort_keys=True), flush=True)
    print("FOUND " + repr(found), flush=True)
_view()
"""


@pytest.fixture
def warm_env(tmp_path, monkeypatch):
    """An environment whose helper is this test's own; stopped (or killed) at the end."""
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "GRADER_WARM_IDLE_S": "120"}
    env.pop("GRADER_WARM", None)
    yield env
    subprocess.run([*GRADE, "warm", "stop"], env=env, capture_output=True, timeout=60)
    left = _helpers(runtime)
    for pid in left:
        os.kill(pid, 9)
    assert left == [], "the helper did not stop when asked"


def _helpers(runtime: Path) -> list[int]:
    """Warm helpers whose environment names this runtime folder."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            environ = Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:
            continue
        if (
            b"grader.warm.server" in cmdline
            and f"XDG_RUNTIME_DIR={runtime}".encode() in environ
            and procfs.state(entry) not in ("Z", None)
        ):
            pids.append(int(entry))
    return pids


@pytest.fixture(scope="module")
def listener():
    """A listener on the host's 127.0.0.1 that LOOK tries to reach (it must not, warm or cold)."""
    from tests.test_hostile import Listener

    server = Listener()
    yield server
    server.stop()


def _submission(tmp_path: Path, name: str, extra: str, port: int = 0) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    path = folder / "fashion.py"
    path.write_text((SUBMISSIONS / "fashion_ok.py").read_text() + extra.replace("__PORT__", str(port)))
    return path


def _check(path: Path, env: dict, *extra: str, warm: bool = True) -> tuple[dict, subprocess.CompletedProcess]:
    out = path.parent / f"run-{time.monotonic_ns()}"
    done = subprocess.run(
        [*GRADE, "check", *(["--warm"] if warm else []), "--json", "--out", str(out), str(path), *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=path.parent,
    )
    assert done.stdout, done.stderr[-2000:]
    return json.loads(done.stdout), done


def _status(env: dict) -> str:
    return subprocess.run([*GRADE, "warm", "status"], env=env, capture_output=True, text=True, timeout=60).stdout


def _line(output: str, prefix: str) -> str:
    lines = [line[len(prefix) :] for line in output.splitlines() if line.startswith(prefix)]
    assert len(lines) == 1, output[-2000:]
    return lines[0]


def test_a_warm_check_is_the_cold_check(tmp_path, warm_env, listener):
    path = _submission(tmp_path, "ok", LOOK, listener.port)
    cold, cold_run = _check(path, warm_env, warm=False)
    first, _ = _check(path, warm_env)  # starts the helper
    second, second_run = _check(path, warm_env)  # handed processes started ahead
    assert "warm helper is not available" not in second_run.stderr
    for warm in (first, second):
        assert warm["checks"] == cold["checks"]
        assert (warm["score"], warm["verdict"], warm["mode"], warm["backend"], warm["isolation"]) == (
            cold["score"],
            cold["verdict"],
            "check",
            cold["backend"],
            cold["isolation"],
        )
        assert warm["layer_table"] == cold["layer_table"]
    assert second_run.returncode == cold_run.returncode == 0
    # What the submission saw from inside its sandbox: the same, warm or cold (user, mounts,
    # limits, capabilities, environment, network, processes).
    assert _line(second["output"], "VIEW ") == _line(cold["output"], "VIEW ")
    assert "2 checks" in _status(warm_env)
    assert listener.connections == 0


def test_warm_checks_share_nothing(tmp_path, warm_env, listener):
    planter = _submission(tmp_path, "plant", PLANT)
    looker = _submission(tmp_path, "look", LOOK, listener.port)
    planted, _ = _check(planter, warm_env)
    assert "PLANTED" in planted["output"]
    seen, _ = _check(looker, warm_env)
    assert _line(seen["output"], "FOUND ") == "[]"  # no file, no process of the check before
    # The daemon died with its sandbox; the helper (outside every sandbox) was never in reach.
    daemons = [p for p in os.listdir("/proc") if p.isdigit() and _cmdline_has(p, b"warm-plant-daemon")]
    assert daemons == []
    assert not list(tmp_path.rglob("warm-plant"))  # nothing planted outside the sandbox either


def _cmdline_has(pid: str, text: bytes) -> bool:
    try:
        return text in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def test_an_unsafe_runtime_folder_falls_back_to_a_cold_check(tmp_path, warm_env):
    shared = Path(warm_env["XDG_RUNTIME_DIR"]) / "cnn-grader"
    shared.mkdir(mode=0o777)
    os.chmod(shared, 0o777)  # others could plant a socket of their own there
    path = _submission(tmp_path, "ok", "")
    result, done = _check(path, warm_env)
    assert "the warm helper is not available" in done.stderr and "remove it" in done.stderr
    assert result["verdict"] == "passed" and done.returncode == 0  # checked cold instead
    assert _helpers(Path(warm_env["XDG_RUNTIME_DIR"])) == []


@pytest.mark.core
def test_the_helper_stops_when_idle(tmp_path, warm_env):
    env = {**warm_env, "GRADER_WARM_IDLE_S": "1"}
    path = _submission(tmp_path, "ok", "")
    result, _ = _check(path, env)
    assert result["verdict"] == "passed"
    runtime = Path(env["XDG_RUNTIME_DIR"])
    for _ in range(600):  # it stops one idle second after the check; allow a slow machine a minute
        if not _helpers(runtime):
            break
        time.sleep(0.1)
    assert _helpers(runtime) == []
    assert not list((runtime / "cnn-grader").glob("*.sock"))
    assert "no warm helper" in _status(env)


def test_the_pool_keeps_depth_sets_ready_and_hands_out_the_oldest_living_one(monkeypatch):
    """GRADER_WARM_DEPTH=2: two of each wait; a check gets the one started first (the likeliest to
    have finished importing), a dead one is thrown away, and a refill tops up to the depth."""
    from grader.pipeline.processes import Processes
    from grader.warm.pool import WarmProcesses

    started = []

    class FakeChild:
        def __init__(self):
            self.number, self.dead, self.discarded = len(started), False, False
            started.append(self)

        def alive(self):
            return not self.dead

        def discard(self):
            self.discarded = True

    class FakeTrainer:
        def __init__(self):
            self.process = type("P", (), {"poll": lambda _: None})()
            self.closed = False

        def close(self):
            self.closed = True

    monkeypatch.setattr(Processes, "child", lambda self, **settings: FakeChild())
    monkeypatch.setattr(Processes, "trainer", lambda self, device, keras_backend=None, ahead=False: FakeTrainer())
    pool = WarmProcesses(depth=2)
    pool.prime(isolation="iso", limits="limits", keras_backend="numpy", device="cpu")
    assert pool.ready() == {"child": 2, "trainer": 2}
    settings = {"isolation": "iso", "limits": "limits", "keras_backend": "numpy"}
    assert pool.child(**settings).number == 0  # the oldest first
    started[1].dead = True
    third = pool.child(**settings)  # the second died waiting: discarded, and one is started on the spot
    assert third.number == 2 and started[1].discarded and pool.started_cold["child"] == 1
    pool.refill()
    assert pool.ready()["child"] == 2 and pool.handed_over["child"] == 1
    pool.close()
    assert all(child.discarded for child in started[3:])


def test_the_helpers_socket_works_in_a_folder_too_deep_for_a_unix_socket_path(tmp_path):
    """A socket path must fit in 108 bytes; the runtime folder of a deep temporary tree need not
    (the wheel's test lost its warm helper to that). Bound and reached through the folder's fd."""
    import socket

    from grader.warm import protocol

    folder = tmp_path / ("deep-" * 30)
    folder.mkdir()
    path = protocol.socket_path(folder, "0123456789abcdef")
    assert len(str(path)) > 108
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with protocol.unix_address(path) as address:
            server.bind(address)
        server.listen(1)
        assert path.exists()  # the socket is in the folder itself
        with protocol.unix_address(path) as address:
            client.connect(address)
        connection, _ = server.accept()
        client.sendall(b"ok")
        assert connection.recv(2) == b"ok"
        connection.close()
    finally:
        client.close()
        server.close()
