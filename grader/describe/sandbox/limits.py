"""Resource limits of a sandboxed process: documented defaults, overridable per spec profile.

The limits are applied as rlimits to the process that starts the sandbox (inherited by
everything in it), plus a pids cgroup where the host lets us make one (rlimits cannot count
processes of a root-owned sandbox: the kernel exempts root from RLIMIT_NPROC), plus a disk
quota on the sandbox's work folder that the parent watches while the child runs.

Defaults (docs/security.md), each a key of a profile's `[profiles.NAME.sandbox]` table:

    memory_mb     6144   address space of each process (TensorFlow alone maps ~1.5 GB)
    processes       64   processes and threads in the sandbox
    file_size_mb  2048   largest file it may write
    disk_mb       3072   everything in its work folder together
    tmp_mb         256   its private /tmp and HOME (in memory)
    open_files     256   file descriptors per process
    cpu_time_s    3600   CPU seconds per process (wall time is the profile's budget)
"""

from __future__ import annotations

import resource
from dataclasses import dataclass, fields
from typing import Any

MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    memory_mb: int = 6144
    processes: int = 64
    file_size_mb: int = 2048
    disk_mb: int = 3072
    tmp_mb: int = 256
    open_files: int = 256
    cpu_time_s: int = 3600

    def rlimits(self) -> dict[int, int]:
        """The rlimits to set (soft = hard, so the sandbox cannot raise them again)."""
        return {
            resource.RLIMIT_AS: self.memory_mb * MB,
            resource.RLIMIT_NPROC: self.processes,
            resource.RLIMIT_FSIZE: self.file_size_mb * MB,
            resource.RLIMIT_NOFILE: self.open_files,
            resource.RLIMIT_CORE: 0,
            resource.RLIMIT_CPU: self.cpu_time_s,
        }

    def apply(self) -> None:
        """Set the rlimits on this process (call in the child between fork and exec)."""
        for kind, value in self.rlimits().items():
            soft, hard = resource.getrlimit(kind)
            # Never above what this process already has: an unprivileged host cannot raise a hard limit.
            value = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(kind, (value, value))

    def describe(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


DEFAULT_LIMITS = Limits()


# --------------------------------------------------------------------------- parent death

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


def _load_libc() -> Any:
    """libc, loaded here in the parent: the forked child must load nothing between fork and exec."""
    import ctypes

    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


_libc = _load_libc()


def die_with_parent() -> None:
    """In a child between fork and exec: be killed (SIGKILL) when the process that started it dies.

    So a grading whose process is killed (a batch worker, a Ray worker, Ctrl-C on the driver)
    leaves no trainer or sandboxed child running. Linux only; elsewhere nothing happens.
    Call after any setuid: a change of credentials clears the setting.
    """
    if _libc:
        import signal

        _libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)


def become_subreaper(on: bool = True) -> bool:
    """Make this process the one that adopts its orphaned descendants (Linux 3.4+): a trainer forked
    by a zygote (grader/train/zygote.py) becomes this process's child, which it waits for and
    kills like any other. False where that is not possible. (`on=False` undoes it: tests.)"""
    if not _libc:
        return False
    return _libc.prctl(_PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) == 0
