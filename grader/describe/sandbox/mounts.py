"""The few mounts the grader makes itself, as root (bubblewrap makes the sandbox's own).

- A work folder with a hard quota: a tmpfs of `disk_mb` and at most `MAX_ENTRIES` files,
  mounted on the box's work folder, owned by the sandbox's unprivileged uid. A submission that
  fills it gets "no space left" from the kernel, at once, whatever it writes; the parent reads
  what the child left there after it ended, then unmounts it with the box. Its pages are
  memory, charged to the sandbox's memory cgroup.
- The staging binds of the Python runtime, made in a mount namespace of the starting process's
  own (grader/describe/sandbox/isolation.py), which the host never sees.

Without root none of this is possible; the parent then measures the work folder while the
child runs (grader/describe/sandbox/runner.py).
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path
from typing import Any

MAX_ENTRIES = 10_000  # files and folders in a work folder, whichever way it is bounded

MS_NOSUID, MS_NODEV, MS_BIND, MS_REC, MS_PRIVATE = 0x2, 0x4, 0x1000, 0x4000, 0x40000
MNT_DETACH = 0x2
CLONE_NEWNS = 0x00020000


def _load_libc() -> Any:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
        libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
        return libc
    except (OSError, AttributeError):
        return None


libc = _load_libc()  # loaded here: a forked child between fork and exec loads nothing


def mount_quota(folder: Path, *, disk_mb: int, owner: int) -> bool:
    """Mount a tmpfs of `disk_mb` MB and MAX_ENTRIES files on the empty `folder`, owned by `owner`.
    False where this process may not mount (not root, or a host that forbids it)."""
    if libc is None or os.geteuid() != 0:
        return False
    options = f"size={disk_mb}m,nr_inodes={MAX_ENTRIES},mode=0700,uid={owner},gid={owner}".encode()
    return libc.mount(b"tmpfs", str(folder).encode(), b"tmpfs", MS_NOSUID | MS_NODEV, options) == 0


def unmount(folder: Path) -> None:
    """Detach a mount made on `folder` (its pages are freed once nothing uses them)."""
    if libc is not None and os.path.ismount(folder):
        libc.umount2(str(folder).encode(), MNT_DETACH)


def full(folder: Path) -> bool:
    """Whether the quota on `folder` ran out of space or files."""
    try:
        info = os.statvfs(folder)
    except OSError:
        return False
    return info.f_bavail * info.f_frsize < 1024 * 1024 or info.f_favail <= 1


def bind_staged(staged: dict[bytes, bytes]) -> None:
    """Between fork and exec, as root: a private mount namespace with each source bound onto its
    target (the host's mounts never change). Raises OSError when refused."""
    if libc is None or libc.unshare(CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno() if libc else 0, "cannot make a private mount namespace")
    if libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        raise OSError(ctypes.get_errno(), "cannot make the mounts private")
    for source, target in staged.items():
        if libc.mount(source, target, None, MS_BIND | MS_REC, None) != 0:
            raise OSError(ctypes.get_errno(), f"cannot stage {source!r}")
