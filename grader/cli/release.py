"""`grade release`: write the challenge skeletons from the reference solutions (no Keras needed)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from grader import config
from grader.host.release import release as release_skeletons


@click.command()
@click.option("--check", is_flag=True, help="Only report skeletons that differ from their solution; exit 1 if any.")
@click.option(
    "--solutions",
    "solutions_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=config.SOLUTIONS_DIR,
    show_default=True,
    help="Folder of reference solutions.",
)
@click.option(
    "--challenges",
    "challenges_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=config.CHALLENGES_DIR,
    show_default=True,
    help="Folder the skeletons are written to.",
)
def release(check: bool, solutions_dir: Path, challenges_dir: Path) -> None:
    """Generate challenges/*.py from solutions/*.py (each solution region becomes a TODO)."""
    try:
        results = release_skeletons(solutions_dir=solutions_dir, challenges_dir=challenges_dir, check=check)
    except ValueError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(2)
    if not results:
        click.echo(f"error: no solutions (*.py) in {solutions_dir}", err=True)
        sys.exit(2)
    for result in results:
        state = "up to date" if result.up_to_date else ("out of date" if check else "written")
        click.echo(f"{result.skeleton}: {state}")
    if check and any(not result.up_to_date for result in results):
        click.echo("run `grade release` to regenerate them", err=True)
        sys.exit(1)
