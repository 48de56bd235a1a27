"""The service's SQLite file: connections, write transactions, the schema and its version.

- WAL mode: the web app's readers never wait for a grading being recorded, nor it for them.
- A connection per call: the web app calls the store from request threads and an asyncio loop,
  and a connection must not cross threads; opening one on a WAL file costs microseconds.
- Every write is one `BEGIN IMMEDIATE` transaction: it takes the write lock before reading, so
  two writers never deadlock upgrading read locks (SQLITE_BUSY), and what a write decided from
  its reads (a quota, the next job) still holds when it writes.
- The busy timeout makes a writer wait for another instead of failing.
- The schema's version is in `meta`; a file of another version, or not SQLite, is refused untouched.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from grader.leaderboard.records import utc_timestamp

SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 10.0
SQLITE_HEADER = b"SQLite format 3\x00"

SUBMISSION_STATUSES = ("queued", "running", "graded", "failed", "infrastructure", "cancelled")
JOB_STATES = ("queued", "running", "done", "failed", "cancelled")


def _one_of(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{value}'" for value in values)


SCHEMA = [
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    # The roster's learners. The token is shown once; only its SHA-256 is kept.
    """CREATE TABLE learners (
        id TEXT PRIMARY KEY COLLATE NOCASE,
        display_name TEXT NOT NULL,
        anonymous_id TEXT NOT NULL UNIQUE,
        token_hash TEXT UNIQUE,
        created_at TEXT NOT NULL
    )""",
    # One row per upload; it carries the result currently shown (a regrade replaces it).
    f"""CREATE TABLE submissions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        learner TEXT NOT NULL COLLATE NOCASE REFERENCES learners (id),
        challenge TEXT NOT NULL,
        profile TEXT NOT NULL,
        filename TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ({_one_of(SUBMISSION_STATUSES)})),
        reason TEXT,
        verdict TEXT,
        max_score REAL,
        public_score REAL,
        private_score REAL,
        public_accuracy REAL,
        private_accuracy REAL,
        result_json TEXT,
        grading_key TEXT,
        graded_at TEXT,
        selected INTEGER NOT NULL DEFAULT 0 CHECK (selected IN (0, 1))
    )""",
    "CREATE INDEX submissions_by_learner ON submissions (learner, challenge, created_at)",
    "CREATE INDEX submissions_by_board ON submissions (challenge, status)",
    # The uploaded bytes, by submission id only: the uploaded name is never a path.
    "CREATE TABLE files (submission_id INTEGER PRIMARY KEY REFERENCES submissions (id), content BLOB NOT NULL)",
    # The queue: one row per grading asked for (the first, and each regrade).
    f"""CREATE TABLE jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        submission_id INTEGER NOT NULL REFERENCES submissions (id),
        learner TEXT NOT NULL COLLATE NOCASE,
        priority INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL CHECK (state IN ({_one_of(JOB_STATES)})),
        attempts INTEGER NOT NULL DEFAULT 0,
        lease_id TEXT UNIQUE,
        lease_expires_at TEXT,
        worker TEXT,
        created_at TEXT NOT NULL,
        started_at TEXT,
        finished_at TEXT,
        regrade_of INTEGER REFERENCES jobs (id)
    )""",
    "CREATE INDEX jobs_by_state ON jobs (state, priority, created_at)",
    "CREATE INDEX jobs_by_learner ON jobs (learner, started_at)",
    "CREATE INDEX jobs_by_submission ON jobs (submission_id)",
    # Every result recorded, old and new: a regrade keeps the earlier one here.
    """CREATE TABLE gradings (
        job_id INTEGER PRIMARY KEY REFERENCES jobs (id),
        submission_id INTEGER NOT NULL REFERENCES submissions (id),
        grading_key TEXT NOT NULL UNIQUE,
        verdict TEXT NOT NULL,
        reason TEXT,
        max_score REAL,
        public_score REAL,
        private_score REAL,
        public_accuracy REAL,
        private_accuracy REAL,
        result_json TEXT NOT NULL,
        worker TEXT,
        recorded_at TEXT NOT NULL
    )""",
    # The host's extra submissions for a learner on one UTC day ('' challenge: every challenge).
    """CREATE TABLE quota_extensions (
        learner TEXT NOT NULL COLLATE NOCASE,
        challenge TEXT NOT NULL,
        day TEXT NOT NULL,
        extra INTEGER NOT NULL,
        PRIMARY KEY (learner, challenge, day)
    )""",
    "CREATE TABLE closed_early (challenge TEXT PRIMARY KEY, closed_at TEXT NOT NULL)",
    # What the host did and what the reaper decided, for the host's audit.
    """CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        detail TEXT NOT NULL
    )""",
]
TABLES = {"meta", "learners", "submissions", "files", "jobs", "gradings", "quota_extensions", "closed_early", "events"}


class StoreError(Exception):
    """A database file the service cannot use; nothing in it was changed."""


class Refused(Exception):
    """A request the service turns down: `message` is for the learner, `status` the HTTP status to answer."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.message = message
        self.status = status


def stamp(moment: dt.datetime) -> str:
    """The one text form of a moment (UTC, microseconds), so that moments sort as text in SQL."""
    if moment.tzinfo is None:
        raise ValueError(f"{moment!r} has no time zone: the store only takes aware datetimes")
    return utc_timestamp(moment)


def parse(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def shown(moment: dt.datetime) -> str:
    """A moment as messages show it: 2027-01-15 16:00 UTC."""
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


class Database:
    """The opened, checked file. Subclasses add what is stored; each call uses its own connection."""

    def __init__(self, path: str | Path, *, busy_timeout_s: float = BUSY_TIMEOUT_S):
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        self._prepare()

    def connect(self) -> sqlite3.Connection:
        """A new connection in autocommit mode: transactions are begun explicitly."""
        try:
            connection = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None)
        except sqlite3.Error as err:
            raise StoreError(f"{self.path}: cannot open the service's database ({err})") from None
        connection.row_factory = sqlite3.Row
        connection.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_s * 1000)}")
        connection.execute("PRAGMA foreign_keys = ON")
        return connection

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken with BEGIN IMMEDIATE: all of it is stored, or none of it."""
        connection = self.connect()
        try:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
        finally:
            connection.close()

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: every query in it sees the same snapshot of the file."""
        connection = self.connect()
        try:
            connection.execute("BEGIN")
            try:
                yield connection
            finally:
                connection.execute("ROLLBACK")
        finally:
            connection.close()

    # ------------------------------------------------------------------ opening

    def _prepare(self) -> None:
        """Create the schema in a new or empty file, or check an existing one; then switch to WAL."""
        if self.path.is_dir():
            raise StoreError(f"{self.path} is a folder: give the path of the service's database file")
        if self.path.exists():
            with self.path.open("rb") as handle:
                head = handle.read(len(SQLITE_HEADER))
            if head and head != SQLITE_HEADER:
                raise StoreError(f"{self.path} is not a SQLite database: it was left as it is; give another path")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self.write() as connection:
                self._create_or_check(connection)
            connection = self.connect()
            try:
                connection.execute("PRAGMA journal_mode = WAL").fetchall()
            finally:
                connection.close()
        except sqlite3.DatabaseError as err:
            raise StoreError(f"{self.path}: not a usable SQLite database ({err}): it was left as it is") from None

    def _create_or_check(self, connection: sqlite3.Connection) -> None:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        tables.discard("sqlite_sequence")
        if not tables:
            for statement in SCHEMA:
                connection.execute(statement)
            connection.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            return
        if "meta" not in tables:
            raise StoreError(f"{self.path} is not the service's database (no meta table): give another path")
        row = connection.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None or row[0] != str(SCHEMA_VERSION):
            raise StoreError(
                f"{self.path} has schema version {row[0] if row else 'none'}, and this grader uses "
                f"{SCHEMA_VERSION}: use the grader that made it, or another path"
            )
        missing = TABLES - tables
        if missing:
            raise StoreError(f"{self.path} lacks the tables {', '.join(sorted(missing))}: restore it from a backup")
