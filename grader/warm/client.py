"""The client side of `grade check --warm`: find (or start) this user's helper, ask, print.

It imports no Keras, NumPy or rich: a warm check costs the helper's work and little more.
Anything that goes wrong on the way is a WarmUnavailable, and the command checks cold.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader import config
from grader.core import launch
from grader.warm import protocol

START_TIMEOUT_S = 60.0  # the helper imports the grader and starts its first processes
_CONSOLE_ENV = ("TERM", "COLORTERM", "NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")


class WarmUnavailable(Exception):
    """The helper cannot be reached, started or trusted with this request (the reason)."""


@dataclass(frozen=True)
class Reply:
    stdout: str
    stderr: str
    exit_code: int


def check_warm(
    *,
    path: Path,
    challenge: str | None,
    spec_path: Path | None,
    out_dir: Path | None,
    data_dir: Path | None,
    isolation: str | None,
    as_json: bool,
    verbose: bool,
) -> Reply:
    stream = sys.stderr if as_json else sys.stdout
    terminal = stream.isatty()
    request = {
        "op": "check",
        "cwd": os.getcwd(),
        "path": str(path),
        "challenge": challenge,
        "spec_path": str(spec_path) if spec_path else None,
        "out_dir": str(out_dir) if out_dir else None,
        "data_dir": str(data_dir) if data_dir else None,
        "isolation": isolation,
        "as_json": as_json,
        "verbose": verbose,
        "terminal": terminal,
        "width": shutil.get_terminal_size().columns,
        "environ": {k: os.environ[k] for k in _CONSOLE_ENV if k in os.environ},
    }
    reply = ask(request, start=True, timeout_s=config.CHECK_TIME_BUDGET_S + 120)
    if "error" in reply:
        raise WarmUnavailable(f"the helper failed: {reply['error']}")
    try:
        return Reply(str(reply["stdout"]), str(reply["stderr"]), int(reply["exit_code"]))
    except (KeyError, TypeError, ValueError):
        raise WarmUnavailable("the helper's reply is malformed") from None


def ask(request: dict[str, Any], *, start: bool, timeout_s: float = 30.0) -> dict[str, Any]:
    """Send one request to this environment's helper (starting it first if `start`); its reply."""
    try:
        folder = protocol.runtime_dir()
    except protocol.ProtocolError as err:
        raise WarmUnavailable(str(err)) from None
    ident = protocol.identity()
    path = protocol.socket_path(folder, ident)
    connection = _connect(path)
    if connection is None:
        if not start:
            raise WarmUnavailable("no helper is running")
        connection = _start_and_connect(folder, ident, path)
    with connection:
        try:
            connection.settimeout(timeout_s)
            protocol.send(connection, request)
            return protocol.receive(connection)
        except (protocol.ProtocolError, OSError) as err:
            raise WarmUnavailable(f"talking to the helper failed: {err}") from None


def _connect(path: Path) -> socket.socket | None:
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with protocol.unix_address(path) as address:
            connection.connect(address)
        return connection
    except OSError:
        connection.close()
        return None


def _start_and_connect(folder: Path, ident: str, path: Path) -> socket.socket:
    """Start the helper in its own session (it outlives this command) and wait until it listens."""
    import grader

    log = open(protocol.log_path(folder, ident), "ab")
    try:
        # A trusted process (grader/core/launch.py): it outlives this command, so it runs in the
        # grader's own folder, with nothing of the learner's folder on its import path.
        helper = subprocess.Popen(
            launch.python_command("grader.warm.server"),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=launch.trusted_environment(),
            cwd=str(Path(grader.__file__).resolve().parent),
        )
    except OSError as err:
        raise WarmUnavailable(f"cannot start the helper: {err}") from None
    finally:
        log.close()
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if (connection := _connect(path)) is not None:
            return connection
        if helper.poll() is not None and helper.returncode != 0:
            raise WarmUnavailable(
                f"the helper stopped at start (exit code {helper.returncode}); see {protocol.log_path(folder, ident)}"
            )
        time.sleep(0.05)
    raise WarmUnavailable(
        f"the helper did not start within {START_TIMEOUT_S:.0f} s; see {protocol.log_path(folder, ident)}"
    )


def stop(wait_s: float = 10.0) -> bool:
    """Stop this environment's helper and wait (at most `wait_s`) until its process is gone;
    False if none was running."""
    try:
        pid = int(ask({"op": "status"}, start=False).get("pid", 0))
        ask({"op": "stop"}, start=False)
    except (WarmUnavailable, TypeError, ValueError):
        return False
    deadline = time.monotonic() + wait_s
    while pid and time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        except PermissionError:  # the pid is someone else's already
            break
        time.sleep(0.02)
    return True


def status() -> dict[str, Any] | None:
    try:
        return ask({"op": "status"}, start=False)
    except WarmUnavailable:
        return None
