"""Options that more than one `grade` command takes, defined once."""

from __future__ import annotations

import click

from grader import config


def isolated_only(help_text: str):
    """--isolation for commands that record gradings: every mode but none (`grade docs security`)."""
    return click.option(
        "--isolation",
        type=click.Choice(["auto", "namespaces", "uid"]),
        default=None,
        envvar="GRADER_ISOLATION",
        help=help_text,
    )


def warm_or_cold(help_text: str):
    """--warm/--cold: warm workers on this machine (grader/batch/warm.py), or fresh processes."""
    return click.option("--warm/--cold", default=config.BATCH_WARM, show_default=True, help=help_text)
