"""`grade leaderboard show`: the boards as terminal tables."""

from __future__ import annotations

from rich.console import Console, JustifyMethod
from rich.table import Table

from grader.leaderboard.ranking import Board
from grader.leaderboard.site import half_note


def board_table(board: Board) -> Table:
    table = Table(title=f"{board.challenge} (profile {board.profile}, {board.half} half)", title_justify="left")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("rank", "right"),
        ("learner", "left"),
        ("score", "right"),
        ("accuracy", "right"),
        ("gap", "right"),
        ("date (UTC)", "left"),
        ("entries", "right"),
    )
    for column, justify in columns:
        table.add_column(column, justify=justify, no_wrap=True)
    for s in board.standings:
        table.add_row(
            str(s.rank),
            s.learner,
            f"{s.score:g} / {s.max_score:g}",
            "—" if s.accuracy is None else f"{s.accuracy:.4f}",
            "—" if s.gap is None else f"{s.gap:+.4f}",
            s.submitted_at[:16].replace("T", " "),
            str(s.submissions),
        )
    return table


def print_boards(boards: list[Board], *, final: bool, console: Console | None = None) -> None:
    if console is None:
        console = Console()
        if not console.is_terminal:
            console = Console(width=120)  # logs and pipes: wide enough for the table
    if not boards:
        console.print("No submissions recorded yet.")
        return
    console.print(half_note(final), soft_wrap=True)
    for board in boards:
        console.print(board_table(board))
