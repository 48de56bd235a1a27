"""The `grade` command line: thin click commands over plain functions.

Each command parses its options and calls one function that does the work (and that tests
and other tools call directly). Heavy imports (numpy, Keras) happen inside the commands, so
`grade --help` is instant.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from grader import config
from grader.cli.courses import gradescope_submit_options
from grader.cli.leaderboard import leaderboard_submit_options

PROFILES_HELP = "quick: a subset and few epochs, sized for a laptop CPU; full: the whole dataset, for a GPU"


def _common_options(fn):
    fn = click.option("--challenge", help="Challenge name; by default the file name (fashion.py -> fashion).")(fn)
    fn = click.option(
        "--spec",
        "spec_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Use this challenge spec (TOML) instead of the built-in one.",
    )(fn)
    fn = click.option(
        "--out",
        "out_dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="Folder for the run's files (default: runs/<challenge>-<time>-<hash>).",
    )(fn)
    fn = click.option("--json", "as_json", is_flag=True, help="Print the JSON result instead of the report.")(fn)
    fn = click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="GRADER_DATA_DIR",
        help="Folder with the raw datasets (default: the cache, then download).",
    )(fn)
    fn = click.option("--verbose", "-v", is_flag=True, help="Also show tracebacks and your program's output.")(fn)
    fn = click.option(
        "--isolation",
        type=click.Choice(["auto", "namespaces", "uid", "none"]),
        default=None,
        envvar="GRADER_ISOLATION",
        help="How to isolate the submission's code (`grade docs security`). auto: bubblewrap namespaces, "
        "else the uid fallback as root, else none (feedback only).",
    )(fn)
    return fn


class _Commands(click.Group):
    """Ctrl-C ends any command with exit code 130, as shells expect, not click's 1 ("graded, failed")."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            click.echo("\ngrade: interrupted", err=True)
            sys.exit(config.EXIT_INTERRUPTED)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cnn-grader")
def main() -> None:
    """Check and grade Keras CNN challenge submissions."""


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@_common_options
@click.option(
    "--warm",
    is_flag=True,
    envvar="GRADER_WARM",
    help="Answer through a helper that keeps Keras imported between checks (started on first use, "
    "stopped after 15 idle minutes; `grade warm stop`). Each check still gets a fresh sandbox.",
)
def check(path: Path, challenge, spec_path, out_dir, as_json, data_dir, verbose, isolation, warm) -> None:
    """Check the architecture of PATH in seconds, without training."""
    options = dict(
        path=path, challenge=challenge, spec_path=spec_path, out_dir=out_dir, data_dir=data_dir, isolation=isolation
    )
    if warm:
        from grader.warm.client import WarmUnavailable, check_warm

        try:
            reply = check_warm(as_json=as_json, verbose=verbose, **options)
        except WarmUnavailable as why:
            click.echo(f"grade: the warm helper is not available ({why}); checking without it", err=True)
        else:
            sys.stdout.write(reply.stdout)
            sys.stderr.write(reply.stderr)
            sys.exit(reply.exit_code)
    _run_grading(
        as_json=as_json,
        verbose=verbose,
        train=False,
        profile=config.DEFAULT_PROFILE,
        device="cpu",
        seed=config.DEFAULT_SEED,
        **options,
    )


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@_common_options
@click.option("--profile", default=config.DEFAULT_PROFILE, show_default=True, help=PROFILES_HELP)
@click.option(
    "--device",
    type=click.Choice(config.DEVICES),
    default=config.DEFAULT_DEVICE,
    show_default=True,
    help="Where to train: a GPU when one is visible (auto), or force one.",
)
@click.option("--seed", type=int, default=config.DEFAULT_SEED, show_default=True, help="Random seed for training.")
@leaderboard_submit_options
@gradescope_submit_options
@click.option(
    "--to",
    "to_url",
    metavar="URL",
    help="Send it to a live challenge instead (grade serve at URL), with the token in $GRADER_TOKEN or --token-file.",
)
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="With --to: a file holding your token (instead of $GRADER_TOKEN).",
)
def submit(
    path: Path,
    challenge,
    spec_path,
    out_dir,
    as_json,
    data_dir,
    verbose,
    isolation,
    profile,
    device,
    seed,
    output_format,
    results_path,
    to_url,
    token_file,
    **leaderboard,
) -> None:
    """Train PATH (.py or .ipynb) in isolation, evaluate it on held-out data, and score it.

    Exit code: 0 passed, 1 graded but failed, 2 could not grade (or, with --learner, not recorded).
    """
    if to_url:
        from grader.cli.serve import submit_remote

        submit_remote(path=path, url=to_url, challenge=challenge, token_file=token_file, as_json=as_json)
        return
    as_json = as_json or output_format == "json"
    _run_grading(
        path=path,
        challenge=challenge,
        spec_path=spec_path,
        out_dir=out_dir,
        as_json=as_json,
        data_dir=data_dir,
        verbose=verbose,
        train=True,
        profile=profile,
        device=device,
        seed=seed,
        leaderboard=leaderboard,
        output_format=output_format,
        results_path=results_path,
        isolation=isolation,
    )


def _run_grading(
    *,
    as_json: bool,
    verbose: bool,
    train: bool,
    leaderboard: dict | None = None,
    output_format: str = "report",
    results_path: Path | None = None,
    **options,
) -> None:
    from rich.console import Console

    from grader.cli.leaderboard import finish_leaderboard_submission, start_leaderboard_submission
    from grader.pipeline import grade
    from grader.report.terminal import live_progress, plain_progress, show_result

    # Leaderboard mode (--learner): the daily cap is checked before training, the result recorded after.
    board_run = start_leaderboard_submission(leaderboard, options) if leaderboard else None

    if output_format == "gradescope":
        options["require_isolation"] = "Gradescope mode (--format gradescope)"
    elif leaderboard and leaderboard.get("sign"):
        options["require_isolation"] = "--sign"
    console = Console(stderr=as_json)
    if not console.is_terminal:
        console = Console(stderr=as_json, width=120)  # logs and CI: wide enough for the tables
    if as_json:
        result = grade(train=train, leaderboard=board_run, **options)
    else:
        # A terminal gets live bars; a log (CI, Gradescope) one plain line per stage and epoch.
        progress = (
            live_progress(console, epochs=0) if console.is_terminal else plain_progress(Console(stderr=True, width=120))
        )
        with progress as events:
            result = grade(train=train, events=events, leaderboard=board_run, **options)
    show_result(result, console, as_json=as_json, verbose=verbose)
    if output_format == "gradescope":
        from grader.cli.courses import write_gradescope_output

        write_gradescope_output(result, results_path)
    exit_code = result.exit_code
    if board_run is not None:
        assert leaderboard is not None  # board_run is started from it
        exit_code = finish_leaderboard_submission(result, board_run, leaderboard)
    sys.exit(exit_code)


@main.command()
@click.argument("folder", type=click.Path(path_type=Path), default="cnn-challenges")
def init(folder: Path) -> None:
    """Copy every challenge skeleton into FOLDER (default: ./cnn-challenges)."""
    from grader.host.learner_folder import InitError, init_folder

    try:
        written = init_folder(folder)
    except InitError as err:
        raise click.ClickException(str(err)) from None
    for path in written:
        click.echo(f"wrote {path}")
    first = "fashion.py" if any(p.name == "fashion.py" for p in written) else written[0].name
    click.echo(f"Next: open a file, do its TODOs, then `grade check {folder}/{first}`.")


@main.command(name="challenges")
def list_challenges() -> None:
    """List the challenges and their profiles."""
    from grader.spec import challenge_names, load_spec

    for name in challenge_names():
        spec = load_spec(name)
        profiles = ", ".join(spec.profiles) or "none, nothing is trained"
        click.echo(f"{name:<12} {spec.title}  (profiles: {profiles})")


# Commands that live in their own modules.
from grader.cli.batch import batch  # noqa: E402
from grader.cli.calibrate import calibrate  # noqa: E402
from grader.cli.courses import gradescope, nbgrader  # noqa: E402
from grader.cli.data import data  # noqa: E402
from grader.cli.docs import docs  # noqa: E402
from grader.cli.kernel import kernel  # noqa: E402
from grader.cli.leaderboard import leaderboard  # noqa: E402
from grader.cli.release import release  # noqa: E402
from grader.cli.serve import host, serve  # noqa: E402
from grader.cli.visual import journey  # noqa: E402
from grader.cli.warm import warm  # noqa: E402

main.add_command(data)
main.add_command(release)
main.add_command(journey)
main.add_command(leaderboard)
main.add_command(nbgrader)
main.add_command(gradescope)
main.add_command(kernel)
main.add_command(calibrate)
main.add_command(batch)
main.add_command(warm)
main.add_command(docs)
main.add_command(serve)
main.add_command(host)

if __name__ == "__main__":
    main()
