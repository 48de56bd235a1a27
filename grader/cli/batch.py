"""`grade batch`: a thin click command over grader.batch.run.grade_batch."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from grader import config
from grader.cli.leaderboard import _db_option, _key_file_option
from grader.cli.options import isolated_only, warm_or_cold


@click.command()
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--challenge", help="Grade only this challenge (needed when each learner is one file, alice.py).")
@click.option(
    "--spec",
    "spec_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Use this challenge spec (TOML) instead of the built-in one.",
)
@click.option("--profile", default=config.DEFAULT_PROFILE, show_default=True)
@click.option("--device", type=click.Choice(config.DEVICES), default=config.DEFAULT_DEVICE, show_default=True)
@click.option("--seed", type=int, default=config.DEFAULT_SEED, show_default=True)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="GRADER_DATA_DIR",
    help="Folder with the raw datasets (default: the cache, then download).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the run folders (<learner>/<challenge>-<key>) and the gradebook "
    "(default: runs/batch). Keep it to resume the batch.",
)
@click.option(
    "--gradebook",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where the gradebook CSV goes (default: OUT/gradebook.csv).",
)
@_db_option
@click.option(
    "--engine",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="local: worker processes on this machine; ray: Ray tasks (a local cluster, or --address).",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Gradings at once on this machine, each on its own share of the cores (with --engine ray "
    "and no --address: the local cluster's CPUs).",
)
@click.option("--address", help="An existing Ray cluster (ray://host:10001 or auto); implies --engine ray.")
@warm_or_cold(
    "Local engine: each share of the cores keeps a worker that grades one job after another, "
    "with the next grading's sandbox and trainer started ahead (--cold: fresh processes for each)."
)
@isolated_only(
    "How to isolate each submission's code (`grade docs security`). A batch "
    "records gradings, so it never runs a submission unisolated."
)
@click.option("--sign", is_flag=True, help="Also write a record signed with the host's secret key per grading.")
@_key_file_option
@click.option(
    "--signed-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=config.DEFAULT_SIGNED_DIR,
    show_default=True,
    help="With --sign: where the signed records go (host only).",
)
def batch(
    source: Path,
    challenge,
    spec_path,
    profile,
    device,
    seed,
    data_dir,
    out_dir,
    gradebook,
    db_path,
    engine,
    jobs,
    address,
    warm,
    isolation,
    sign,
    key_file,
    signed_dir,
) -> None:
    """Grade every submission in SOURCE and record each once on the leaderboard database.

    SOURCE is a folder with one sub-folder per learner (alice/fashion.py), or one file per learner
    with --challenge; a CSV list (learner,path[,challenge]); or an nbgrader course (its submitted/
    folder). Run again, it grades only what is not recorded yet. Exit code: 0 every submission
    graded and recorded, 2 some could not be graded or recorded (see the gradebook), 130 interrupted.
    """
    from rich.console import Console

    from grader.batch.progress import batch_progress, render_summary
    from grader.batch.run import BatchError, grade_batch
    from grader.leaderboard import LeaderboardError
    from grader.leaderboard.signing import load_key

    key = None
    if sign:
        try:
            key = load_key(key_file)
        except LeaderboardError as err:
            raise click.ClickException(str(err)) from None
    console = Console()
    if not console.is_terminal:
        console = Console(width=120)
    try:
        with batch_progress(console) as events:
            summary = grade_batch(
                source=source,
                challenge=challenge,
                spec_path=spec_path,
                profile=profile,
                device=device,
                seed=seed,
                data_dir=data_dir,
                out_dir=out_dir,
                db_path=db_path,
                gradebook=gradebook,
                engine="ray" if address else engine,
                jobs=jobs,
                address=address,
                warm=warm,
                isolation=isolation,
                key=key,
                signed_dir=signed_dir if sign else None,
                events=events,
            )
    except (BatchError, RuntimeError, ValueError) as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(config.EXIT_NOT_GRADED)
    render_summary(summary, console)
    sys.exit(summary.exit_code)
