"""The terminal report and the live progress display, drawn with rich."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from rich.console import Console, Group
from rich.panel import Panel
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from grader.result import GradeResult

STAGE_TEXT = {
    "spec": "reading the challenge spec",
    "data": "loading the data",
    "build": "building your model (in a separate process)",
    "train": "training your model (in a separate process)",
    "evaluate": "evaluating on held-out data",
    "score": "scoring",
}


def _shape(shape: Any) -> str:
    return "x".join("?" if d is None else str(d) for d in shape) if shape else "-"


def checks_table(result: GradeResult) -> Table:
    table = Table(title="Checks", expand=True, show_lines=False)
    table.add_column("", width=2)
    table.add_column("Check", no_wrap=True)
    table.add_column("Points", justify="right", no_wrap=True)
    table.add_column("What we found")
    for check in result.checks:
        mark = Text("✓", style="green") if check.passed else Text("✗", style="red")
        points = f"{check.points:g}/{check.max_points:g}" + (" bonus" if check.bonus else "")
        body = Text(check.message)
        if check.hint and not check.passed:
            body.append("\nhint: ", style="bold yellow").append(check.hint, style="yellow")
        table.add_row(mark, check.title, points, body)
    return table


def summary_table(result: GradeResult) -> Table:
    """Your model beside the expected one, layer by layer; differing cells in red."""
    table = Table(title="Your model vs the expected one", expand=True)
    for column in ("Your layer", "Output", "Params", "Expected layer", "Output", "Params"):
        table.add_column(column, justify="right" if column == "Params" else "left")
    observed = [row for row in result.model_summary if row["type"] != "InputLayer"]
    expected = result.expected_summary
    shown = [row for row in observed if row["type"] in {e["type"] for e in expected}]
    for index in range(max(len(shown), len(expected))):
        got = shown[index] if index < len(shown) else None
        want = expected[index] if index < len(expected) else None
        cells = []
        for key in ("type", "output", "params"):
            g = _cell(got, key)
            w = _cell(want, key)
            differs = want is not None and (got is None or (want.get(key) is not None and g != w))
            cells.append(Text(g, style="red" if differs else ""))
        cells += [Text(_cell(want, k)) for k in ("type", "output", "params")]
        table.add_row(*cells)
    total = sum(row["params"] for row in observed)
    want_total = sum(e["params"] or 0 for e in expected)
    table.add_row(Text("total", style="bold"), "", Text(f"{total:,}", style="" if total == want_total else "red"),
                  Text("total", style="bold"), "", f"{want_total:,}")
    return table


def _cell(row: dict[str, Any] | None, key: str) -> str:
    if row is None:
        return "—"
    value = row.get(key)
    if value is None:
        return "any"
    if key == "output":
        return _shape(value)
    if key == "params":
        return f"{value:,}"
    return str(value)


def figures(result: GradeResult) -> Text:
    m = result.metrics
    text = Text()
    if m:
        text.append(f"test accuracy {m['test_accuracy']:.4f}   training {m['train_accuracy']:.4f}   "
                    f"validation {m['validation_accuracy']:.4f}   gap {m['gap']:+.4f}\n")
    epochs = len(result.history.get("loss", []))
    seconds = result.durations.get("train")
    if epochs:
        text.append(f"{epochs} epochs" + (f" in {seconds:.0f} s" if seconds else "") + f" on {result.device}, "
                    f"backend {result.backend}, seed {result.seed}\n")
    return text


def verdict_line(result: GradeResult) -> Text:
    if result.error:
        return Text(f"NOT GRADED: {result.error}", style="bold red")
    style = "bold green" if result.verdict == "passed" else "bold red"
    return Text(f"{result.verdict.upper()}  {result.score:g} / {result.max_score:g} points  "
                f"({result.challenge}, {result.mode}, profile {result.profile})", style=style)


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
    figures_text = figures(result)
    if figures_text:
        parts.append(figures_text)
    parts.append(verdict_line(result))
    if result.run_dir:
        parts.append(Text(f"details: {result.run_dir}/result.json", style="dim"))
    console.print(Group(*parts))


@contextmanager
def live_progress(console: Console, epochs: int) -> Iterator[Any]:
    """A spinner for each stage and a bar for the epochs. Yields an Events object."""
    from grader.pipeline import Events

    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                        TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                        console=console, transient=True)
    stage_task = progress.add_task("starting", total=None)
    epoch_task: list[Any] = []

    def on_stage(stage: str) -> None:
        progress.update(stage_task, description=STAGE_TEXT.get(stage, stage))

    def on_epoch(line: dict[str, Any]) -> None:
        if not epoch_task:
            epoch_task.append(progress.add_task("epochs", total=line.get("epochs", epochs)))
        acc = line.get("accuracy")
        val = line.get("val_accuracy")
        desc = "epochs" + (f"  accuracy {acc:.3f}" if acc is not None else "") + (
            f"  val {val:.3f}" if val is not None else "")
        progress.update(epoch_task[0], completed=line.get("epoch", 0), description=desc)

    with progress:
        yield Events(on_stage=on_stage, on_epoch=on_epoch)
