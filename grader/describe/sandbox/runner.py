"""The parent's side of the sandbox: start the child, bound its output, time and disk, collect.

The child runs isolated (grader/describe/sandbox/isolation.py) with the box's work folder as its
only writable place (grader/describe/sandbox/box.py). It is started before its job is known
(`start_child`: it imports Keras meanwhile) and handed the job on its stdin (`run_child`).
Its output is read continuously and only the first and last parts are kept, so a submission
that prints gigabytes neither fills memory nor blocks. What it wrote is read back bounded and never through a link.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader import config
from grader.describe.sandbox import isolation as iso
from grader.describe.sandbox import mounts
from grader.describe.sandbox.box import Box, BoxFileError, read_json
from grader.describe.sandbox.limits import MB, Limits
from grader.describe.sandbox.stages import RESULT_FILE
from grader.keras_support import backend

# The child's result document holds the model's config: generous, but bounded.
MAX_RESULT_BYTES = 8 * MB
DISK_CHECK_INTERVAL_S = 0.05  # how often the parent measures the work folder against disk_mb (docs/security.md)


@dataclass
class ChildRun:
    returncode: int | None
    timed_out: bool
    seconds: float
    output_head: str
    output_tail: str
    output_bytes: int
    result: dict[str, Any]  # what the child recorded (possibly partial, possibly empty)
    isolation: str = "none"
    exceeded: str = ""  # a limit the parent enforced by killing the child ("disk"), if any
    unreadable: str = ""  # why the child's result document could not be read, if it could not

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


@dataclass
class StartedChild:
    """A sandboxed child that has started, imported what it preloads, and waits for its job.

    The parent starts it first and prepares the box while the child imports Keras (a cold
    grading), or a warm helper starts it ahead of the next request (grader/warm/). Either way
    it is the same sandbox, started the same way, and it runs one job only.
    """

    box: Box
    sandbox: iso.SandboxedProcess
    output: BoundedOutput
    preload: str
    keras_backend: str | None
    limits: Limits

    @property
    def isolation(self) -> iso.Isolation:
        return self.sandbox.isolation

    def alive(self) -> bool:
        return self.sandbox.process.poll() is None

    def discard(self) -> None:
        """Kill the sandbox (if it still runs) and delete its box; idempotent."""
        self.sandbox.close()
        self.box.remove()


def start_child(
    *, isolation: iso.Isolation, limits: Limits, keras_backend: str | None = None, preload: str = "keras"
) -> StartedChild:
    """Start a sandboxed child in a fresh box; it imports `preload` ("keras" or "none") and waits.

    Nothing of a submission is in its box yet: `run_child` writes the job and hands it over.
    """
    box = Box()
    try:
        # The child never needs a GPU: it only describes the model, and the trusted trainer trains it.
        sandbox = iso.start(
            [sys.executable, "-m", "grader.describe.sandbox.child", "--preload", preload],
            isolation=isolation,
            work=box.work,
            inputs=box.inputs,
            extra_env={**backend.device_env("cpu"), **({"KERAS_BACKEND": keras_backend} if keras_backend else {})},
            limits=limits,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
    except BaseException:
        box.remove()
        raise
    output = BoundedOutput(sandbox.process.stdout, config.OUTPUT_HEAD_BYTES, config.OUTPUT_TAIL_BYTES)
    return StartedChild(box, sandbox, output, preload, keras_backend, limits)


def run_child(job: dict[str, Any], *, child: StartedChild, timeout_s: float) -> ChildRun:
    """Hand a started child its job and run it to completion, timeout, limit or crash; never
    raises for the submission's sake. `timeout_s` counts from the hand-over.

    The whole sandbox is gone when this returns: no process of the child survives it. The box
    stays for the caller to read; `child.discard()` deletes it.
    """
    box, limits, process = child.box, child.limits, child.sandbox.process
    work, inputs = iso.box_paths(child.isolation, box.work, box.inputs)
    job_path = box.add_input("job.json", json.dumps({**job, "workdir": work}, indent=1))
    started = time.perf_counter()
    assert process.stdin is not None  # start_child opens it with stdin=subprocess.PIPE
    try:
        process.stdin.write(f"{inputs}/{job_path.name}\n".encode())
        process.stdin.close()
    except (BrokenPipeError, OSError):
        pass  # it died before its job (a broken runtime): its output and return code say why
    output = child.output
    timed_out, exceeded = False, ""
    try:
        while process.poll() is None:
            if time.perf_counter() - started > timeout_s:
                timed_out = True
                break
            if not child.sandbox.quota:
                # Without root's hard quota (grader/describe/sandbox/mounts.py), measured every pass: a local
                # disk takes 1.5 GB in under 0.4 s, so checking twice a second let a bomb write its
                # whole 1.5 GB past a 400 MB quota (tests/hostile/disk_bomb.py).
                used, entries = box.usage(mounts.MAX_ENTRIES)
                if used > limits.disk_mb * MB or entries >= mounts.MAX_ENTRIES:
                    exceeded = "disk"
                    break
            time.sleep(DISK_CHECK_INTERVAL_S)
    finally:
        child.sandbox.close()  # kills whatever is left in the sandbox, then releases it
    if child.sandbox.quota and mounts.full(box.work):
        exceeded = "disk"  # it ran into the quota (what it does then is its own business)
    head, tail = output.text()
    unreadable = ""
    try:
        result = read_json(box.work, RESULT_FILE, MAX_RESULT_BYTES)
    except BoxFileError as err:
        result, unreadable = {}, str(err)
    return ChildRun(
        returncode=process.returncode,
        timed_out=timed_out,
        seconds=time.perf_counter() - started,
        output_head=head,
        output_tail=tail,
        output_bytes=output.total,
        result=result,
        isolation=child.isolation.level,
        exceeded=exceeded,
        unreadable=unreadable,
    )


class ProgressTail:
    """Follows the trusted trainer's progress: each new epoch line of `path` goes to `on_progress`,
    and each new version of `batch_path` (where the current epoch is) to `on_batch`."""

    def __init__(
        self,
        path: Path,
        on_progress: Callable[[dict[str, Any]], None] | None,
        batch_path: Path | None = None,
        on_batch: Callable[[dict[str, Any]], None] | None = None,
    ):
        self.path, self.on_progress, self.offset = path, on_progress, 0
        self.batch_path, self.on_batch, self.batch_seen = batch_path, on_batch, -1

    def poll(self) -> None:
        self._poll_batch()
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

    def _poll_batch(self) -> None:
        if self.on_batch is None or self.batch_path is None:
            return
        try:
            changed = self.batch_path.stat().st_mtime_ns
            if changed == self.batch_seen:
                return
            self.batch_seen = changed
            self.on_batch(json.loads(self.batch_path.read_text()))
        except (OSError, ValueError):  # not written yet, or replaced while read: the next poll
            return


def read_progress(path: Path) -> list[dict[str, Any]]:
    """Every complete epoch line the trainer wrote (the history of a run that was stopped)."""
    lines = []
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                lines.append(json.loads(line))
            except ValueError:
                break
    return lines
