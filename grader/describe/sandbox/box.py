"""The sandbox's folders on the host, and reading back what the child left there as hostile input.

    <tmp>/grader-box-XXXX/        private to this run (0711: others may pass, not list)
        inputs/                   what the parent gives the child, read-only to it
        work/                     the child's only writable place

Nothing here is the run folder: the parent writes result.json, the report and the model only
into the run folder, which the child never sees. Every read from `work/` opens the file with
O_NOFOLLOW and O_NONBLOCK (a symlink or a FIFO planted there is refused, not followed or
waited on), checks that it is a regular file and reads at most a given number of bytes.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from grader.core.bounded import ParseRefused, load_npy, loads_json
from grader.describe.sandbox import mounts


class BoxFileError(Exception):
    """A file the child left is missing, not a regular file, too big or malformed."""


def passable_by_others(folder: Path) -> bool:
    """Whether a user other than the owner can pass through `folder` and every folder above it."""
    try:
        return all(os.stat(p).st_mode & stat.S_IXOTH for p in (folder, *folder.parents))
    except OSError:
        return False


ROOT_BOX_FOLDER = Path("/run/cnn-grader-boxes")  # root's own, where no temp folder will do


def box_parent() -> str | None:
    """Where boxes are made: the temp folder, except that as root the sandbox runs as an
    unprivileged uid, which must reach its work folder. A temp folder under a private one (a
    test's, a CI job's) then gives way to /tmp or /var/tmp, and where neither can be passed
    (a /tmp left at 0700) to a folder of root's own that can."""
    here = Path(tempfile.gettempdir())
    if os.geteuid() != 0 or passable_by_others(here):
        return None
    for candidate in (Path("/tmp"), Path("/var/tmp")):
        if candidate.is_dir() and passable_by_others(candidate):
            return str(candidate)
    ROOT_BOX_FOLDER.mkdir(mode=0o711, parents=True, exist_ok=True)
    os.chmod(ROOT_BOX_FOLDER, 0o711)
    return str(ROOT_BOX_FOLDER)


LOCK_NAME = ".lock"  # held by the process that made the box, for as long as the box is in use


def sweep_stale_boxes(parent: Path, prefix: str = "grader-box-") -> None:
    """Remove the boxes of graders that died (killed before they could remove them), with the
    quota mount a root grading leaves on their work folder. A box whose lock is held is in use."""
    for root in parent.glob(f"{prefix}*"):
        lock = root / LOCK_NAME
        try:
            handle = open(lock, "r+")
        except OSError:
            continue  # no lock file: not a box of this grader, or not ours to judge
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue
            mounts.unmount(root / "work")
            _remove_tree(str(root))


class Box:
    def __init__(self, prefix: str = "grader-box-"):
        parent = box_parent()
        if os.geteuid() == 0:  # only root leaves mounts behind
            sweep_stale_boxes(Path(parent or tempfile.gettempdir()), prefix)
        self.root = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
        self.removed = False
        self._lock = open(self.root / LOCK_NAME, "w")
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        os.chmod(self.root, 0o711)
        self.inputs = self.root / "inputs"
        self.work = self.root / "work"
        self.inputs.mkdir(mode=0o755)
        self.work.mkdir(mode=0o777)
        os.chmod(self.work, 0o777)

    def add_input(self, name: str, data: bytes | str) -> Path:
        path = self.inputs / name
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        os.chmod(path, 0o644)
        return path

    def add_array(self, name: str, array: np.ndarray) -> Path:
        path = self.inputs / name
        np.save(path, array, allow_pickle=False)
        os.chmod(path, 0o644)
        return path

    def usage(self, max_entries: int = 10_000) -> tuple[int, int]:
        """(bytes, entries) in work/, counted without following links; stops counting at max_entries."""
        total, entries = 0, 0
        stack = [str(self.work)]
        while stack and entries < max_entries:
            try:
                with os.scandir(stack.pop()) as scan:
                    for entry in scan:
                        entries += 1
                        try:
                            info = entry.stat(follow_symlinks=False)
                        except OSError:
                            continue
                        total += info.st_blocks * 512
                        if stat.S_ISDIR(info.st_mode):
                            stack.append(entry.path)
            except OSError:
                continue
        return total, entries

    def remove(self) -> None:
        """Delete the box, whatever the child left in it (read-only folders included); idempotent.

        Only what lies inside the box ever changes mode: the box's own parent is the system's
        temp folder, which a grading as root must leave exactly as it found it.
        """
        if self.removed:
            return
        self.removed = True
        mounts.unmount(self.work)  # a root grading's quota on the work folder
        _remove_tree(os.path.realpath(self.root))
        self._lock.close()


def _remove_tree(root: str) -> None:
    """Delete `root` whatever is in it; only folders inside it ever change mode."""

    def unlock(function: Any, path: str, _exc: Any) -> None:
        for target in (os.path.dirname(path), path):
            inside = os.path.realpath(target)
            if os.path.islink(target) or (inside != root and not inside.startswith(root + os.sep)):
                continue  # never the temp folder, never anything a link points at
            try:
                os.chmod(target, 0o700)
            except OSError:
                pass
        try:
            function(path)
        except OSError:
            pass

    if os.path.isdir(root) and not os.path.islink(root):
        shutil.rmtree(root, onerror=unlock)


def read_bounded(folder: Path, name: str, max_bytes: int) -> bytes:
    """The bytes of folder/name: a regular file of at most max_bytes, never through a link."""
    if "/" in name or name in ("", ".", ".."):
        raise BoxFileError(f"bad file name {name!r}")
    try:
        fd = os.open(folder / name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise BoxFileError(f"{name} is missing") from None
    except OSError as err:
        raise BoxFileError(
            f"{name} cannot be opened ({err.strerror}): a link or something else planted there"
        ) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise BoxFileError(f"{name} is not a regular file")
        if info.st_size > max_bytes:
            raise BoxFileError(f"{name} is {info.st_size:,} bytes, more than the {max_bytes:,} allowed")
        chunks, left = [], max_bytes + 1
        while left > 0 and (chunk := os.read(fd, min(left, 1 << 20))):
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        if len(data) > max_bytes:
            raise BoxFileError(f"{name} grew past the {max_bytes:,} bytes allowed")
        return data
    finally:
        os.close(fd)


def read_json(folder: Path, name: str, max_bytes: int) -> dict[str, Any]:
    """A JSON object from the box; any problem is a BoxFileError."""
    try:
        doc = loads_json(read_bounded(folder, name, max_bytes), name)
    except ParseRefused as err:
        raise BoxFileError(str(err)) from None
    if not isinstance(doc, dict):
        raise BoxFileError(f"{name} is not a JSON object")
    return doc


def read_array(folder: Path, name: str, *, rows: int, max_bytes: int) -> np.ndarray:
    """A numeric .npy array of `rows` rows from the box: no pickles, no objects, bounded size."""
    data = read_bounded(folder, name, max_bytes)
    try:
        array = load_npy(data, name)  # the header is checked against the bytes before any allocation
    except ParseRefused as err:
        raise BoxFileError(str(err)) from None
    if array.ndim == 0 or array.shape[0] != rows:
        raise BoxFileError(f"{name} has shape {array.shape}, {rows} rows expected")
    return array
