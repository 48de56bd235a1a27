"""A trainer zygote: a trusted process that imports Keras once and forks a fresh trainer per grading.

    zygote = TrainerZygote.start("cpu", keras_backend)      # imports Keras (seconds), then waits
    trainer = zygote.trainer()                              # a TrainerProcess, forked in milliseconds
    zygote.close()

Importing TensorFlow is the largest fixed cost of a small grading (4.6 CPU-seconds of its 11
on the 2-core test machine, bench/results.md), and a warm worker grades many. A trainer must
still serve one grading only, in a process of its own, so the zygote never trains: it imports
Keras, then on each request forks a process that becomes that grading's trainer exactly as
TrainerProcess.start makes one (its own session, cgroup, address-space limit, empty private
folder, stdin and stdout pipes to the grading), runs one job and exits. The zygote itself never
touches a model, a job or the job's data, so the trainer it forks holds nothing of another
grading: what it shares with the zygote is the imported modules, copy-on-write.

The fork is doubled so that the trainer becomes a child of the grading's process (which is a
child subreaper, grader/describe/sandbox/limits.py): the grading waits for it, reads its exit
status and kills it as it does a trainer it started itself.

Only where the trainer trains on the CPU (backend.trains_on_cpu): a GPU runtime may not survive
a fork, and whether an import initialises one differs between backends; on a GPU each trainer is
started afresh, ahead of its grading (grader/warm/pool.py). A forked trainer gives the same
result as a started one, to the last digit (tests/test_warm_workers.py).
"""

from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys
import time
from typing import IO, Any

from grader import config
from grader.core import launch
from grader.describe.sandbox.isolation import SandboxCgroup
from grader.describe.sandbox.limits import MB, become_subreaper, die_with_parent
from grader.describe.sandbox.runner import BoundedOutput
from grader.keras_support import backend
from grader.train.runner import TrainerProcess, _environment

REQUEST_BYTES = 64 * 1024


class ZygoteGone(Exception):
    """The zygote died or refused: the grading starts its trainer afresh instead."""


class ForkedProcess:
    """The grading's handle on a trainer forked by the zygote: the part of subprocess.Popen that
    TrainerProcess uses (pid, stdin, stdout, poll, wait, returncode). It is this process's own
    child (it was reparented here), so waitpid reads its status as for any child."""

    def __init__(self, pid: int, stdin: IO[bytes], stdout: IO[bytes]):
        self.pid, self.stdin, self.stdout = pid, stdin, stdout
        self.args = f"forked trainer {pid}"
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped elsewhere: it is gone, how is not known
                self.returncode = -9
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(self.args, timeout or 0)
            time.sleep(0.005)
        assert self.returncode is not None
        return self.returncode


class TrainerZygote:
    def __init__(self, process: subprocess.Popen, channel: socket.socket, folder: Any, device: str):
        self.process, self.channel, self.folder, self.device = process, channel, folder, device

    @classmethod
    def start(cls, device: str, keras_backend: str | None = None) -> TrainerZygote:
        """Start the zygote with a trainer's environment; it imports Keras meanwhile."""
        become_subreaper()  # the trainers it forks are reparented to this process
        env = _environment(device)
        if keras_backend is not None:
            env["KERAS_BACKEND"] = keras_backend
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        folder = launch.private_folder("grader-zygote-")
        try:
            process = subprocess.Popen(
                launch.python_command("grader.train.zygote", str(theirs.fileno())),
                env=env,
                cwd=folder,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=[theirs.fileno()],
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        except BaseException:
            ours.close()
            launch.remove_private_folder(folder)
            raise
        finally:
            theirs.close()
        return cls(process, ours, folder, device)

    def alive(self) -> bool:
        return self.process.poll() is None

    def trainer(self) -> TrainerProcess:
        """A fresh trainer for one grading."""
        if not self.alive():
            raise ZygoteGone("the trainer zygote has exited")
        on_cpu = backend.trains_on_cpu(self.device)
        cgroup = SandboxCgroup({"memory": config.TRAINER_MEMORY_MB * MB, "pids": config.TRAINER_PROCESSES})
        folder = launch.private_folder("grader-trainer-")
        stdin_read, stdin_write = os.pipe()
        stdout_read, stdout_write = os.pipe()
        request = {
            "folder": str(folder),
            "cgroups": [str(path) for path in cgroup.paths],
            "memory_limit": config.TRAINER_MEMORY_MB * MB if on_cpu else None,
            "owner": os.getpid(),
        }
        try:
            socket.send_fds(self.channel, [json.dumps(request).encode()], [stdin_read, stdout_write])
            self.channel.settimeout(120)  # the zygote may still be importing Keras on a busy machine
            reply = self.channel.recv(REQUEST_BYTES)
            pid = int(json.loads(reply)["pid"]) if reply else 0
        except (OSError, ValueError, KeyError, TypeError) as err:
            pid, reason = 0, str(err)
        else:
            reason = "no trainer was forked"
        finally:
            os.close(stdin_read)
            os.close(stdout_write)
        if pid <= 0:
            os.close(stdin_write)
            os.close(stdout_read)
            launch.remove_private_folder(folder)
            cgroup.remove()
            raise ZygoteGone(reason)
        process = ForkedProcess(pid, os.fdopen(stdin_write, "wb"), os.fdopen(stdout_read, "rb"))
        output = BoundedOutput(process.stdout, config.OUTPUT_HEAD_BYTES, config.OUTPUT_TAIL_BYTES)
        return TrainerProcess(process, output, folder, cgroup)

    def close(self) -> None:
        self.channel.close()  # it exits when the channel closes
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        launch.remove_private_folder(self.folder)


# --------------------------------------------------------------------------- the zygote process


def become_trainer(
    request: dict[str, Any], stdin_fd: int, stdout_fd: int, ready_fd: int, channel: socket.socket, parent: int
) -> None:
    """In the forked process: become a trainer as TrainerProcess.start makes one, say so on
    `ready_fd` (its pid: the grading gets its handle only now), run one job, exit."""
    code = 1
    try:
        channel.close()
        os.setsid()
        os.dup2(stdin_fd, 0)
        os.dup2(stdout_fd, 1)
        os.dup2(stdout_fd, 2)
        os.close(stdin_fd)
        os.close(stdout_fd)
        for path in request["cgroups"]:
            with open(os.path.join(path, "cgroup.procs"), "w") as handle:
                handle.write(str(os.getpid()))
        if request["memory_limit"] is not None:
            resource.setrlimit(resource.RLIMIT_AS, (request["memory_limit"], request["memory_limit"]))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        while os.getppid() == parent:  # until the intermediate has exited and this one is reparented
            time.sleep(0.001)
        die_with_parent()
        if os.getppid() != request["owner"]:  # the grading died meanwhile: nobody waits for this trainer
            os._exit(1)
        os.chdir(request["folder"])
        os.write(ready_fd, str(os.getpid()).encode())
        os.close(ready_fd)
        from grader.train.trainer import serve_one_job

        code = serve_one_job()
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


def main(argv: list[str]) -> int:
    channel = socket.socket(fileno=int(argv[0]))
    backend.import_keras()
    import grader.train.trainer  # noqa: F401  (everything a trainer imports before its job)

    while True:
        try:
            message, fds, _, _ = socket.recv_fds(channel, REQUEST_BYTES, 2)
        except OSError:
            return 0
        if not message:
            return 0  # the grading's process closed the channel
        try:
            request = json.loads(message)
            stdin_fd, stdout_fd = fds
        except (ValueError, TypeError):
            for fd in fds:
                os.close(fd)
            channel.send(b"{}")
            continue
        pid_read, pid_write = os.pipe()
        intermediate = os.fork()
        if intermediate == 0:
            os.close(pid_read)
            if os.fork() == 0:
                become_trainer(request, stdin_fd, stdout_fd, pid_write, channel, os.getppid())
            os._exit(0)  # so that the trainer is reparented to the grading's process
        os.close(pid_write)
        for fd in fds:
            os.close(fd)
        os.waitpid(intermediate, 0)
        with os.fdopen(pid_read, "rb") as reader:  # the trainer's pid once it is set up; nothing if it died
            forked = reader.read().decode() or "0"
        channel.send(json.dumps({"pid": int(forked)}).encode())


if __name__ == "__main__":
    sys.stdout.flush()
    code = main(sys.argv[1:])
    os._exit(code)
