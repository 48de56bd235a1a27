"""Where the warm helper listens, who may talk to it, and how a message is framed.

The socket lives in a folder only this user can enter ($XDG_RUNTIME_DIR/cnn-grader, else
/tmp/cnn-grader-UID), refused if someone else owns it or may enter it. Its name carries the
helper's identity: the Python that runs it, the grader's version and code, and the
environment that changes a grading (GRADER_*, KERAS_*, thread counts, PATH). A command run
with another environment, or after the grader changed, reaches another helper, never a stale
one. The helper also checks that the peer on the socket is this same user.

A message is a 4-byte big-endian length, then that many bytes of JSON (at most MAX_MESSAGE).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import stat
import struct
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MAX_MESSAGE = 64 * 1024 * 1024  # a reply holds the JSON result or the rendered report
_IDENTITY_ENV_PREFIXES = ("GRADER_", "KERAS_")
_IDENTITY_ENV = (
    "PATH",
    "OMP_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
    "LANG",
    "LC_ALL",
    "TZ",
    "PYTHONPATH",
    "CUDA_VISIBLE_DEVICES",
)


class ProtocolError(Exception):
    """The socket folder is unsafe, or a message is malformed, too big or cut short."""


def runtime_dir() -> Path:
    """This user's private folder for the helper's socket, created 0700 and checked."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    folder = Path(base) / "cnn-grader" if base and os.path.isdir(base) else Path(f"/tmp/cnn-grader-{os.getuid()}")
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        info = os.lstat(folder)
    except OSError as err:
        raise ProtocolError(f"cannot make {folder}: {err.strerror}") from None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise ProtocolError(
            f"{folder} is not a private folder of this user (a link, someone else's, or open to others): remove it"
        )
    return folder


def identity() -> str:
    """What must be the same for a helper to grade as this command would: 16 hex digits."""
    import grader

    package = Path(grader.__file__).resolve().parent
    code = sorted(
        (str(p.relative_to(package)), p.stat().st_mtime_ns, p.stat().st_size)
        for p in package.rglob("*")
        if p.suffix in (".py", ".toml") and p.is_file()
    )
    env = sorted((k, v) for k, v in os.environ.items() if k.startswith(_IDENTITY_ENV_PREFIXES) or k in _IDENTITY_ENV)
    from grader import config

    stamp = json.dumps(
        [sys.executable, sys.version, getattr(grader, "__version__", ""), code, env, str(config.CHALLENGES_DIR)]
    )
    return hashlib.sha256(stamp.encode()).hexdigest()[:16]


def socket_path(folder: Path, ident: str) -> Path:
    return folder / f"warm-{ident}.sock"


UNIX_PATH_MAX = 100  # sun_path holds 108 bytes on Linux; leave room for the terminating NUL and slack


@contextlib.contextmanager
def unix_address(path: Path) -> Iterator[str]:
    """An address for bind() and connect() that names `path`, however long its folder's name.

    A socket's path must fit in 108 bytes; a runtime folder deep in a temporary tree need not. A
    longer one is reached through this process's descriptor of the folder (/proc/self/fd/N/NAME),
    which names the same file."""
    if len(os.fsencode(path)) <= UNIX_PATH_MAX:
        yield str(path)
        return
    folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{folder}/{path.name}"
    finally:
        os.close(folder)


def lock_path(folder: Path, ident: str) -> Path:
    return folder / f"warm-{ident}.lock"


def log_path(folder: Path, ident: str) -> Path:
    return folder / f"warm-{ident}.log"


def send(sock: socket.socket, doc: dict[str, Any]) -> None:
    data = json.dumps(doc).encode()
    if len(data) > MAX_MESSAGE:
        raise ProtocolError(f"message of {len(data):,} bytes, more than {MAX_MESSAGE:,}")
    sock.sendall(struct.pack(">I", len(data)) + data)


def receive(sock: socket.socket) -> dict[str, Any]:
    (length,) = struct.unpack(">I", _exactly(sock, 4))
    if length > MAX_MESSAGE:
        raise ProtocolError(f"message of {length:,} bytes announced, more than {MAX_MESSAGE:,}")
    try:
        doc = json.loads(_exactly(sock, length))
    except ValueError as err:
        raise ProtocolError(f"not JSON: {err}") from None
    if not isinstance(doc, dict):
        raise ProtocolError("not a JSON object")
    return doc


def _exactly(sock: socket.socket, count: int) -> bytes:
    chunks, left = [], count
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise ProtocolError("the connection closed in the middle of a message")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def peer_uid(sock: socket.socket) -> int:
    """The uid of the process at the other end of a Unix socket (SO_PEERCRED)."""
    _pid, uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    return uid
