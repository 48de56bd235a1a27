"""The warm helper: grades `grade check --warm` requests one at a time, with processes it
started ahead (grader/warm/pool.py), and stops after WARM_IDLE_S without a request.

    python -m grader.warm.server          (started by grader/warm/client.py on first use)

It runs as the learner's own user, outside every sandbox, like the `grade` command that
started it, and it runs no submission code itself: only the sandboxed children do.
"""

from __future__ import annotations

import fcntl
import io
import os
import signal
import socket
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from grader import config
from grader.warm import protocol
from grader.warm.pool import WarmProcesses


def check(request: dict[str, Any], pool: WarmProcesses) -> dict[str, Any]:
    """One `grade check`, graded as the command would have, printed into strings."""
    from rich.console import Console

    from grader.pipeline import grade
    from grader.report.terminal import show_result

    def optional_path(key: str) -> Path | None:
        return Path(request[key]) if request.get(key) else None

    os.chdir(request["cwd"])
    try:
        as_json, terminal = bool(request.get("as_json")), bool(request.get("terminal"))
        stdout, stderr = io.StringIO(), io.StringIO()
        # The command's console, drawn into a string: its width and colours are the client's.
        console = Console(
            file=stderr if as_json else stdout,
            force_terminal=terminal,
            width=int(request.get("width") or 120) if terminal else 120,
            _environ={k: str(v) for k, v in dict(request.get("environ") or {}).items()},
        )
        result = grade(
            path=Path(request["path"]),
            challenge=request.get("challenge"),
            spec_path=optional_path("spec_path"),
            out_dir=optional_path("out_dir"),
            data_dir=optional_path("data_dir"),
            isolation=request.get("isolation"),
            train=False,
            profile=config.DEFAULT_PROFILE,
            device="cpu",
            seed=config.DEFAULT_SEED,
            processes=pool,
        )
        show_result(
            result, console, as_json=as_json, verbose=bool(request.get("verbose")), stdout=stdout, stderr=stderr
        )
        return {"stdout": stdout.getvalue(), "stderr": stderr.getvalue(), "exit_code": result.exit_code}
    finally:
        os.chdir("/")


def prime(pool: WarmProcesses) -> None:
    """Start the processes the usual check wants (a built-in challenge's limits, the check backend)."""
    from grader.describe.sandbox.isolation import IsolationError, choose
    from grader.describe.sandbox.limits import DEFAULT_LIMITS
    from grader.keras_support import backend

    backend.configure_process("cpu")  # as grade() does: the trainer started ahead gets the same environment
    try:
        isolation = choose()
    except IsolationError:
        return  # a bad $GRADER_ISOLATION: each request reports it
    pool.prime(isolation=isolation, limits=DEFAULT_LIMITS, keras_backend=backend.check_backend(""), device="cpu")


def serve(idle_s: float) -> int:
    folder = protocol.runtime_dir()
    ident = protocol.identity()
    lock = open(protocol.lock_path(folder, ident), "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return 0  # another helper of this identity is alive (starting or serving): the client finds it
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    pool = WarmProcesses()
    path = protocol.socket_path(folder, ident)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    served, started = 0, time.time()

    def shut_down() -> None:  # idempotent: on "stop" before the reply, and again on the way out
        pool.close()
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass

    try:
        import grader.data
        import grader.pipeline
        import grader.report.terminal  # noqa: F401

        prime(pool)
        path.unlink(missing_ok=True)  # a helper that died left it; we hold the lock
        with protocol.unix_address(path) as address:
            listener.bind(address)
        os.chmod(path, 0o600)
        listener.listen(8)
        listener.settimeout(idle_s)
        while True:
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                return 0  # idle long enough
            with connection:
                connection.settimeout(60)
                try:
                    if protocol.peer_uid(connection) != os.getuid():
                        continue
                    request = protocol.receive(connection)
                    op = request.get("op")
                    if op == "stop":  # done when the reply comes: nothing of the helper is left but its exit
                        shut_down()
                        protocol.send(connection, {"stopped": True})
                        return 0
                    if op == "status":
                        protocol.send(
                            connection,
                            {
                                "pid": os.getpid(),
                                "identity": ident,
                                "checks": served,
                                "up_s": round(time.time() - started, 1),
                                "idle_s": idle_s,
                                "ready": pool.ready(),
                                "handed_over": pool.handed_over,
                                "started_cold": pool.started_cold,
                            },
                        )
                        continue
                    if op != "check":
                        protocol.send(connection, {"error": f"unknown request {op!r}"})
                        continue
                    try:
                        reply = check(request, pool)
                        served += 1
                    except Exception as err:  # a bug of ours: the client checks cold instead
                        traceback.print_exc()
                        reply = {"error": f"{type(err).__name__}: {err}"}
                    connection.settimeout(None)
                    protocol.send(connection, reply)
                except (protocol.ProtocolError, OSError) as err:
                    print(f"request dropped: {err}", file=sys.stderr, flush=True)
            pool.refill()  # the next check's processes start while the learner edits
    finally:
        shut_down()
        listener.close()
        lock.close()


def main() -> int:
    import grader

    # Imports go on finding the grader from any folder: requests change the working folder.
    sys.path.insert(0, str(Path(grader.__file__).resolve().parent.parent))
    os.chdir("/")
    return serve(config.WARM_IDLE_S)


if __name__ == "__main__":
    sys.exit(main())
