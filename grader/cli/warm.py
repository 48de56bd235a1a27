"""`grade warm status|stop`: the helper of `grade check --warm` (grader/warm/)."""

from __future__ import annotations

import click


@click.group()
def warm() -> None:
    """The helper that keeps Keras imported for `grade check --warm`."""


@warm.command()
def status() -> None:
    """Say whether this environment's helper runs, and what it has ready."""
    from grader.warm.client import status as helper_status

    found = helper_status()
    if found is None:
        click.echo("no warm helper is running here; `grade check --warm FILE` starts one")
        return
    click.echo(
        f"warm helper {found.get('identity')} (pid {found.get('pid')}): {found.get('checks')} checks, "
        f"up {found.get('up_s')} s, stops after {found.get('idle_s')} s idle; ready: {found.get('ready')}"
    )


@warm.command()
def stop() -> None:
    """Stop this environment's helper (and the processes it has ready)."""
    from grader.warm.client import stop as stop_helper

    click.echo("stopped the warm helper" if stop_helper() else "no warm helper was running")
