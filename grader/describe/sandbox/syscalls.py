"""The seccomp filter of the sandbox: system calls a grading never needs are refused.

Built with libseccomp (through `pyseccomp`, its ctypes binding), never hand-assembled BPF.
Everything not listed is allowed: the filter takes away the kernel's most exposed surfaces
and every way to reach another process or the host's configuration, not the calls that
Python, NumPy and the Keras backends make.

- bubblewrap loads the compiled program (`--seccomp FD`) just before it runs the child;
- the uid fallback loads it in the child itself, after it has become its unprivileged user.

A refused call fails with EPERM (the program sees an ordinary error, never a crash), so a
library that probes for, say, `perf_event_open` goes on without it.
"""

from __future__ import annotations

import errno
import functools
import os
import tempfile
from typing import Any

# What each group would give a submission, and why a grading never needs it.
DENIED = (
    # Reading or steering another process: the grader, another sandbox's process.
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "pidfd_getfd",
    # The kernel keyrings (the host root's keys are reachable from a uid-0-mapped sandbox).
    "add_key",
    "request_key",
    "keyctl",
    # Kernel programs, performance counters, page-fault handlers: the usual ways into kernel bugs.
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    # Filesystems and namespaces: the sandbox's view of the host stays as bubblewrap built it.
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    "setns",
    "unshare",
    "name_to_handle_at",
    "open_by_handle_at",
    # The host itself: modules, rebooting, clocks, swap, accounting, quotas, the kernel log.
    "init_module",
    "finit_module",
    "delete_module",
    "kexec_load",
    "kexec_file_load",
    "reboot",
    "swapon",
    "swapoff",
    "acct",
    "quotactl",
    "syslog",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "sethostname",
    "setdomainname",
    "iopl",
    "ioperm",
    "vhangup",
    "lookup_dcookie",
    "uselib",
    "personality",
)


class FilterUnavailable(Exception):
    """libseccomp (or its Python binding) is not available on this host."""


def _new_filter() -> Any:
    try:
        import pyseccomp as seccomp
    except (ImportError, OSError) as err:  # OSError: the binding is there, libseccomp.so.2 is not
        raise FilterUnavailable(f"libseccomp is not available ({err}): apt-get install libseccomp2") from None
    try:
        fltr = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    except Exception as err:  # the library's own errors carry no common base class
        raise FilterUnavailable(f"libseccomp could not make a filter ({err})") from None
    for name in DENIED:
        try:
            fltr.add_rule(seccomp.ERRNO(errno.EPERM), name)
        except (RuntimeError, ValueError, OSError):
            continue  # a call this architecture or kernel does not have
    return fltr


@functools.lru_cache(maxsize=1)
def program() -> bytes:
    """The compiled BPF program, for bubblewrap's --seccomp."""
    fltr = _new_filter()
    with tempfile.TemporaryFile() as handle:
        fltr.export_bpf(handle)
        handle.seek(0)
        return handle.read()


def available() -> tuple[bool, str]:
    try:
        program()
    except FilterUnavailable as err:
        return False, str(err)
    return True, ""


def program_fd() -> int:
    """A readable file descriptor holding the program, from its start (bubblewrap reads it once)."""
    data = program()
    fd = os.memfd_create("grader-seccomp", os.MFD_CLOEXEC)  # Linux, as bubblewrap is
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def prepared_loader() -> Any:
    """A filter ready to load in a child between fork and exec (the uid fallback): built here,
    in the parent, so that the child only calls `load()`."""
    return _new_filter()
