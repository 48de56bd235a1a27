"""Write-then-rename helpers, so that a failure never leaves a half-written file or folder."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _normal_mode(path: Path, mode: int) -> None:
    """mkdtemp/mkstemp create private (0700/0600) entries; give them the usual permissions."""
    os.chmod(path, mode & ~_umask())


def _missing_ancestors(path: Path) -> list[Path]:
    """The folders above path that do not exist yet, deepest first."""
    missing = []
    for parent in path.parents:
        if parent.exists():
            break
        missing.append(parent)
    return missing


@contextmanager
def staging_dir(final: Path) -> Iterator[Path]:
    """A fresh temporary folder beside `final`, for work that replace_dir() later moves into place.

    On failure it is deleted, and so are the parent folders created for it (if still empty),
    so a failed attempt leaves the cache exactly as it was.
    """
    created = _missing_ancestors(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.tmp-"))
    _normal_mode(staging, 0o777)
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        for folder in created:
            try:
                folder.rmdir()
            except OSError:
                break  # not empty: something else lives there now
        raise
    shutil.rmtree(staging, ignore_errors=True)  # normally gone already (moved into place)


def replace_dir(staging: Path, final: Path) -> None:
    """Move a finished staging folder to `final`, replacing any previous version."""
    old = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:8]}")
    had_old = final.exists()
    if had_old:
        os.rename(final, old)
    try:
        os.rename(staging, final)
    except OSError:
        if had_old and not final.exists():
            os.rename(old, final)  # put the previous version back: a failure changes nothing
            raise
        if not final.exists():
            raise
        # Another process put its own (equally complete) copy in place first: keep that one.
    if had_old:
        shutil.rmtree(old, ignore_errors=True)


def copy_file(source: Path, target: Path) -> None:
    """Copy source to target through a temporary file in target's folder."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.tmp-")
    os.close(handle)
    try:
        shutil.copyfile(source, temporary)
        _normal_mode(Path(temporary), 0o666)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
