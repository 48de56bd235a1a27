"""The parent's side of the sandbox: start the child, bound its output and its time, collect.

The child runs in its own process group (so a kill takes its threads and subprocesses
too), with the run folder as working directory, stdin closed, and an environment without
the grader's data locations. Its output is read continuously and only the first and last
parts are kept, so a submission that prints gigabytes neither fills memory nor blocks.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from grader import backend, config
from grader.sandbox.child import PROGRESS_FILE, RESULT_FILE

# Variables the child must not see: they point at the data, held-out split included.
_HIDDEN_ENV = ("GRADER_DATA_DIR", "GRADER_CACHE_DIR", "GRADER_RUNS_DIR")


@dataclass
class ChildRun:
    returncode: int | None
    timed_out: bool
    seconds: float
    output_head: str
    output_tail: str
    output_bytes: int
    result: dict[str, Any]  # what the child recorded (possibly partial, possibly empty)

    @property
    def output(self) -> str:
        if self.output_bytes <= len(self.output_head.encode()) + len(self.output_tail.encode()):
            return self.output_head + self.output_tail
        skipped = self.output_bytes - len(self.output_head.encode()) - len(self.output_tail.encode())
        return f"{self.output_head}\n[... {skipped:,} bytes of output skipped ...]\n{self.output_tail}"


class BoundedOutput:
    """Drains a pipe, keeping the first `head` and the last `tail` bytes."""

    def __init__(self, stream: Any, head: int, tail: int):
        self.stream, self.head_limit, self.tail_limit = stream, head, tail
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _drain(self) -> None:
        while chunk := self.stream.read1(65536):
            self.total += len(chunk)
            room = self.head_limit - len(self.head)
            if room > 0:
                self.head += chunk[:room]
                chunk = chunk[room:]
            if chunk:
                self.tail += chunk
                del self.tail[: max(0, len(self.tail) - self.tail_limit)]

    def text(self) -> tuple[str, str]:
        self.thread.join(timeout=5)
        return self.head.decode(errors="replace"), self.tail.decode(errors="replace")


def child_environment(device: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _HIDDEN_ENV}
    env.update(backend.device_env(device))
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONHASHSEED"] = "0"
    # The child imports the grader from wherever this process found it.
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    return env


def run_child(job: dict[str, Any], *, workdir: Path, timeout_s: float, device: str,
              on_progress: Callable[[dict[str, Any]], None] | None = None) -> ChildRun:
    """Run one child job to completion, timeout or crash; never raises for the submission's sake."""
    job_path = workdir / "job.json"
    job_path.write_text(json.dumps({**job, "workdir": str(workdir)}, indent=1))
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "grader.sandbox.child", str(job_path)],
        cwd=workdir, env=child_environment(device), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    output = BoundedOutput(process.stdout, config.OUTPUT_HEAD_BYTES, config.OUTPUT_TAIL_BYTES)
    progress = ProgressTail(workdir / PROGRESS_FILE, on_progress)
    timed_out = False
    while process.poll() is None:
        if time.perf_counter() - started > timeout_s:
            timed_out = True
            _kill_group(process)
            break
        progress.poll()
        time.sleep(0.2)
    process.wait()
    _kill_group(process)  # anything the child left running in its group
    progress.poll()
    head, tail = output.text()
    return ChildRun(
        returncode=process.returncode, timed_out=timed_out, seconds=time.perf_counter() - started,
        output_head=head, output_tail=tail, output_bytes=output.total,
        result=_read_json(workdir / RESULT_FILE),
    )


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


class ProgressTail:
    """Follows the child's progress file and hands each new epoch line to a callback."""

    def __init__(self, path: Path, on_progress: Callable[[dict[str, Any]], None] | None):
        self.path, self.on_progress, self.offset = path, on_progress, 0

    def poll(self) -> None:
        if self.on_progress is None or not self.path.exists():
            return
        with open(self.path) as handle:
            handle.seek(self.offset)
            for line in handle:
                if not line.endswith("\n"):
                    break
                self.offset += len(line.encode())
                try:
                    self.on_progress(json.loads(line))
                except ValueError:
                    continue


def read_progress(workdir: Path) -> list[dict[str, Any]]:
    """Every complete epoch line the child wrote (the history of a run that was killed)."""
    lines = []
    path = workdir / PROGRESS_FILE
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                lines.append(json.loads(line))
            except ValueError:
                break
    return lines
