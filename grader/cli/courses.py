"""`grade nbgrader ...` and `grade gradescope ...`: the kit on course platforms.

Thin click commands over grader.integrations; nothing heavy is imported at module level,
so `grade --help` stays instant.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from grader import config

EXIT_BAD_INPUT = 2


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_BAD_INPUT)


@click.group(name="nbgrader")
def nbgrader() -> None:
    """Build an nbgrader course from the challenges."""


@nbgrader.command(name="build")
@click.argument("challenges", nargs=-1)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("course"),
    show_default=True,
    help="The nbgrader course folder to write (source/<challenge>/<challenge>.ipynb).",
)
@click.option(
    "--profile",
    default=config.DEFAULT_PROFILE,
    show_default=True,
    help="The profile whose target accuracy the callback test uses.",
)
def nbgrader_build(challenges: tuple[str, ...], out_dir: Path, profile: str) -> None:
    """Write a notebook per challenge (default: all) with nbgrader solution and test cells.

    Then, in OUT: `nbgrader generate_assignment <challenge>` for the learners' version, and
    `nbgrader autograde <challenge>` to grade what they hand in.
    """
    from grader.integrations.nbgrader_build import BuildError, build_course

    try:
        written, skipped = build_course(out_dir=out_dir, challenges=list(challenges) or None, profile=profile)
    except BuildError as err:
        _fail(str(err))
    for name, reason in skipped.items():
        click.echo(f"skipped {name}: {reason}")
    if not written:
        _fail("no notebook was written")
    for notebook in written:
        click.echo(f"{notebook.path}: {len(notebook.tests)} test cells, {notebook.points:g} points")
    click.echo(f"next: cd {out_dir} && nbgrader generate_assignment {written[0].challenge}")


@click.group(name="gradescope")
def gradescope() -> None:
    """Gradescope's autograder zip and results.json."""


@gradescope.command(name="bundle")
@click.argument("challenge")
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The zip to write (default: gradescope-<challenge>.zip).",
)
@click.option(
    "--profile", default=config.DEFAULT_PROFILE, show_default=True, help="The profile submissions are graded with."
)
@click.option(
    "--spec",
    "spec_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Grade against this spec (TOML) instead of the built-in one, e.g. with other thresholds.",
)
def gradescope_bundle(challenge: str, out_path: Path | None, profile: str, spec_path: Path | None) -> None:
    """Write the autograder zip (setup.sh, run_autograder, the kit) for CHALLENGE."""
    from grader.integrations.gradescope_bundle import build_bundle
    from grader.spec import SpecError

    try:
        bundle = build_bundle(
            challenge=challenge,
            out_path=out_path or Path(f"gradescope-{challenge}.zip"),
            profile=profile,
            spec_path=spec_path,
        )
    except SpecError as err:
        _fail(str(err))
    click.echo(
        f"{bundle.path}: Gradescope autograder for {bundle.challenge} (profile {bundle.profile}), "
        f"{bundle.files} files, with the versions tested on Python {', '.join(bundle.pythons)}. Upload it as "
        f"the assignment's autograder (an Ubuntu base image with one of those Pythons: 22.04 has 3.10)."
    )


@gradescope.command(name="constraints")
def gradescope_constraints() -> None:
    """Print the versions of every package the kit uses here (a constraints file for this Python).

    Run it where the tests pass on another Python and keep the output as
    grader/integrations/constraints/python3.X.txt: bundles then carry it for Gradescope images with
    that Python.
    """
    from grader.integrations.gradescope_bundle import tested_constraints

    click.echo(tested_constraints(), nl=False)


@gradescope.command(name="export")
@click.argument("result_path", type=click.Path(path_type=Path))
@click.option(
    "--to",
    "to_path",
    type=click.Path(path_type=Path),
    help="Where to write results.json (a .json file, or a folder; default: print it).",
)
def gradescope_export(result_path: Path, to_path: Path | None) -> None:
    """Turn RESULT_PATH (a result.json, or the run folder holding it) into Gradescope's results.json."""
    from grader.integrations.gradescope import gradescope_results, write_results

    path = result_path / "result.json" if result_path.is_dir() else result_path
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        _fail(f"no such file: {path}")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        _fail(f"cannot read {path} as a result document: {err}")
    if not isinstance(result, dict) or "checks" not in result or "score" not in result:
        _fail(f"{path} is not a result.json written by `grade` (no checks or score)")
    if to_path is None:
        click.echo(json.dumps(gradescope_results(result), indent=2))
    else:
        click.echo(f"wrote {write_results(result, to_path)}")


# --------------------------------------------------------------------------- grade submit --format gradescope


def gradescope_submit_options(fn):
    """`--format` and `--results` for `grade submit`; they arrive as output_format and results_path."""
    fn = click.option(
        "--results",
        "results_path",
        type=click.Path(path_type=Path),
        help="With --format gradescope: where to write results.json (a .json file, or a folder; default: "
        "the run folder). Written even when the submission could not be graded.",
    )(fn)
    fn = click.option(
        "--format",
        "output_format",
        type=click.Choice(["report", "json", "gradescope"]),
        default="report",
        show_default=True,
        help="report: the table; json: the result document (like --json); gradescope: the report, "
        "and Gradescope's results.json.",
    )(fn)
    return fn


def write_gradescope_output(result, results_path: Path | None) -> None:
    """After `grade submit --format gradescope`: results.json where asked, else in the run folder.

    A submission that could not be graded has no run folder (nothing in --out is touched), so
    without --results there is nowhere to write, and the report already says why.
    """
    from grader.integrations.gradescope import write_results

    target = results_path if results_path is not None else (Path(result.run_dir) if result.run_dir else None)
    if target is None:
        click.echo("results.json not written: nothing was graded (pass --results FILE to write it anyway)", err=True)
        return
    click.echo(f"Gradescope results: {write_results(result.to_dict(), target)}", err=True)
