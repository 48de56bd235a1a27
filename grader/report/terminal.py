"""The terminal report and the live progress display, drawn with rich."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from grader.core.events import Events
from grader.core.result import GradeResult
from grader.core.text import clean
from grader.report import REPORT_FILE
from grader.report.rows import check_rows, figures_text, layer_rows, verdict_text

STAGE_TEXT = {
    "spec": "reading the challenge spec",
    "data": "loading the data",
    "build": "building your model (in a separate process)",
    "train": "training your model (in a separate process)",
    "functions": "calling your functions (in a separate process) and Keras' layers",
    "evaluate": "evaluating on held-out data",
    "score": "scoring",
}


def checks_table(result: GradeResult) -> Table:
    table = Table(title="Checks", expand=True, show_lines=False)
    table.add_column("", width=2)
    table.add_column("Check", no_wrap=True)
    table.add_column("Points", justify="right", no_wrap=True)
    table.add_column("What we found")
    for row in check_rows(result):
        mark = Text("✓", style="green") if row.check.passed else Text("✗", style="red")
        body = Text(row.message)
        if row.hint:
            body.append("\nhint: ", style="bold yellow").append(row.hint, style="yellow")
        table.add_row(mark, row.check.title, row.points, body)
    return table


def summary_table(result: GradeResult) -> Table:
    """Your model beside the expected one, layer by layer; differing cells in red."""
    table = Table(title="Your model vs the expected one", expand=True)
    for column in ("Your layer", "Output", "Params", "Expected layer", "Output", "Params"):
        table.add_column(column, justify="right" if column == "Params" else "left")
    for row in layer_rows(result):
        cells = [
            Text(c.text, style="red" if c.differs else ("bold" if row.is_total and i == 0 else ""))
            for i, c in enumerate(row.yours)
        ]
        cells += [Text(c.text, style="bold" if row.is_total and i == 0 else "") for i, c in enumerate(row.expected)]
        table.add_row(*cells)
    return table


def figures(result: GradeResult) -> Text:
    return Text("".join(line + "\n" for line in figures_text(result)))


def verdict_line(result: GradeResult) -> Text:
    style = "bold green" if result.verdict == "passed" else "bold red"
    return Text(verdict_text(result), style=style)


def render(result: GradeResult, console: Console, *, show_output: bool = False) -> None:
    if result.error:
        console.print(verdict_line(result))
        return
    parts: list[Any] = []
    if result.model_summary:
        parts.append(summary_table(result))
    parts.append(checks_table(result))
    if result.failure and result.failure.get("detail") and show_output:
        parts.append(Panel(result.failure["detail"], title="traceback", border_style="red"))
    if result.output.strip() and show_output:
        parts.append(Panel(result.output[-3000:], title="your program's output (end)"))
    measured = figures(result)
    if measured:
        parts.append(measured)
    parts.append(verdict_line(result))
    if result.run_dir:
        parts.append(Text(clean(f"details: {result.run_dir}/result.json"), style="dim"))
        report = Path(result.run_dir) / REPORT_FILE
        if result.mode == "submit" and report.exists():
            parts.append(Text(clean(f"report:  {report}"), style="dim"))
    console.print(Group(*parts))


def show_result(
    result: GradeResult, console: Console, *, as_json: bool, verbose: bool, stdout: Any = None, stderr: Any = None
) -> None:
    """What `grade check` and `grade submit` print at the end: the report (or the JSON result on
    `stdout`), then the isolation notice on `stderr` when the sandbox was weaker than namespaces."""
    import json
    import sys

    from grader.describe.sandbox.isolation import LEVELS, Isolation

    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    if as_json:
        stdout.write(json.dumps(result.to_dict(), indent=2) + "\n")
    else:
        render(result, console, show_output=verbose)
    if result.error is None and result.isolation in LEVELS and (notice := Isolation(result.isolation).notice()):
        stderr.write(notice + "\n")


@contextmanager
def live_progress(console: Console, epochs: int) -> Iterator[Any]:
    """A spinner for each stage, a bar for the epochs and one for the batches of the current
    epoch (with its running loss and accuracy). Yields an Events object."""
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[count]}"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[left]}"),
        console=console,
        transient=True,
    )
    stage_task = progress.add_task("starting", total=None, count="", left="")
    tasks: dict[str, Any] = {}

    def on_stage(stage: str) -> None:
        progress.update(stage_task, description=STAGE_TEXT.get(stage, stage))
        if stage != "train" and "batches" in tasks:  # training is over: its batch bar goes
            progress.update(tasks.pop("batches"), visible=False)

    def on_epoch(line: dict[str, Any]) -> None:
        total = line.get("epochs", epochs)
        if "epochs" not in tasks:
            tasks["epochs"] = progress.add_task("epochs", total=total, count="", left="")
        done = line.get("epoch", 0)
        progress.update(
            tasks["epochs"],
            completed=done,
            description="epochs   " + epoch_figures(line),
            count=f"{done}/{total}",
            left=time_left(line),
        )

    def on_batch(line: dict[str, Any]) -> None:
        steps = line.get("steps") if isinstance(line.get("steps"), int) else None
        if "batches" not in tasks:
            tasks["batches"] = progress.add_task("batches", total=steps, count="", left="")
        batch = line.get("batch", 0)
        progress.update(
            tasks["batches"],
            total=steps,
            completed=batch,
            count=f"{batch}/{steps or '?'}",
            description=f"epoch {line.get('epoch')}  " + epoch_figures(line),
        )

    with progress:
        yield Events(on_stage=on_stage, on_epoch=on_epoch, on_batch=on_batch)


def epoch_figures(line: dict[str, Any]) -> str:
    parts = [
        f"{key} {line[key]:.3f}"
        for key in ("loss", "accuracy", "val_accuracy")
        if isinstance(line.get(key), (int, float))
    ]
    return "  ".join(p.replace("val_accuracy", "val") for p in parts)


def time_left(line: dict[str, Any]) -> str:
    """'about 2 min left', from the trainer's estimate of the whole run."""
    total, spent = line.get("estimated_total_s"), line.get("seconds")
    if (
        not isinstance(total, (int, float))
        or not isinstance(spent, (int, float))
        or line.get("epoch") == line.get("epochs")
    ):
        return ""
    left = max(0.0, total - spent)
    return f"about {left / 60:.0f} min left" if left >= 90 else f"about {left:.0f} s left"


@contextmanager
def plain_progress(console: Console) -> Iterator[Any]:
    """For logs (CI, Gradescope): one plain line per stage and per epoch, nothing redrawn."""

    def on_stage(stage: str) -> None:
        console.print(f"grade: {STAGE_TEXT.get(stage, stage)}", highlight=False)

    def on_epoch(line: dict[str, Any]) -> None:
        left = time_left(line)
        console.print(
            f"grade: epoch {line.get('epoch')}/{line.get('epochs')}  {epoch_figures(line)}  "
            f"{line.get('seconds', 0):.0f} s" + (f", {left}" if left else ""),
            highlight=False,
        )

    yield Events(on_stage=on_stage, on_epoch=on_epoch)
