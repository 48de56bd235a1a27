"""A real `grade serve` for tests: a challenge folder (host file, roster, tiny spec), the server as
a process on 127.0.0.1 (an ephemeral port), the learners' links, and the JSON API's calls.

Every wait is bounded and polls the service's own answers (no test reads the clock to decide).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.serve.client import Remote, upload
from tests import procfs
from tests.grading import tiny_spec

GRADE = [sys.executable, "-m", "grader.cli"]
LEARNERS = {"ada": "Ada Lovelace", "alan": "Alan Turing", "grace": "Grace Hopper"}


def write_challenge(
    folder: Path, *, closes: str = "2099-01-01T00:00:00Z", daily_cap: int = 5, selections: int = 1
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    tiny_spec(folder, "fashion")
    (folder / "roster.csv").write_text("learner,name\n" + "".join(f"{k},{v}\n" for k, v in LEARNERS.items()))
    host_file = folder / "challenge.toml"
    host_file.write_text(
        f"""[serve]
title = "Fashion week"
opens = 2026-01-01T00:00:00Z
closes = {closes}
daily_cap = {daily_cap}
selections = {selections}
roster = "roster.csv"

[[challenges]]
name = "fashion"
profile = "tiny"
spec = "fashion.toml"
"""
    )
    return host_file


@dataclass
class Server:
    process: subprocess.Popen
    url: str
    host_file: Path
    log: Path

    @property
    def state(self) -> Path:
        return self.host_file.parent / "challenge.serve"

    def kill(self) -> None:
        """SIGKILL, as a crash would: no shutdown code runs."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def db(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.state / "service.db", timeout=10)
        connection.row_factory = sqlite3.Row
        return connection


def start_server(host_file: Path, data_dir: Path, *, lease_s: float = 5.0, options: tuple[str, ...] = ()) -> Server:
    """`grade serve` on 127.0.0.1, any free port, grading with the datasets in `data_dir`; returns
    once it answers."""
    log = host_file.parent / f"serve-{time.monotonic_ns()}.log"
    env = {**os.environ, "GRADER_DATA_DIR": str(data_dir)}
    process = subprocess.Popen(
        [*GRADE, "serve", str(host_file), "--port", "0", "--lease", str(lease_s), *options],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=open(log, "wb"),
        cwd=host_file.parent,
        env=env,
    )
    url = ""
    for _ in range(600):  # at most a minute for the first line
        if process.poll() is not None:
            raise RuntimeError(f"grade serve exited: {log.read_text()}")
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith("serving ") and " on http://" in line:
                url = line.rsplit(" on ", 1)[1].strip()
        if url:
            break
        time.sleep(0.1)
    assert url, log.read_text()
    server = Server(process, url, host_file, log)
    wait_for(lambda: _answers(url + "/"), limit_s=60, what="the service to answer")
    return server


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def learner_links(server: Server) -> dict[str, str]:
    """{learner: personal link}, made with the host's own command."""
    made = subprocess.run(
        [*GRADE, "host", "links", str(server.host_file), "--url", server.url],
        capture_output=True,
        text=True,
        check=True,
        cwd=server.host_file.parent,
    )
    links = {}
    for line in made.stdout.splitlines():
        learner, _name, link = line.split("\t")
        links[learner] = link
    return links


def token_of(link: str) -> str:
    return link.rsplit("/", 1)[1]


def submit(server: Server, token: str, path: Path) -> int:
    return upload(Remote(server.url, token), path, "fashion")


def status(server: Server, token: str, submission: int) -> dict[str, Any]:
    return Remote(server.url, token).request("GET", f"/api/submissions/{submission}")


def wait_for(check: Callable[[], Any], *, limit_s: float, what: str, every_s: float = 0.2) -> Any:
    """Poll `check` until it returns something true; fail after `limit_s` (a bound, not a measurement)."""
    for _ in range(int(limit_s / every_s)):
        found = check()
        if found:
            return found
        time.sleep(every_s)
    raise AssertionError(f"gave up waiting for {what} after {limit_s:.0f} s")


def children(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of the processes whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or procfs.parent(entry.name) != pid:
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # gone meanwhile
        found.append((int(entry.name), command))
    return found


def grading_workers(server: Server) -> list[int]:
    """The server's worker processes (a warm one is there before any grading)."""
    return [pid for pid, command in children(server.process.pid) if "grader.batch.worker" in command]


def workers_while_grading(server: Server) -> list[int]:
    """The worker processes, once a job is being graded (its lease taken); else none."""
    with server.db() as db:
        running = db.execute("SELECT COUNT(*) FROM jobs WHERE state = 'running'").fetchone()[0]
    return grading_workers(server) if running else []


def dump(server: Server) -> str:
    return json.dumps([dict(row) for row in server.db().execute("SELECT * FROM jobs")], indent=1)
