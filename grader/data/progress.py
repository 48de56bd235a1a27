"""Optional rich progress bars (downloads, photo decoding), on stderr."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager


def wanted(progress: bool | None) -> bool:
    """Bars only when asked for: None (the default) means none, so library callers that draw their
    own live display (`grade submit`) never get a second one. The CLI asks when stderr is a terminal."""
    return bool(progress)


@contextmanager
def bar(
    description: str, total: int | None, enabled: bool, *, in_bytes: bool = False
) -> Iterator[Callable[[int], None]]:
    """Yields advance(n). A no-op unless enabled; the bar disappears when done."""
    if not enabled:
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = [DownloadColumn(), TransferSpeedColumn()] if in_bytes else [MofNCompleteColumn(), TimeRemainingColumn()]
    with Progress(
        "[progress.description]{task.description}", BarColumn(), *columns, console=Console(stderr=True), transient=True
    ) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n: progress.advance(task, n)
