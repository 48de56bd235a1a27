"""`grade calibrate`: train a reference on many seeds and propose tiers (grader/host/calibrate.py)."""

from __future__ import annotations

from pathlib import Path

import click

from grader import config


@click.command()
@click.argument("challenge")
@click.option("--profile", default=config.DEFAULT_PROFILE, show_default=True, help="The profile to calibrate.")
@click.option("--seeds", type=click.IntRange(1, 1000), default=20, show_default=True, help="How many seeds to train.")
@click.option("--first-seed", type=int, default=1, show_default=True, help="Seeds run from this one upwards.")
@click.option(
    "--solution",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The model to train (default: solutions/CHALLENGE.py). Use a stretch model with --stretch.",
)
@click.option("--stretch", is_flag=True, help="Propose the stretch tiers (train a stretch model with --solution).")
@click.option("--spec", "spec_path", type=click.Path(dir_okay=False, path_type=Path), help="Another spec (TOML).")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="GRADER_DATA_DIR",
    help="Folder with the raw datasets.",
)
@click.option(
    "--device",
    type=click.Choice(config.DEVICES),
    default="cpu",
    show_default=True,
    help="Where to train. The shipped tiers are measured on the CPU; a host grading on its GPUs "
    "calibrates there with --device gpu.",
)
@click.option(
    "--record",
    "record_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Keep each seed's figures in this file (JSON lines) as it finishes; seeds already in it "
    "are not trained again, so an interrupted calibration resumes where it stopped.",
)
@click.option(
    "--markdown",
    "markdown_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also append the table and the proposal to this Markdown file.",
)
def calibrate(
    challenge, profile, seeds, first_seed, solution, stretch, spec_path, data_dir, device, record_path, markdown_path
) -> None:
    """Grade a reference on SEEDS seeds; print min/median/max and proposed tiers.

    Each seed is a full `grade submit` (on the CPU unless --device says otherwise), so this takes
    SEEDS times one grading.
    """
    from grader.host.calibrate import CalibrationError, report_markdown
    from grader.host.calibrate import calibrate as run_calibration
    from grader.spec import SpecError, load_spec

    try:
        spec = load_spec(spec_path or challenge)
        spec.profile(profile)
    except SpecError as err:
        raise click.UsageError(str(err)) from None

    def progress(run, recorded: bool) -> None:
        click.echo(
            f"seed {run.seed:>4}: test accuracy {run.test_accuracy:.4f}  gap {run.gap:+.4f}  "
            f"{run.epochs} epochs  {run.score:g}/{run.max_score:g}" + ("  (recorded)" if recorded else ""),
            err=True,
        )

    try:
        result = run_calibration(
            challenge=spec.name,
            profile=profile,
            seeds=seeds,
            first_seed=first_seed,
            solution=solution,
            spec_path=spec_path,
            data_dir=data_dir,
            device=device,
            record=record_path,
            on_run=progress,
        )
    except CalibrationError as err:
        raise click.UsageError(str(err)) from None
    if not result.runs:
        raise click.ClickException("no seed gave figures: " + "; ".join(result.errors))
    text = report_markdown(result, spec, stretch=stretch)
    click.echo(text)
    if markdown_path:
        with open(markdown_path, "a", encoding="utf-8") as out:
            out.write("\n" + text)
