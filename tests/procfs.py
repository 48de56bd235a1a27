"""A process's state and parent, read from /proc/PID/stat, for the tests that look for leftovers."""

from __future__ import annotations

from pathlib import Path


def _fields(pid: int | str) -> list[str] | None:
    # The command name in parentheses may hold spaces or ')': the fields after the last ')' are fixed.
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None  # gone meanwhile


def state(pid: int | str) -> str | None:
    """'R', 'S', 'Z' ...; None when the process is gone."""
    fields = _fields(pid)
    return fields[0] if fields else None


def parent(pid: int | str) -> int | None:
    """The parent's pid; None when the process is gone."""
    fields = _fields(pid)
    try:
        return int(fields[1]) if fields else None
    except (ValueError, IndexError):
        return None
