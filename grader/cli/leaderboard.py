"""`grade leaderboard show|publish|import`, and the leaderboard options of `grade submit`.

Thin click commands over grader.leaderboard.commands. Every LeaderboardError becomes
`error: ...` on stderr and exit code 2. Only click and config load at import (`grade --help`
stays instant).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from grader import config

EXIT_LEADERBOARD_ERROR = 2

DB_HELP = "The leaderboard database (SQLite file; also $GRADER_DB)."


def _db_option(fn):
    return click.option(
        "--db",
        "db_path",
        type=click.Path(path_type=Path),
        envvar="GRADER_DB",
        default=config.DEFAULT_LEADERBOARD_DB,
        show_default=True,
        help=DB_HELP,
    )(fn)


def _key_file_option(fn):
    return click.option(
        "--key-file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="The host's secret key (default: $GRADER_SECRET_KEY).",
    )(fn)


def _fail(err: Exception) -> None:
    click.echo(f"error: {err}", err=True)
    sys.exit(EXIT_LEADERBOARD_ERROR)


def _check_learner(ctx, param, value: str | None) -> str | None:
    from grader.leaderboard import LeaderboardError
    from grader.leaderboard.records import check_learner_id

    if value is None:
        return None
    try:
        return check_learner_id(value)
    except LeaderboardError as err:
        raise click.BadParameter(str(err)) from None


# --------------------------------------------------------------------------- grade submit --learner


def leaderboard_submit_options(fn):
    """The options `grade submit` gains for the leaderboard; they arrive as keyword arguments."""
    fn = click.option(
        "--signed-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=config.DEFAULT_SIGNED_DIR,
        show_default=True,
        help="With --sign: where the signed record goes. It holds the private score: keep it from learners.",
    )(fn)
    fn = _key_file_option(fn)
    fn = click.option(
        "--sign",
        is_flag=True,
        help="Also write a record signed with the host's secret key, for `grade leaderboard import` on another host.",
    )(fn)
    fn = click.option(
        "--daily-cap",
        type=click.IntRange(min=1),
        envvar="GRADER_DAILY_CAP",
        default=config.DEFAULT_DAILY_CAP,
        help="Graded submissions allowed per learner, challenge and UTC day (default: no cap; also $GRADER_DAILY_CAP).",
    )(fn)
    fn = _db_option(fn)
    fn = click.option(
        "--learner",
        callback=_check_learner,
        help="Record this submission on the leaderboard as this learner. Test figures shown are "
        "then of the public half of the test set.",
    )(fn)
    return fn


def start_leaderboard_submission(leaderboard: dict[str, Any], grading: dict[str, Any]):
    """Before training: None without --learner; else check the cap and the key, and return the LeaderboardRun.

    Refusals (cap reached, damaged database, missing key) end the command with exit code 2
    before any training.
    """
    if not leaderboard.get("learner"):
        if leaderboard.get("sign"):
            raise click.UsageError("--sign needs --learner ID (only leaderboard submissions are signed)")
        return None
    from grader.leaderboard import LeaderboardError
    from grader.leaderboard.commands import check_daily_cap
    from grader.leaderboard.records import LeaderboardRun
    from grader.leaderboard.signing import load_key
    from grader.pipeline import resolve_spec
    from grader.submission.files import NotGraded

    try:
        if leaderboard["sign"]:
            leaderboard["key"] = load_key(leaderboard["key_file"])
        try:
            challenge = resolve_spec(Path(grading["path"]), grading.get("challenge"), grading.get("spec_path")).name
        except NotGraded:
            challenge = None  # grading reports it; a submission that cannot be graded does not count
        if challenge is not None:
            check_daily_cap(
                db_path=leaderboard["db_path"],
                learner=leaderboard["learner"],
                challenge=challenge,
                cap=leaderboard["daily_cap"],
            )
    except LeaderboardError as err:
        _fail(err)
    return LeaderboardRun(learner=leaderboard["learner"])


def finish_leaderboard_submission(result, run, leaderboard: dict[str, Any]) -> int:
    """After grading (result.json is written): record the result; the exit code for the command.

    A failure to record is reported and gives exit code 2, but the graded result stays in its
    run folder (and with --sign, in the signed record, ready for `grade leaderboard import`).
    """
    from grader.leaderboard import LeaderboardError
    from grader.leaderboard.commands import record

    try:
        recorded = record(
            result,
            run,
            db_path=leaderboard["db_path"],
            key=leaderboard.get("key"),
            signed_dir=leaderboard["signed_dir"],
        )
    except LeaderboardError as err:
        where = f" (the graded result is in {result.run_dir})" if result.run_dir else ""
        click.echo(f"error: not recorded on the leaderboard{where}: {err}", err=True)
        return EXIT_LEADERBOARD_ERROR
    if result.verdict == "not_graded":
        place = " (not ranked: not graded)"
    else:
        rank = f"; public rank {recorded.public_rank} of {recorded.public_learners}" if recorded.public_rank else ""
        place = f"{rank}. Test figures above are of the public half of the test set"
    click.echo(
        f"leaderboard: recorded {result.challenge} ({result.profile}) for {run.learner} as submission "
        f"{recorded.submission_id}{place}.",
        err=True,
    )
    if recorded.signed_record is not None:
        click.echo(
            f"leaderboard: signed record {recorded.signed_record} (host only: it holds the private score)", err=True
        )
    return result.exit_code


# --------------------------------------------------------------------------- grade leaderboard ...


@click.group()
def leaderboard() -> None:
    """Rank recorded submissions, publish the boards, import signed results.

    Public boards rank on the public half of each challenge's test set; --final ranks on the
    private half (the final standings).
    """


@leaderboard.command()
@_db_option
@click.option("--challenge", help="Only this challenge.")
@click.option("--final", is_flag=True, help="Rank on the private half (final standings; hosts only).")
def show(db_path: Path, challenge: str | None, final: bool) -> None:
    """Print the leaderboards as tables."""
    from grader.leaderboard import LeaderboardError
    from grader.leaderboard.commands import standings
    from grader.leaderboard.terminal import print_boards

    try:
        boards = standings(db_path=db_path, final=final, challenge=challenge)
    except LeaderboardError as err:
        _fail(err)
    print_boards(boards, final=final)


@leaderboard.command()
@_db_option
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the static site (replaced as a whole; must be new, empty, or a previous site).",
)
@click.option("--final", is_flag=True, help="Rank on the private half and reveal it (the final standings).")
@click.option(
    "--names",
    type=click.Choice(["display", "anonymous"]),
    default="display",
    show_default=True,
    help="display: learner IDs as they were typed (an e-mail address shows only its user part); "
    "anonymous: a stable label per learner (learner-3f9a1c) that only the database links to them.",
)
@click.option("--show-emails", is_flag=True, help="Publish learner IDs that are e-mail addresses whole.")
def publish(db_path: Path, out_dir: Path, final: bool, names: str, show_emails: bool) -> None:
    """Write the leaderboards as a static site: HTML, JSON and CSV.

    Learners whose best submission earned no points are not listed."""
    from grader.leaderboard import LeaderboardError
    from grader.leaderboard.commands import publish as publish_boards

    try:
        out, boards = publish_boards(db_path=db_path, out=out_dir, final=final, names=names, show_emails=show_emails)
    except LeaderboardError as err:
        _fail(err)
    ranked = sum(len(b.standings) for b in boards)
    click.echo(
        f"published {len(boards)} board{'s' if len(boards) != 1 else ''} ({ranked} ranked entries, "
        f"{'final: private half' if final else 'public half'}) to {out / 'index.html'}"
    )


@leaderboard.command()
@click.argument("learner")
@click.argument("submission_ids", nargs=-1, required=True)
@_db_option
def select(learner: str, submission_ids: tuple[str, ...], db_path: Path) -> None:
    """Choose LEARNER's submissions (SUBMISSION_IDS, at most 2) for the final standings.

    The final standings rank each learner's best private score among their selected submissions,
    or, if they selected none, among their 2 best public ones (as Kaggle does). `grade submit
    --learner` prints each submission's id. A new selection replaces the learner's earlier one.
    """
    from grader.leaderboard import LeaderboardError
    from grader.leaderboard.commands import select as select_submissions

    try:
        board = select_submissions(db_path=db_path, learner=learner, submission_ids=list(submission_ids))
    except LeaderboardError as err:
        _fail(err)
    click.echo(
        f"{learner}'s final submissions for {board['challenge']} ({board['profile']}): "
        f"{', '.join(dict.fromkeys(submission_ids))}"
    )


@leaderboard.command(name="import")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@_db_option
@_key_file_option
def import_(files: tuple[Path, ...], db_path: Path, key_file: Path | None) -> None:
    """Add results signed by a grading host (FILE...: signed records). All are added, or none."""
    from grader.leaderboard import LeaderboardError
    from grader.leaderboard.commands import import_records
    from grader.leaderboard.signing import load_key

    try:
        records = import_records(files=list(files), db_path=db_path, key=load_key(key_file))
    except LeaderboardError as err:
        _fail(err)
    click.echo(f"imported {len(records)} submission{'s' if len(records) != 1 else ''} into {db_path}")
