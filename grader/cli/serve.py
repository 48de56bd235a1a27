"""`grade serve HOST_FILE` runs a live challenge; `grade host ...` are the host's commands on it.

Both need the service's extra (`pip install "cnn-grader[serve]"`), imported inside the commands so
that `grade --help` stays instant and a learner's install stays lean.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from grader.cli.options import isolated_only, warm_or_cold

SERVE_EXTRA = 'the live service needs its extra: pip install "cnn-grader[serve]"'


def _open(host_file: Path, state: Path | None, **grading):
    try:
        from grader.serve.database import StoreError
        from grader.serve.dispatch import GradingSettings
        from grader.serve.hostfile import HostFileError
        from grader.serve.service import default_state_dir, open_service
    except ImportError as err:
        raise click.ClickException(f"{SERVE_EXTRA} ({err.name} is missing)") from None
    folder = state or default_state_dir(host_file)
    try:
        return open_service(host_file, state_dir=folder, grading=GradingSettings(state_dir=folder, **grading))
    except (HostFileError, StoreError) as err:
        raise click.ClickException(str(err)) from None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


HOST_FILE = click.argument("host_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
STATE = click.option(
    "--state",
    type=click.Path(file_okay=False, path_type=Path),
    help="The service's folder (database, secret, run folders). Default: beside the host file, NAME.serve/.",
)


@click.command()
@click.argument("host_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=False)
@STATE
@click.option(
    "--demo",
    is_flag=True,
    help="Start a demo challenge (Fashion-MNIST, quick profile) in ./demo-challenge, with the reference "
    "solution as its first entry, and print a learner's link to open in a browser.",
)
@click.option("--host", "bind", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, help="Port to listen on (0: any free port).")
@click.option("--workers", type=click.IntRange(1, 256), default=1, show_default=True, help="Gradings at once.")
@click.option(
    "--engine",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="Where gradings run: sandboxed processes on this machine, or tasks on a Ray cluster.",
)
@click.option("--address", help="The Ray cluster's address (--engine ray); default: a local cluster.")
@warm_or_cold("Local engine: each worker keeps the next grading's sandbox and trainer ready (--cold: fresh processes).")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="GRADER_DATA_DIR",
    help="Folder with the raw datasets (default: the cache, then download).",
)
@isolated_only("How to isolate submissions; the service refuses to grade without isolation.")
@click.option(
    "--public-url",
    help="The address learners use, when a TLS proxy is in front (https://...): cookies are then marked Secure.",
)
@click.option("--lease", "lease_s", default=60.0, show_default=True, help="Seconds a grading's lease lasts unrenewed.")
def serve(
    host_file, state, demo, bind, port, workers, engine, address, warm, data_dir, isolation, public_url, lease_s
) -> None:
    """Run the live challenge of HOST_FILE: uploads, a queue, live boards, the reveal at the deadline."""
    from grader.describe.sandbox import isolation as iso

    if demo == (host_file is not None):
        raise click.UsageError("give a HOST_FILE, or --demo for a demo challenge (not both)")
    if demo:
        from grader.serve.demo import write_demo

        host_file = write_demo(Path("demo-challenge"))

    try:
        iso.require_isolated(iso.choose(isolation), "the live service")
    except iso.IsolationError as err:
        raise click.ClickException(str(err)) from None
    service = _open(
        host_file, state, data_dir=data_dir, engine=engine, address=address, workers=workers,
        lease_s=lease_s, isolation=isolation, warm=warm,
    )  # fmt: skip
    try:
        import uvicorn

        from grader.serve.app import create_app
        from grader.serve.service import HOST_TOKEN_FILE, new_host_token
    except ImportError as err:
        raise click.ClickException(f"{SERVE_EXTRA} ({err.name} is missing)") from None
    import socket

    listener = socket.socket(socket.AF_INET6 if ":" in bind else socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((bind, port))
    except OSError as err:
        raise click.ClickException(f"cannot listen on {bind}:{port}: {err.strerror}; choose another --port") from None
    host_part = f"[{bind}]" if ":" in bind else bind
    url = f"http://{host_part}:{listener.getsockname()[1]}"
    service.secure_cookies = bool(public_url and public_url.startswith("https://"))
    click.echo(f"serving {service.host.serve.title!r} on {url}", err=True)
    if not (service.state_dir / HOST_TOKEN_FILE).exists():
        click.echo(f"host page (shown once; `grade host link` makes a new one): {url}/host/join/"
                   f"{new_host_token(service.state_dir)}", err=True)  # fmt: skip
    if demo:
        from grader.serve.demo import demo_links

        for line in demo_links(service, url):
            click.echo(line, err=True)
    else:
        click.echo(f"learners' links: grade host links {host_file}", err=True)
    config = uvicorn.Config(
        create_app(service), log_level="warning", timeout_graceful_shutdown=3, proxy_headers=False, lifespan="on"
    )

    class Server(uvicorn.Server):
        def handle_exit(self, sig, frame) -> None:
            service.changes.close()  # the event streams end first, so the shutdown does not wait on them
            super().handle_exit(sig, frame)

    Server(config).run(sockets=[listener])


@click.group()
def host() -> None:
    """The host's commands on a live challenge: links, the queue, regrades, quotas, closing, the gradebook."""


@host.command()
@HOST_FILE
@STATE
@click.option("--url", default="http://127.0.0.1:8000", show_default=True, help="The service's public address.")
@click.option(
    "--learner", "learners", multiple=True, help="Only these learners (default: every learner of the roster)."
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write learner,name,link to this CSV.")
def links(host_file, state, url, learners, out) -> None:
    """Give learners new personal links (the roster is read again first). Each link replaces the
    learner's earlier one and is shown only now: hand it to them privately."""
    import csv

    from grader.serve.database import Refused
    from grader.serve.hostfile import read_roster

    service = _open(host_file, state)
    roster = {entry.learner.lower(): entry for entry in read_roster(service.host.roster_path)}
    chosen = (
        [roster[name.lower()] for name in learners if name.lower() in roster] if learners else list(roster.values())
    )
    unknown = [name for name in learners if name.lower() not in roster]
    if unknown:
        raise click.ClickException(f"not on the roster: {', '.join(unknown)}; add them to {service.host.roster_path}")
    rows = []
    for entry in chosen:
        try:
            token = service.store.issue_token(entry.learner)
        except Refused as refused:
            raise click.ClickException(refused.message) from None
        rows.append((entry.learner, entry.name, f"{url.rstrip('/')}/join/{token}", token))
    if out:
        with open(out, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["learner", "name", "link", "token"])
            writer.writerows(rows)
        out.chmod(0o600)
        click.echo(f"{len(rows)} links written to {out} (mode 0600)")
    else:
        for learner, name, link, _ in rows:
            click.echo(f"{learner}\t{name}\t{link}")


@host.command()
@HOST_FILE
@STATE
@click.option("--url", default="http://127.0.0.1:8000", show_default=True)
def link(host_file, state, url) -> None:
    """A new host link (the earlier one stops working)."""
    from grader.serve.service import new_host_token

    service = _open(host_file, state)
    click.echo(f"{url.rstrip('/')}/host/join/{new_host_token(service.state_dir)}")


@host.command()
@HOST_FILE
@STATE
def queue(host_file, state) -> None:
    """The queue, the gradings running and what could not be graded."""
    from grader.serve.host_views import queue_rows

    rows = queue_rows(_open(host_file, state).store)
    for title in ("running", "queued", "failed"):
        click.echo(f"{title}: {len(rows[title])}")
        for row in rows[title]:
            click.echo("  " + "  ".join(f"{key}={value}" for key, value in row.items() if value is not None))


@host.command()
@HOST_FILE
@STATE
@click.argument("target")
def regrade(host_file, state, target) -> None:
    """Grade again one submission (its number) or all of a challenge (its name), after a spec change.
    Each earlier result is kept until the new one arrives; the audit records the regrade."""
    from grader.serve.database import Refused

    store = _open(host_file, state).store
    try:
        jobs = store.regrade(int(target) if target.isdigit() else target, now=_now())
    except Refused as refused:
        raise click.ClickException(refused.message) from None
    click.echo(f"{len(jobs)} gradings queued")


@host.command()
@HOST_FILE
@STATE
@click.argument("learner")
@click.argument("extra", type=int)
@click.option("--challenge", help="Only this challenge (default: each).")
def extend(host_file, state, learner, extra, challenge) -> None:
    """Give LEARNER EXTRA more submissions today (UTC)."""
    from grader.serve.database import Refused

    store = _open(host_file, state).store
    now = _now()
    try:
        total = store.extend_quota(learner, extra, now.date(), now=now, challenge=challenge)
    except (Refused, ValueError) as err:
        raise click.ClickException(getattr(err, "message", str(err))) from None
    click.echo(f"{learner} has {total} extra submissions today")


@host.command()
@HOST_FILE
@STATE
@click.argument("challenge")
def close(host_file, state, challenge) -> None:
    """Close CHALLENGE now: no more uploads, and the final standings are revealed."""
    from grader.serve.database import Refused

    store = _open(host_file, state).store
    try:
        closed = store.close_early(challenge, _now())
    except Refused as refused:
        raise click.ClickException(refused.message) from None
    click.echo(f"{challenge} closed at {closed.isoformat(timespec='seconds')}")


def _final_standings(service, now: dt.datetime) -> list[tuple]:
    """(challenge, its final standings) for every challenge, read before anything is written; a
    challenge not yet revealed refuses the whole command."""
    from grader.serve.database import Refused

    found = []
    for challenge in service.host.challenges:
        try:
            found.append((challenge, service.store.final_standings(challenge.name, now)))
        except Refused as refused:
            raise click.ClickException(f"{challenge.name}: {refused.message}") from None
    return found


@host.command()
@HOST_FILE
@STATE
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="The CSV to write.")
def export(host_file, state, out) -> None:
    """The gradebook: each learner's final standing per challenge (after the reveal), as CSV."""
    import csv

    standings = _final_standings(_open(host_file, state), _now())
    with open(out, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["challenge", "rank", "learner", "score", "max_score", "accuracy", "submitted_at"])
        for challenge, rows in standings:
            for row in rows:
                writer.writerow(
                    [challenge.name, row.rank, row.name, row.score, row.max_score, row.accuracy, row.submitted_at]
                )
    click.echo(f"gradebook written to {out}")


@host.command()
@HOST_FILE
@STATE
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="The site's folder.")
def publish(host_file, state, out) -> None:
    """The final standings as the kit's static leaderboard site (after the reveal): the same pages
    `grade leaderboard publish` writes, to put on any web server."""
    from grader.core.result import grader_version
    from grader.leaderboard.errors import LeaderboardError
    from grader.leaderboard.ranking import Board, Standing
    from grader.leaderboard.site import publish_site

    now = _now()
    boards = []
    for challenge, rows in _final_standings(_open(host_file, state), now):
        standings = tuple(
            Standing(
                rank=row.rank, learner=row.name, score=row.score, max_score=row.max_score, accuracy=row.accuracy,
                gap=None, submitted_at=row.submitted_at, submissions=row.submissions, submission_id="",
                display_name=row.name,
            )
            for row in rows
        )  # fmt: skip
        boards.append(Board(challenge.name, challenge.profile, True, standings))
    try:
        site = publish_site(out, boards, final=True, generated_at=now.isoformat(), grader_version=grader_version())
    except LeaderboardError as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"the final standings are published in {site}")


def submit_remote(*, path: Path, url: str, challenge: str | None, token_file: Path | None, as_json: bool) -> None:
    """`grade submit FILE --to URL`: upload, follow, print the result as a local grading does."""
    import json
    import os

    from rich.console import Console

    from grader.core.result import GradeResult
    from grader.report.terminal import show_result
    from grader.serve.client import Remote, RemoteError, follow, read_token, upload

    console = Console(stderr=True)
    try:
        remote = Remote(url, read_token(token_file, dict(os.environ)))
        submission = upload(remote, path, challenge or path.stem)
        console.print(f"submission {submission} uploaded to {url}")
        answer = follow(remote, submission, on_status=lambda text: console.print(f"  {text}"))
    except RemoteError as err:
        raise click.ClickException(str(err)) from None
    if as_json:
        click.echo(json.dumps(answer, indent=2))
    elif answer.get("result"):
        show_result(GradeResult.from_dict(answer["result"]), Console(), as_json=False, verbose=False)
    else:
        for reason in answer.get("reasons") or []:
            console.print(reason)
    status = answer.get("status")
    verdict = (answer.get("result") or {}).get("verdict")
    sys.exit(0 if verdict == "passed" else 1 if status == "graded" else 2)
