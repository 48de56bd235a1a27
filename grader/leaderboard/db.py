"""The leaderboard database: one SQLite file that many graders write to at once.

- WAL mode, so readers (show, publish) never block writers and writers never block readers.
- Every write is one `BEGIN IMMEDIATE` transaction: it takes the write lock up front, so two
  writers cannot deadlock upgrading read locks, and a failure rolls the whole write back.
- A busy database is waited for (SQLite's busy timeout), then retried with growing, jittered
  pauses; only when that is exhausted does a write fail, with a message saying so.
- Opening checks the file before anything is written: the SQLite header, `PRAGMA quick_check`,
  the schema version and every table and column. A damaged, foreign or outdated file gets a
  message and is left exactly as it was; only a new or empty file is given the schema.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from grader import config
from grader.leaderboard.errors import LeaderboardError
from grader.leaderboard.records import FIELDS, utc_timestamp

SCHEMA_VERSION = 4  # 2 added `selections`, 3 `batch_gradings`, 4 `display_name`; older files are read as they
# are and upgraded by the first write
# by the first write that needs the new table
SQLITE_HEADER = b"SQLite format 3\x00"

# The columns of `submissions`, in order: the record's fields, then what the database adds.
COLUMNS = {
    "id": "INTEGER PRIMARY KEY",
    "submission_id": "TEXT NOT NULL UNIQUE",
    "learner": "TEXT NOT NULL",  # the learner's key (identity.learner_key: case-folded)
    "display_name": "TEXT",  # as typed; NULL in rows written before version 4
    "challenge": "TEXT NOT NULL",
    "profile": "TEXT NOT NULL",
    "submission_sha256": "TEXT NOT NULL",
    "verdict": "TEXT NOT NULL CHECK (verdict IN ('passed', 'failed', 'not_graded'))",
    "max_score": "REAL NOT NULL",
    "public_score": "REAL",
    "private_score": "REAL",
    "public_accuracy": "REAL",
    "private_accuracy": "REAL",
    "public_images": "INTEGER NOT NULL",
    "private_images": "INTEGER NOT NULL",
    "train_accuracy": "REAL",
    "validation_accuracy": "REAL",
    "gap": "REAL",
    "error": "TEXT",
    "device": "TEXT NOT NULL",
    "backend": "TEXT NOT NULL",
    "versions": "TEXT NOT NULL",  # JSON object
    "grader_version": "TEXT NOT NULL",
    "seed": "INTEGER NOT NULL",
    "graded_on": "TEXT NOT NULL",  # the grading host's name
    "started_at": "TEXT NOT NULL",
    "submitted_at": "TEXT NOT NULL",  # UTC, one fixed format: sorts as text
    "recorded_at": "TEXT NOT NULL",
    "origin": "TEXT NOT NULL CHECK (origin IN ('local', 'import'))",  # graded here, or a signed import
}
RECORD_COLUMNS = [name for name in FIELDS if name != "record_version"]
assert set(RECORD_COLUMNS) <= set(COLUMNS), "every record field needs a column"

SCHEMA = [
    "CREATE TABLE schema_version (version INTEGER NOT NULL)",
    "CREATE TABLE submissions (\n    " + ",\n    ".join(f"{n} {t}" for n, t in COLUMNS.items()) + "\n)",
    "CREATE INDEX submissions_by_board ON submissions (challenge, profile, learner, submitted_at)",
]
# The submissions a learner chose for the final standings (Kaggle's "selected submissions").
SELECTIONS_TABLE = (
    "CREATE TABLE selections (submission_id TEXT PRIMARY KEY REFERENCES submissions (submission_id), "
    "selected_at TEXT NOT NULL)"
)
SCHEMA.append(SELECTIONS_TABLE)
# The gradings of `grade batch`, by grading key (grader/batch/jobs.py): a key present here was
# graded and recorded, so a batch run again skips it. Written in the same transaction as the
# submission itself, so a batch killed at any moment has recorded a grading fully or not at all.
BATCH_GRADINGS_TABLE = (
    "CREATE TABLE batch_gradings (grading_key TEXT PRIMARY KEY, submission_id TEXT NOT NULL "
    "UNIQUE REFERENCES submissions (submission_id), run_dir TEXT NOT NULL)"
)
SCHEMA.append(BATCH_GRADINGS_TABLE)
# What each version lacks, to be created when a write first needs it.
UPGRADES = {"selections": SELECTIONS_TABLE, "batch_gradings": BATCH_GRADINGS_TABLE}
ADDED_COLUMNS = {"display_name": COLUMNS["display_name"]}  # columns of `submissions` an older file lacks

T = TypeVar("T")


def _is_busy(err: sqlite3.Error) -> bool:
    text = str(err).lower()
    return "locked" in text or "busy" in text


class LeaderboardDB:
    """An open, checked leaderboard database. Use `open_db()`."""

    def __init__(self, path: Path, connection: sqlite3.Connection, *, attempts: int):
        self.path = path
        self.connection = connection
        self.attempts = attempts

    # ------------------------------------------------------------------ plumbing

    def _retrying(self, what: str, action: Callable[[], T]) -> T:
        """Run `action`, again after a pause while the database is busy; messages for every SQLite error."""
        # Growing pauses with full jitter (0.05 s, 0.1 s, ... up to 1 s), so that graders that
        # collided do not collide again in step.
        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            reraise=True,
            wait=wait_random_exponential(multiplier=0.05, max=1.0),
            retry=retry_if_exception(lambda err: isinstance(err, sqlite3.OperationalError) and _is_busy(err)),
        )
        started = time.monotonic()
        try:
            return retrying(action)
        except sqlite3.OperationalError as err:
            if not _is_busy(err):
                raise self._problem(what, err) from None
            raise LeaderboardError(
                f"the leaderboard database {self.path} is locked by another program: could not {what} "
                f"after {self.attempts} attempts over {time.monotonic() - started:.1f} s. Nothing was "
                "changed. Try again when the other program is done (`fuser` shows who has the file open)"
            ) from None
        except sqlite3.DatabaseError as err:
            raise self._problem(what, err) from None

    def _problem(self, what: str, err: sqlite3.Error) -> LeaderboardError:
        text = str(err)
        if "malformed" in text or "not a database" in text or "corrupt" in text:
            return corrupt_error(self.path, text)
        if "readonly" in text or "read-only" in text:
            return LeaderboardError(
                f"cannot {what}: the leaderboard database {self.path} is read-only for this "
                f"user ({text}); nothing was changed"
            )
        if "no such table" in text or "no such column" in text:
            return LeaderboardError(
                f"cannot {what}: {self.path} lost part of its schema ({text}); restore it from a backup"
            )
        return LeaderboardError(f"cannot {what} in {self.path}: {text}; nothing was changed")

    def _transaction(self, what: str, body: Callable[[sqlite3.Connection], T]) -> T:
        """One write transaction: all of `body` or nothing, retried while the database is busy."""

        def attempt() -> T:
            self.connection.execute("BEGIN IMMEDIATE")
            try:
                value = body(self.connection)
                self.connection.execute("COMMIT")
                return value
            except BaseException:
                if self.connection.in_transaction:
                    self.connection.execute("ROLLBACK")
                raise

        return self._retrying(what, attempt)

    def _query(self, what: str, sql: str, parameters: Iterable[Any] = ()) -> list[sqlite3.Row]:
        return self._retrying(what, lambda: self.connection.execute(sql, tuple(parameters)).fetchall())

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> LeaderboardDB:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------------ writes

    def add(
        self, records: list[dict[str, Any]], *, origin: str, batch_gradings: dict[str, tuple[str, str]] | None = None
    ) -> None:
        """Store validated records in one transaction. A submission already stored adds nothing at all.

        `batch_gradings` (grade batch): submission_id -> (grading key, run folder), stored with them;
        a key already stored adds nothing at all either.
        """
        ids = [r["submission_id"] for r in records]
        if len(set(ids)) != len(ids):
            twice = sorted({i for i in ids if ids.count(i) > 1})
            raise LeaderboardError(f"the same submission is given twice ({', '.join(twice)}); nothing was added")
        recorded_at = utc_timestamp()
        names = RECORD_COLUMNS + ["recorded_at", "origin"]
        sql = f"INSERT INTO submissions ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"

        def insert(connection: sqlite3.Connection) -> None:
            _upgrade(connection)  # an older file gets what this write needs, in the same transaction
            present = _present(connection, ids)
            if present:
                raise LeaderboardError(
                    f"already in {self.path}: submission {', '.join(sorted(present))} (imported or recorded "
                    "before); nothing was added"
                )
            connection.executemany(
                sql,
                [
                    [json.dumps(r[n], sort_keys=True) if n == "versions" else r[n] for n in RECORD_COLUMNS]
                    + [recorded_at, origin]
                    for r in records
                ],
            )
            if batch_gradings:
                keys = [key for key, _ in batch_gradings.values()]
                if _graded_keys(connection, keys):
                    raise LeaderboardError(
                        "this grading is already recorded (the same learner, file, spec, "
                        "profile, seed and kit version); nothing was added"
                    )
                connection.executemany(
                    "INSERT INTO batch_gradings (grading_key, submission_id, run_dir) VALUES (?, ?, ?)",
                    [(key, sid, run_dir) for sid, (key, run_dir) in batch_gradings.items()],
                )

        self._transaction("record the submission" if len(records) == 1 else f"add {len(records)} submissions", insert)

    # ------------------------------------------------------------------ reads

    def submissions(self, challenge: str | None = None) -> list[dict[str, Any]]:
        """Every stored submission (of one challenge), oldest first."""
        where, parameters = ("WHERE challenge = ?", [challenge]) if challenge else ("", [])
        rows = self._query(
            "read the submissions", f"SELECT * FROM submissions {where} ORDER BY submitted_at, id", parameters
        )
        return [{**dict(row), "versions": json.loads(row["versions"])} for row in rows]

    def count_graded_since(self, *, learner: str, challenge: str, since: str) -> int:
        """Graded submissions (passed or failed) of a learner to a challenge at or after `since` (UTC)."""
        rows = self._query(
            "count the learner's submissions",
            "SELECT COUNT(*) FROM submissions WHERE learner = ? AND challenge = ? "
            "AND submitted_at >= ? AND verdict != 'not_graded'",
            [learner, challenge, since],
        )
        return int(rows[0][0])

    def selections(self) -> set[str]:
        """The submission ids learners selected for the final standings (none in a version-1 file)."""
        if "selections" not in _tables(self):
            return set()
        return {row[0] for row in self._query("read the selections", "SELECT submission_id FROM selections")}

    def select(self, learner: str, submission_ids: list[str], *, most: int) -> dict[str, Any]:
        """Make `submission_ids` the learner's selection for their board, replacing an earlier one.

        They must be the learner's own graded submissions to one challenge and profile, at most
        `most` of them. Returns that board ({"challenge", "profile"}). All or nothing.
        """
        ids = list(dict.fromkeys(submission_ids))
        if not ids:
            raise LeaderboardError("give at least one submission id to select (`grade leaderboard show` lists them)")
        if len(ids) > most:
            raise LeaderboardError(
                f"at most {most} submissions can be selected for the final standings, "
                f"{len(ids)} were given; nothing was changed"
            )

        def write(connection: sqlite3.Connection) -> dict[str, Any]:
            rows = {
                row["submission_id"]: row
                for row in connection.execute(
                    f"SELECT submission_id, learner, challenge, profile, verdict FROM submissions WHERE submission_id "
                    f"IN ({', '.join('?' * len(ids))})",
                    ids,
                ).fetchall()
            }
            unknown = [i for i in ids if i not in rows]
            if unknown:
                raise LeaderboardError(f"no submission {', '.join(unknown)} in {self.path}; nothing was changed")
            foreign = [i for i in ids if rows[i]["learner"] != learner]
            if foreign:
                raise LeaderboardError(f"submission {', '.join(foreign)} is not {learner}'s; nothing was changed")
            boards = {(rows[i]["challenge"], rows[i]["profile"]) for i in ids}
            if len(boards) > 1:
                raise LeaderboardError(
                    "the selected submissions must be of one challenge and profile; nothing was changed"
                )
            ungraded = [i for i in ids if rows[i]["verdict"] == "not_graded"]
            if ungraded:
                raise LeaderboardError(
                    f"submission {', '.join(ungraded)} could not be graded, so it cannot rank; nothing was changed"
                )
            ((challenge, profile),) = boards
            _upgrade(connection)  # a version-1 file: upgraded in the same transaction
            connection.execute(
                "DELETE FROM selections WHERE submission_id IN (SELECT submission_id FROM submissions WHERE "
                "learner = ? AND challenge = ? AND profile = ?)",
                (learner, challenge, profile),
            )
            now = utc_timestamp()
            connection.executemany(
                "INSERT INTO selections (submission_id, selected_at) VALUES (?, ?)", [(i, now) for i in ids]
            )
            return {"challenge": challenge, "profile": profile}

        return self._transaction("select submissions for the final standings", write)

    def present(self, submission_ids: list[str]) -> set[str]:
        return self._retrying("look up submissions", lambda: _present(self.connection, submission_ids))

    def batch_gradings(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        """grading key -> its recorded submission (with `run_dir`), for the keys already graded."""
        if "batch_gradings" not in _tables(self):
            return {}

        def read() -> dict[str, dict[str, Any]]:
            found = {}
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                rows = self.connection.execute(
                    "SELECT b.grading_key, b.run_dir, s.* FROM batch_gradings b JOIN submissions s USING "
                    f"(submission_id) WHERE b.grading_key IN ({', '.join('?' * len(chunk))})",
                    chunk,
                ).fetchall()
                found.update(
                    {row["grading_key"]: {**dict(row), "versions": json.loads(row["versions"])} for row in rows}
                )
            return found

        return self._retrying("look up earlier gradings", read)


def _upgrade(connection: sqlite3.Connection) -> None:
    """Inside a write transaction: give an older file the tables it lacks, and the current version."""
    tables = {r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    missing = [statement for name, statement in UPGRADES.items() if name not in tables]
    present = {row[1] for row in connection.execute("PRAGMA table_info(submissions)")}
    missing += [
        f"ALTER TABLE submissions ADD COLUMN {name} {kind}"
        for name, kind in ADDED_COLUMNS.items()
        if name not in present
    ]
    for statement in missing:
        connection.execute(statement)
    if missing:
        connection.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))


def _graded_keys(connection: sqlite3.Connection, keys: list[str]) -> set[str]:
    rows = connection.execute(
        f"SELECT grading_key FROM batch_gradings WHERE grading_key IN ({', '.join('?' * len(keys))})", keys
    ).fetchall()
    return {row[0] for row in rows}


def _present(connection: sqlite3.Connection, ids: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(ids), 500):  # SQLite limits the number of parameters per statement
        chunk = ids[start : start + 500]
        rows = connection.execute(
            f"SELECT submission_id FROM submissions WHERE submission_id IN ({', '.join('?' * len(chunk))})", chunk
        ).fetchall()
        found.update(row[0] for row in rows)
    return found


def corrupt_error(path: Path, detail: str) -> LeaderboardError:
    return LeaderboardError(
        f"{path} is damaged or is not a SQLite database ({detail}). It was left as it is: "
        "restore it from a backup, or pass --db with another file (a new one is created)"
    )


# ------------------------------------------------------------------------- opening


def open_db(
    path: Path,
    *,
    create: bool,
    busy_timeout_s: float = config.LEADERBOARD_BUSY_TIMEOUT_S,
    attempts: int = config.LEADERBOARD_WRITE_ATTEMPTS,
) -> LeaderboardDB:
    """Open and check the leaderboard database at `path`. `create`: a missing or empty file gets the schema."""
    path = Path(path)
    if path.is_dir():
        raise LeaderboardError(
            f"{path} is a folder: --db needs the path of a database file, for example {path / 'leaderboard.sqlite'}"
        )
    if not path.exists():
        if not create:
            raise LeaderboardError(
                f"no leaderboard database at {path}: it is created by the first "
                "`grade submit --learner ID` (or pass --db with the right file)"
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise LeaderboardError(f"cannot create the folder for the database {path}: {err.strerror}") from None
    else:
        _check_header(path)
    try:
        connection = sqlite3.connect(path, timeout=busy_timeout_s, isolation_level=None)
    except sqlite3.Error as err:
        raise LeaderboardError(f"cannot open the leaderboard database {path}: {err}") from None
    connection.row_factory = sqlite3.Row
    db = LeaderboardDB(path, connection, attempts=attempts)
    try:
        _check_integrity(db)
        tables = _tables(db)
        if not tables:
            if not create:
                raise LeaderboardError(f"{path} is an empty database: nothing has been recorded in it yet")
            _create_schema(db)
        else:
            _check_schema(db, tables)
        if create:
            # Writers need WAL; it is a property of the file, so it only changes once, on a checked file.
            db._retrying(
                "switch the database to WAL mode", lambda: connection.execute("PRAGMA journal_mode=WAL").fetchall()
            )
    except BaseException:
        connection.close()
        raise
    return db


def _check_header(path: Path) -> None:
    """A file that is not SQLite at all is refused before SQLite opens it (it is never touched)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(len(SQLITE_HEADER))
    except OSError as err:
        raise LeaderboardError(f"cannot read the leaderboard database {path}: {err.strerror}") from None
    if head and head != SQLITE_HEADER:
        raise corrupt_error(path, "it does not start with the SQLite header")


def _check_integrity(db: LeaderboardDB) -> None:
    rows = db._query("check the database", "PRAGMA quick_check")
    problems = [row[0] for row in rows if row[0] != "ok"]
    if problems:
        raise corrupt_error(db.path, f"quick_check: {problems[0]}")


def _tables(db: LeaderboardDB) -> set[str]:
    rows = db._query("read the schema", "SELECT name FROM sqlite_master WHERE type = 'table'")
    return {row[0] for row in rows} - {"sqlite_sequence"}


def _create_schema(db: LeaderboardDB) -> None:
    def create(connection: sqlite3.Connection) -> None:
        # Another grader may have created it since we looked: then there is nothing to do.
        if connection.execute("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]:
            return
        for statement in SCHEMA:
            connection.execute(statement)
        connection.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))

    db._transaction("create the leaderboard tables", create)


def _check_schema(db: LeaderboardDB, tables: set[str]) -> None:
    path = db.path
    if "schema_version" not in tables:
        listed = ", ".join(sorted(tables))
        raise LeaderboardError(
            f"{path} is not a leaderboard database: it has no schema_version table (its tables: "
            f"{listed}). It was left as it is; pass --db with another file"
        )
    versions = [row[0] for row in db._query("read the schema version", "SELECT version FROM schema_version")]
    if versions not in [[version] for version in range(1, SCHEMA_VERSION + 1)]:
        raise LeaderboardError(
            f"{path} has leaderboard schema version {versions or 'none'}, and this grader uses "
            f"version {SCHEMA_VERSION}: use the grader that made it, or another --db file"
        )
    if "submissions" not in tables:
        raise LeaderboardError(
            f"{path} is missing the table 'submissions' (the recorded submissions): the file is "
            "incomplete or was edited. It was left as it is: restore it from a backup"
        )
    present = {row[1] for row in db._query("read the schema", "PRAGMA table_info(submissions)")}
    missing = [name for name in COLUMNS if name not in present and name not in ADDED_COLUMNS]
    if missing:
        raise LeaderboardError(
            f"{path}: the table 'submissions' lacks the columns {', '.join(missing)}: the file "
            "was edited or made by another program. It was left as it is"
        )
