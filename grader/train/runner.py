"""The parent's side of the trusted trainer: start it early, hand it a job, collect, clean up.

    trainer = TrainerProcess.start(device)        # imports Keras while the child works
    outcome = trainer.run(job_folder, deadline_s=..., on_progress=...)
    trainer.close()                               # nothing to do: it exits without building

The trainer starts as a trusted process (grader/core/launch.py: nothing of the host's working folder
on its import path, an empty working folder of its own, an environment from an allow-list with
no GRADER_* variable: it needs no secret) and, on CPU, an address-space limit: a model far too
large fails there, not in the parent.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from grader import config
from grader.core import launch
from grader.describe.sandbox.isolation import SandboxCgroup
from grader.describe.sandbox.limits import MB, die_with_parent
from grader.describe.sandbox.runner import BoundedOutput, ProgressTail, read_progress
from grader.keras_support import backend
from grader.train import evaluation
from grader.train import trainer as files


@dataclass
class TrainerOutcome:
    facts: dict[str, Any] | None = None  # the built model's ModelFacts, as a dict
    training: dict[str, Any] | None = None
    failure: dict[str, Any] | None = None
    timed_out: bool = False
    returncode: int | None = None
    output: str = ""
    seconds: float = 0.0
    progress: list[dict[str, Any]] = field(default_factory=list)
    evaluation: evaluation.EvaluationOutcome | None = None  # the trained model's outputs (no labels)


def _environment(device: str) -> dict[str, str]:
    # From an allow-list (grader/core/launch.py), and none of the grader's own settings: it needs none.
    env = {k: v for k, v in launch.trusted_environment().items() if not k.startswith("GRADER_")}
    env.update(backend.device_env(device))
    return env


class TrainerHandle(Protocol):
    """What TrainerProcess uses of its process: a subprocess.Popen, or a trainer forked by a
    zygote (grader/train/zygote.py ForkedProcess)."""

    pid: int
    returncode: Any

    @property
    def stdin(self) -> IO[bytes] | None: ...

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...


class TrainerProcess:
    def __init__(
        self,
        process: TrainerHandle,
        output: BoundedOutput,
        folder: Path | None = None,
        cgroup: SandboxCgroup | None = None,
    ):
        self.process, self.output, self.folder, self.cgroup = process, output, folder, cgroup

    @classmethod
    def start(cls, device: str, keras_backend: str | None = None, *, warm_up: bool = False) -> TrainerProcess:
        """Start the trainer (it imports Keras at once); `keras_backend` overrides the chosen one.
        `warm_up`: it is started ahead of its job, and rehearses a small model of its own meanwhile."""
        on_cpu = backend.trains_on_cpu(device)
        limit = config.TRAINER_MEMORY_MB * 1024 * 1024 if on_cpu else None

        # The trainer's memory and processes together, where the host offers cgroups: the
        # address-space limit below is per process and absent on GPU.
        cgroup = SandboxCgroup({"memory": config.TRAINER_MEMORY_MB * MB, "pids": config.TRAINER_PROCESSES})

        def before_exec() -> None:
            cgroup.enter()
            if limit is not None:  # GPU runtimes map huge address ranges: no AS limit there
                resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            die_with_parent()  # a killed grader (or batch worker) leaves no trainer behind

        env = _environment(device)
        if keras_backend is not None:
            env["KERAS_BACKEND"] = keras_backend
        folder = launch.private_folder("grader-trainer-")
        try:
            command = launch.python_command("grader.train.trainer", *([files.WARM_UP_FLAG] if warm_up else []))
            process = subprocess.Popen(
                command,
                env=env,
                cwd=folder,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=before_exec,
            )
        except BaseException:
            launch.remove_private_folder(folder)
            cgroup.remove()
            raise
        return cls(
            process, BoundedOutput(process.stdout, config.OUTPUT_HEAD_BYTES, config.OUTPUT_TAIL_BYTES), folder, cgroup
        )

    def run(
        self,
        folder: Path,
        *,
        deadline_s: float,
        evaluate_s: float = 0.0,
        on_progress: Callable[[dict[str, Any]], None] | None = None,
        on_batch: Callable[[dict[str, Any]], None] | None = None,
        on_trained: Callable[[], None] | None = None,
    ) -> TrainerOutcome:
        """Give the trainer its job folder and wait for it, at most `deadline_s` seconds, and
        `evaluate_s` more once training is over (the evaluation is the grader's time, not the learner's)."""
        started = files.budget_clock()  # the trainer counts its budget from this same instant
        trained = folder / files.TRAINING_FILE
        outcome = TrainerOutcome()
        assert self.process.stdin is not None  # start() opens it with stdin=subprocess.PIPE
        try:
            self.process.stdin.write(files.job_request(folder, started).encode())
            self.process.stdin.close()
        except (BrokenPipeError, OSError):
            pass  # it died before its job: the return code below says so
        progress = ProgressTail(folder / files.PROGRESS_FILE, on_progress, folder / files.BATCH_FILE, on_batch)
        evaluating = False
        while self.process.poll() is None:
            if not evaluating and trained.exists():
                evaluating = True
                if on_trained is not None:
                    on_trained()
            if files.budget_clock() - started > deadline_s + (evaluate_s if evaluating else 0.0):
                outcome.timed_out = True
                break
            progress.poll()
            try:  # a tenth of a second between looks, and no wait at all once it has exited
                self.process.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                pass
        self.close()
        progress.poll()
        outcome.returncode = self.process.returncode
        head, tail = self.output.text()
        outcome.output = head + tail
        outcome.seconds = files.budget_clock() - started
        outcome.facts = _read(folder / files.FACTS_FILE)
        outcome.training = _read(folder / files.TRAINING_FILE)
        outcome.failure = _read(folder / files.FAILURE_FILE)
        outcome.progress = read_progress(folder / files.PROGRESS_FILE)
        outcome.evaluation = evaluation.read_outcome(folder)
        return outcome

    def close(self) -> None:
        """Stop the trainer (and anything it started); idempotent."""
        if self.process.poll() is None:
            assert self.process.stdin is not None  # start() opens it with stdin=subprocess.PIPE
            try:
                self.process.stdin.close()
            except OSError:
                pass
            try:
                self.process.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait()
        launch.remove_private_folder(self.folder)
        self.folder = None
        if self.cgroup is not None:
            self.cgroup.remove()


def _read(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None
