"""`grade docs [TOPIC]`: the kit's documentation, shipped in the package.

Skeletons, hints and messages point at a topic by name ("`grade docs contract`"), which works the
same from a checkout and from a pip install (the wheel carries docs/ as grader/kit/docs).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from grader import config


def topics() -> dict[str, Path]:
    """{"contract": .../contract.md, ...}: every documentation page the kit ships."""
    return {path.stem: path for path in sorted(config.kit_dir("docs").glob("*.md"))}


def _title(path: Path) -> str:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip()
    return ""


@click.command(name="docs")
@click.argument("topic", required=False)
@click.option("--path", "show_path", is_flag=True, help="Print where the page is instead of the page.")
def docs(topic: str | None, show_path: bool) -> None:
    """Show the documentation page TOPIC (without one: list the pages)."""
    pages = topics()
    if topic is None:
        for name, path in pages.items():
            click.echo(f"{name:<13} {_title(path)}")
        click.echo("\nShow one with `grade docs TOPIC`.")
        return
    page = pages.get(topic.lower().removesuffix(".md"))
    if page is None:
        click.echo(f"Error: no documentation page named {topic!r}; the pages are: {', '.join(pages)}.", err=True)
        sys.exit(2)
    if show_path:
        click.echo(str(page))
        return
    text = page.read_text(encoding="utf-8")
    if sys.stdout.isatty():
        click.echo_via_pager(text)
    else:
        click.echo(text, nl=False)
