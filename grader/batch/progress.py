"""What `grade batch` shows while it works: a live bar in a terminal, one line per submission in a log."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from grader.batch.gradebook import Row
from grader.batch.run import RESUMED_NOTE, BatchEvents, BatchSummary


class Tally:
    """Counts and throughput of one batch: what both front ends show."""

    def __init__(self) -> None:
        self.total = self.before = 0
        self.counts = {"passed": 0, "failed": 0, "not_graded": 0}
        self.started = time.perf_counter()
        self.graded_here = 0

    def add(self, row: Row) -> None:
        self.counts[row.verdict] = self.counts.get(row.verdict, 0) + 1
        if row.note != RESUMED_NOTE:
            self.graded_here += 1

    def text(self) -> str:
        return (
            f"passed {self.counts['passed']} · failed {self.counts['failed']} · could not grade "
            f"{self.counts['not_graded']}" + (f" · recorded before {self.before}" if self.before else "")
        )

    def rate(self) -> str:
        minutes = (time.perf_counter() - self.started) / 60
        return f"{self.graded_here / minutes:.1f}/min" if minutes > 0 and self.graded_here else ""


def _row_line(row: Row) -> str:
    if row.verdict == "not_graded":
        return f"{row.learner} {row.challenge}: could not grade: {row.reason or row.note}"
    points = f"{row.points:g}/{row.max_points:g}" if row.points is not None else ""
    return f"{row.learner} {row.challenge}: {row.verdict} {points}" + (f" ({row.note})" if row.note else "")


@contextmanager
def batch_progress(console: Console) -> Iterator[BatchEvents]:
    tally = Tally()
    if not console.is_terminal:
        done = 0

        def on_plan(total: int, before: int) -> None:
            tally.total, tally.before = total, before
            console.print(
                f"grading {total} submission{'s' if total != 1 else ''}"
                + (f" ({before} recorded by an earlier run)" if before else ""),
                highlight=False,
            )

        def on_done(row: Row) -> None:
            nonlocal done
            done += 1
            tally.add(row)
            console.print(f"[{done}/{tally.total}] {_row_line(row)}", highlight=False, markup=False)

        yield BatchEvents(on_plan=on_plan, on_done=on_done)
        return

    progress = Progress(
        TextColumn("[bold]grading"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[counts]}"),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )
    task = progress.add_task("grading", total=None, counts="", rate="")

    def bar_on_plan(total: int, before: int) -> None:
        tally.total, tally.before = total, before
        progress.update(task, total=total, counts=tally.text())

    def bar_on_done(row: Row) -> None:
        tally.add(row)
        if row.note != RESUMED_NOTE:
            progress.console.print(_row_line(row), highlight=False, markup=False)
        progress.update(task, advance=1, counts=tally.text(), rate=tally.rate())

    with progress:
        yield BatchEvents(on_plan=bar_on_plan, on_done=bar_on_done)


def render_summary(summary: BatchSummary, console: Console) -> None:
    from rich.table import Table

    counts = summary.counts
    table = Table(title="grade batch", show_edge=False)
    for column in ("learner", "challenge", "points", "verdict", "test acc.", "gap", "note"):
        table.add_column(column, overflow="fold")
    for row in sorted(summary.rows, key=lambda r: r.index):
        points = f"{row.points:g}/{row.max_points:g}" if row.points is not None else ""
        table.add_row(
            row.learner,
            row.challenge,
            points,
            row.verdict.replace("_", " "),
            "" if row.test_accuracy is None else f"{row.test_accuracy:.4f}",
            "" if row.gap is None else f"{row.gap:+.4f}",
            (row.note or (row.reason if row.verdict == "not_graded" else ""))[:120],
        )
    console.print(table)
    for what, why in summary.skipped:
        console.print(f"skipped {what}: {why}", highlight=False, markup=False)
    console.print(
        f"{len(summary.rows)} submissions: {counts['passed']} passed, {counts['failed']} failed, "
        f"{counts['not_graded']} could not be graded"
        + (f"; {summary.recorded_before} were recorded by an earlier run" if summary.recorded_before else ""),
        highlight=False,
    )
    if summary.gradebook_problem:
        console.print(
            f"error: {summary.gradebook_problem}; every grading is in the database (grade leaderboard "
            "show) and in its run folder",
            style="red",
            highlight=False,
            markup=False,
        )
    else:
        console.print(f"gradebook: {summary.gradebook}", highlight=False)
    if summary.interrupted:
        console.print(
            "interrupted: run the same command again to grade the rest (nothing graded is graded twice)",
            style="yellow",
            highlight=False,
        )
