"""The static leaderboard site: HTML (Jinja2), JSON and CSV, for any static web host.

    DIR/index.html                    the challenges
    DIR/leaderboard.json, .csv        every board
    DIR/<challenge>/index.html        that challenge's boards (one table per profile)
    DIR/<challenge>/leaderboard.json, .csv

The site is written into a fresh folder beside DIR and then renamed into place, so a failure
leaves DIR exactly as it was, and a web server never sees half a site. DIR is replaced only if
it is empty or was written by this command before (it holds MARKER): publishing never deletes
files it did not make.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from grader.data.atomic import replace_dir
from grader.leaderboard.errors import LeaderboardError
from grader.leaderboard.ranking import Board, Standing
from grader.leaderboard.records import NAME
from grader.leaderboard.templates import STYLE, TEMPLATES

MARKER = ".grader-leaderboard"
CSV_COLUMNS = (
    "challenge",
    "profile",
    "rank",
    "learner",
    "score",
    "max_score",
    "accuracy",
    "gap",
    "submitted_at",
    "submissions",
)


def _environment():
    from jinja2 import DictLoader, Environment, StrictUndefined

    env = Environment(
        loader=DictLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )
    env.filters["points"] = lambda value: f"{value:g}"
    env.filters["fraction"] = lambda value: "—" if value is None else f"{value:.4f}"
    env.filters["signed"] = lambda value: "—" if value is None else f"{value:+.4f}"
    env.filters["date"] = lambda value: value[:16].replace("T", " ")
    return env


def half_note(final: bool) -> str:
    if final:
        return "Final standings: ranked on the private half of the test set."
    return (
        "Public standings: ranked on the public half of the test set. The private half decides the final "
        "standings and is revealed at the end."
    )


def standing_row(board: Board, standing: Standing) -> dict[str, Any]:
    row = asdict(standing)
    for host_only in ("submission_id", "first_submission_id", "display_name"):
        row.pop(host_only)
    return {"challenge": board.challenge, "profile": board.profile, **row}


def board_document(boards: list[Board], *, final: bool, generated_at: str) -> dict[str, Any]:
    return {
        "final": final,
        "half": "private" if final else "public",
        "generated_at": generated_at,
        "boards": [
            {"challenge": b.challenge, "profile": b.profile, "standings": [standing_row(b, s) for s in b.standings]}
            for b in boards
        ],
    }


def board_csv(boards: list[Board]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for board in boards:
        for standing in board.standings:
            writer.writerow({k: v for k, v in standing_row(board, standing).items() if k in CSV_COLUMNS})
    return buffer.getvalue()


def _title(challenge: str) -> str:
    """The challenge's title from its spec, or its name for a challenge this host does not have."""
    from grader.spec import SpecError, load_spec

    try:
        return load_spec(challenge).title
    except (SpecError, OSError):
        return challenge


def render_site(folder: Path, boards: list[Board], *, final: bool, generated_at: str, grader_version: str) -> None:
    """Write the whole site into `folder` (an empty folder)."""
    env = _environment()
    common = {
        "style": STYLE,
        "final": final,
        "half_note": half_note(final),
        "generated_at": generated_at[:16].replace("T", " "),
        "grader_version": grader_version,
    }
    challenges = sorted({b.challenge for b in boards})
    for name in challenges:
        # Names become folder names: one from an edited database must not point outside the site.
        if not NAME.fullmatch(name):
            raise LeaderboardError(
                f"the database holds a challenge named {name!r}, which cannot be a folder name; nothing was published"
            )
    index: list[dict[str, Any]] = [
        {
            "name": name,
            "title": _title(name),
            "learners": len({s.learner for b in boards if b.challenge == name for s in b.standings}),
        }
        for name in challenges
    ]
    (folder / "index.html").write_text(
        env.get_template("index.html").render(challenges=index, **common), encoding="utf-8"
    )
    _write_data(folder, boards, final=final, generated_at=generated_at)
    for item in index:
        own = [b for b in boards if b.challenge == item["name"]]
        page = folder / item["name"]
        page.mkdir()
        (page / "index.html").write_text(
            env.get_template("challenge.html").render(title=item["title"], boards=own, **common), encoding="utf-8"
        )
        _write_data(page, own, final=final, generated_at=generated_at)
    (folder / MARKER).write_text(
        "written by `grade leaderboard publish`; the whole folder is replaced on the next publish\n"
    )


def _write_data(folder: Path, boards: list[Board], *, final: bool, generated_at: str) -> None:
    document = board_document(boards, final=final, generated_at=generated_at)
    (folder / "leaderboard.json").write_text(json.dumps(document, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    (folder / "leaderboard.csv").write_text(board_csv(boards), encoding="utf-8")


def publish_site(out: Path, boards: list[Board], *, final: bool, generated_at: str, grader_version: str) -> Path:
    """Render the site beside `out`, then swap it in. Any failure leaves `out` as it was."""
    out = Path(out).absolute()
    if out.exists() and not out.is_dir():
        raise LeaderboardError(f"--out {out} is a file: give a folder for the site")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists():
        raise LeaderboardError(
            f"--out {out} already holds files that `grade leaderboard publish` did not write; "
            "publishing replaces the whole folder, so choose a new or empty folder"
        )
    created = [p for p in reversed(out.parents) if not p.exists()]
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-"))
    except OSError as err:
        raise LeaderboardError(f"cannot write beside {out}: {err.strerror}; nothing was changed") from None
    try:
        os.chmod(staging, 0o755)  # mkdtemp makes it private; a web server must read the site
        render_site(staging, boards, final=final, generated_at=generated_at, grader_version=grader_version)
        replace_dir(staging, out)
    except BaseException as err:
        shutil.rmtree(staging, ignore_errors=True)
        for folder in reversed(created):
            try:
                folder.rmdir()
            except OSError:
                break
        if isinstance(err, OSError):
            raise LeaderboardError(f"cannot write the site to {out}: {err}; {out} was left as it was") from None
        raise
    return out
