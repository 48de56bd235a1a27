"""What the leaderboard commands do, as keyword-only functions (the CLI and tests call these).

    check_daily_cap  before training: refuse a submission over the learner's daily cap
    record           after grading: store the result (and write a host-signed record)
    import_records   accept host-signed records from elsewhere: all of them, or none
    standings        the boards, for `grade leaderboard show`
    publish          the static site, for `grade leaderboard publish`

Every problem with the input is a LeaderboardError whose message says what to do; none of
them changes the database or the output folder.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader import config
from grader.leaderboard.db import open_db
from grader.leaderboard.errors import LeaderboardError
from grader.leaderboard.ranking import Board, boards, daily_cap_problem, day_start, rank
from grader.leaderboard.records import NAME, LeaderboardRun, build_record, utc_timestamp, validate_record
from grader.leaderboard.signing import sign, verify


class DailyCapReached(LeaderboardError):
    """The learner used up today's submissions: the submission is refused before training."""


def check_daily_cap(
    *, db_path: Path, learner: str, challenge: str, cap: int | None, now: dt.datetime | None = None
) -> None:
    """Raise DailyCapReached if `learner` may not submit to `challenge` again today (UTC).

    Opening the database here also means a damaged or locked one is reported before any training.
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    with open_db(db_path, create=True) as db:
        if cap is None:
            return
        used = db.count_graded_since(learner=learner, challenge=challenge, since=utc_timestamp(day_start(now)))
    problem = daily_cap_problem(used=used, cap=cap, learner=learner, challenge=challenge, now=now)
    if problem:
        raise DailyCapReached(problem)


@dataclass(frozen=True)
class Recorded:
    """What `record` did: the submission's ID, where its signed record is, and where it ranks publicly."""

    submission_id: str
    signed_record: Path | None
    public_rank: int | None  # None: not ranked (not graded), or the board could not be read
    public_learners: int


def record(
    result: Any,
    run: LeaderboardRun,
    *,
    db_path: Path,
    key: bytes | None = None,
    signed_dir: Path | None = None,
    batch_grading: tuple[str, str] | None = None,
) -> Recorded:
    """Store one graded result (a GradeResult or its JSON form). With a key, first write the
    host-signed record into `signed_dir`.

    The signed record is written first on purpose: if the database then fails, the submission is
    not lost; `grade leaderboard import` can add it later. `batch_grading` (grade batch): the
    grading key and run folder, stored in the same transaction; no rank is looked up then.
    """
    document = result if isinstance(result, dict) else result.to_dict()
    if not NAME.fullmatch(document["challenge"] or ""):
        why = " (the submission was not graded: see above)" if document["error"] else ""
        raise LeaderboardError(f"{document['challenge']!r} is not the name of a challenge{why}")
    record_ = validate_record(build_record(document, run), "the graded result")
    signed_path = None
    if key is not None:
        signed_path = write_signed_record(sign(record_, key), signed_dir)
    try:
        with open_db(db_path, create=True) as db:
            db.add(
                [record_],
                origin="local",
                batch_gradings={record_["submission_id"]: batch_grading} if batch_grading else None,
            )
            if batch_grading:
                return Recorded(record_["submission_id"], signed_path, None, 0)
            try:
                board = [s for s in db.submissions(record_["challenge"]) if s["profile"] == record_["profile"]]
            except LeaderboardError:
                board = []  # recorded all the same; only the rank to show could not be read
    except LeaderboardError as err:
        if signed_path is not None:
            raise LeaderboardError(
                f"{err}. The signed record {signed_path} holds this submission: add it later "
                "with `grade leaderboard import`"
            ) from None
        raise
    public_board = rank(board, final=False)
    mine = next((s.rank for s in public_board if s.learner == run.learner), None)
    return Recorded(record_["submission_id"], signed_path, mine, len(public_board))


def write_signed_record(signed: dict[str, Any], folder: Path | None) -> Path:
    """Write a signed record (private score inside: host-only, so readable by its owner only)."""
    from grader import config

    folder = Path(folder or config.DEFAULT_SIGNED_DIR)
    stamp = signed["submitted_at"][:19].replace("-", "").replace(":", "")
    path = folder / f"{signed['challenge']}-{signed['learner']}-{stamp}-{signed['submission_id'][:8]}.json"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.tmp-")  # mode 0600
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(signed, out, indent=2, sort_keys=True, allow_nan=False)
            out.write("\n")
        os.replace(temporary, path)
    except OSError as err:
        raise LeaderboardError(f"cannot write the signed record into {folder}: {err.strerror}") from None
    return path


def read_signed_records(files: list[Path], key: bytes) -> list[dict[str, Any]]:
    """Every file verified and validated, or LeaderboardError listing every file refused and why."""
    accepted, problems = [], []
    for path in files:
        try:
            try:
                document = json.loads(Path(path).read_text(encoding="utf-8"))
            except OSError as err:
                raise LeaderboardError(f"{path}: cannot read it: {err.strerror}") from None
            except (UnicodeDecodeError, json.JSONDecodeError) as err:
                raise LeaderboardError(f"{path}: not a JSON file ({err})") from None
            accepted.append(validate_record(verify(document, key, str(path)), str(path)))
        except LeaderboardError as err:
            problems.append(str(err))
    if problems:
        count = len(problems)
        raise LeaderboardError(
            f"{count} of {len(files)} file{'s' if len(files) != 1 else ''} refused, so nothing "
            "was added:\n  " + "\n  ".join(problems)
        )
    return accepted


def import_records(*, files: list[Path], db_path: Path, key: bytes) -> list[dict[str, Any]]:
    """Add host-signed records to the database, all in one transaction: every one of them, or none."""
    if not files:
        raise LeaderboardError("no files to import")
    records = read_signed_records(files, key)
    by_id: dict[str, list[Path]] = {}
    for record_, path in zip(records, files, strict=True):
        by_id.setdefault(record_["submission_id"], []).append(path)
    twice = [paths for paths in by_id.values() if len(paths) > 1]
    if twice:
        raise LeaderboardError(
            "the same submission is given more than once, so nothing was added: "
            + "; ".join(" and ".join(map(str, paths)) for paths in twice)
        )
    with open_db(db_path, create=True) as db:
        present = db.present(list(by_id))
        if present:
            raise LeaderboardError(
                "already in the database, so nothing was added: "
                + ", ".join(f"{by_id[i][0]} (submission {i})" for i in sorted(present))
            )
        db.add(records, origin="import")
    return records


def standings(*, db_path: Path, final: bool, challenge: str | None = None) -> list[Board]:
    with open_db(db_path, create=False) as db:
        submissions = db.submissions(challenge)
        selected = db.selections() if final else set()
    if challenge is not None and not submissions:
        raise LeaderboardError(f"no submissions to the challenge {challenge!r} in {db_path}")
    return boards(submissions, final=final, challenge=challenge, selected=selected)


def select(*, db_path: Path, learner: str, submission_ids: list[str]) -> dict[str, Any]:
    """A learner's choice of submissions for the final standings (grader/leaderboard/ranking.py).
    `learner` as typed: "Erin" chooses erin's submissions (identity.learner_key)."""
    from grader.leaderboard.identity import learner_key

    learner = learner_key(learner)
    with open_db(db_path, create=False) as db:
        return db.select(learner, submission_ids, most=config.FINAL_SELECTIONS)


def publish(
    *, db_path: Path, out: Path, final: bool, names: str = "display", show_emails: bool = False
) -> tuple[Path, list[Board]]:
    """The public site of the boards: learners named as `names` says (identity.py), e-mail
    addresses cut unless `show_emails`, learners without points left out."""
    from grader.core.result import grader_version
    from grader.leaderboard.identity import public_boards
    from grader.leaderboard.site import publish_site

    published = public_boards(standings(db_path=db_path, final=final), names=names, show_emails=show_emails)
    return publish_site(
        out, published, final=final, generated_at=utc_timestamp(), grader_version=grader_version()
    ), published
