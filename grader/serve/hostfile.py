"""The host's challenge file (TOML) and roster (CSV), read into frozen, checked objects.

    [serve]
    title = "CNN week"
    opens = 2027-01-08T09:00:00+01:00       # a time zone is required: a deadline must mean one moment
    closes = 2027-01-15T17:00:00+01:00
    daily_cap = 5                           # submissions per learner, challenge and UTC day
    selections = 2                          # how many a learner selects for the final standings
    board_names = "display"                 # or "anonymous"
    upload_max_bytes = 1000000
    roster = "roster.csv"                   # learner,name; relative to this file's folder

    [[challenges]]
    name = "fashion"
    profile = "quick"
    spec = "challenges/fashion.toml"        # optional; relative to this file's folder

Every problem is a `HostFileError` naming the file, the key and what to do. Paths in the file
stay inside its folder: the service reads them with the host's rights, so a file handed over by
someone else must not make it read /etc or a sibling course's roster.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import sys
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from grader import config
from grader.leaderboard.records import NAME as PROFILE_NAME

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

UPLOAD_LIMIT = 20_000_000  # the most a host may allow per upload: the file is kept in the database
ROSTER_MAX_BYTES = 5_000_000
CHALLENGE_NAME = r"^[a-z][a-z0-9_]{0,39}$"
LEARNER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
DISPLAY_NAME_MAX = 80

# What to do about each key, appended to pydantic's description of what is wrong with it.
HINTS = {
    "serve": "add a [serve] table with title, opens, closes and roster",
    "challenges": 'add at least one [[challenges]] table, like: name = "fashion"',
    "title": 'give the title as text, like "CNN week 2027"',
    "opens": "give an ISO date with a time zone, like 2027-01-08T09:00:00+01:00",
    "closes": "give an ISO date with a time zone, like 2027-01-15T17:00:00+01:00",
    "daily_cap": "give a whole number of submissions per learner per UTC day, 1 or more (default 5)",
    "selections": "give how many submissions each learner selects for the final, 1 or more (default 2)",
    "board_names": 'use "display" (the roster\'s names) or "anonymous"',
    "upload_max_bytes": f"give a whole number of bytes from 1 to {UPLOAD_LIMIT} (default 1000000)",
    "roster": "give the roster CSV's path relative to this file's folder, like \"roster.csv\"",
    "name": 'give a challenge name like "fashion": a lowercase letter, then up to 39 lowercase letters, digits or _',
    "profile": 'give a profile name like "quick" (letters, digits, . _ -)',
    "spec": "give the spec's path relative to this file's folder, like \"challenges/fashion.toml\"",
}


class HostFileError(ValueError):
    """A host file or roster that cannot be used; the message names the file, the key and the fix."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _relative_path(value: str) -> str:
    """A path that cannot leave the host file's folder, whatever the folder holds."""
    if not value.strip() or "\x00" in value:
        raise ValueError(f"{value!r} is not a path: give a file name relative to the host file's folder")
    if PurePosixPath(value).is_absolute() or PureWindowsPath(value).is_absolute() or PureWindowsPath(value).drive:
        raise ValueError(f"{value!r} is an absolute path: give a path relative to the host file's folder")
    if ".." in PurePosixPath(value.replace("\\", "/")).parts:
        raise ValueError(f"{value!r} leaves the host file's folder (..): keep the file inside that folder")
    return value


class ServeTable(_Strict):
    """The [serve] table: when the challenge week runs and its rules."""

    title: StrictStr = Field(min_length=1, max_length=200)
    opens: AwareDatetime
    closes: AwareDatetime
    daily_cap: StrictInt = Field(default=5, ge=1)
    selections: StrictInt = Field(default=2, ge=1)
    board_names: Literal["display", "anonymous"] = "display"
    upload_max_bytes: StrictInt = Field(default=1_000_000, ge=1, le=UPLOAD_LIMIT)
    roster: StrictStr

    @field_validator("closes")
    @classmethod
    def _after_opens(cls, closes: dt.datetime, info: ValidationInfo) -> dt.datetime:
        opens = info.data.get("opens")
        if opens is not None and closes <= opens:
            raise ValueError(
                f"{closes.isoformat()} is not after opens ({opens.isoformat()}): make closes later than opens"
            )
        return closes

    @field_validator("roster")
    @classmethod
    def _roster_inside(cls, value: str) -> str:
        return _relative_path(value)


class ChallengeTable(_Strict):
    """One [[challenges]] entry: a challenge the service accepts submissions to."""

    name: StrictStr = Field(pattern=CHALLENGE_NAME)
    profile: StrictStr = Field(default=config.DEFAULT_PROFILE, pattern=PROFILE_NAME.pattern)
    spec: StrictStr | None = None

    @field_validator("spec")
    @classmethod
    def _spec_inside(cls, value: str | None) -> str | None:
        return None if value is None else _relative_path(value)


class _Document(_Strict):
    """What the TOML file holds."""

    serve: ServeTable
    challenges: tuple[ChallengeTable, ...] = Field(min_length=1)

    @field_validator("challenges")
    @classmethod
    def _unique_names(cls, challenges: tuple[ChallengeTable, ...]) -> tuple[ChallengeTable, ...]:
        seen: dict[str, int] = {}
        for number, challenge in enumerate(challenges, start=1):
            if challenge.name in seen:
                raise ValueError(
                    f"entries {seen[challenge.name]} and {number} are both named {challenge.name!r}: "
                    "give each challenge its own name"
                )
            seen[challenge.name] = number
        return challenges


class HostFile(_Document):
    """The host's file, checked. `path` is where it was read from: its folder anchors the paths in it."""

    path: Path

    @property
    def folder(self) -> Path:
        return self.path.parent

    def challenge(self, name: str) -> ChallengeTable | None:
        """The challenge of that name, or None when the host did not list it."""
        return next((c for c in self.challenges if c.name == name), None)

    @property
    def roster_path(self) -> Path:
        return self.folder / self.serve.roster

    def spec_path(self, name: str) -> Path | None:
        """The spec file of a challenge, when the host named one."""
        challenge = self.challenge(name)
        return None if challenge is None or challenge.spec is None else self.folder / challenge.spec


class RosterEntry(_Strict):
    """One learner of the roster: the ID they are known by, and the name boards may show."""

    learner: StrictStr = Field(pattern=LEARNER_ID.pattern)
    name: StrictStr = Field(min_length=1, max_length=DISPLAY_NAME_MAX)


# --------------------------------------------------------------------------- the host file


def load_host_file(path: str | Path) -> HostFile:
    """Read and check the host's challenge file; the files it names must exist inside its folder."""
    path = Path(path)
    document = _read_toml(path)
    try:
        checked = _Document.model_validate(document)
    except ValidationError as err:
        raise HostFileError("\n".join(_describe(path, error) for error in _first_causes(err.errors()))) from None
    host = HostFile(path=path, serve=checked.serve, challenges=checked.challenges)
    _check_inside(path, "[serve] roster", host.serve.roster)
    for number, challenge in enumerate(host.challenges, start=1):
        if challenge.spec is not None:
            _check_inside(path, f"[[challenges]] #{number} spec", challenge.spec)
    return host


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise HostFileError(f"{path}: no such file: give the path of the host's challenge file (TOML)") from None
    except IsADirectoryError:
        raise HostFileError(f"{path}: is a folder: give the path of the host's challenge file (TOML)") from None
    except OSError as err:
        raise HostFileError(f"{path}: cannot be read ({err.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise HostFileError(f"{path}: not valid TOML ({err}): fix the place it names") from None


def _first_causes(errors: list[Any]) -> list[Any]:
    """The errors without those that only follow from another (a list too short once a bad entry was dropped)."""
    locations = [tuple(error["loc"]) for error in errors]
    return [
        error
        for error in errors
        if not any(
            len(other) > len(error["loc"]) and other[: len(error["loc"])] == tuple(error["loc"]) for other in locations
        )
    ]


def _where(location: tuple[Any, ...]) -> str:
    """('serve', 'closes') -> '[serve] closes'; ('challenges', 0, 'name') -> '[[challenges]] #1 name'."""
    if not location:
        return "the file"
    head, rest = location[0], list(location[1:])
    if head == "serve":
        label = "[serve]"
    elif head == "challenges":
        label = "[[challenges]]"
        if rest and isinstance(rest[0], int):
            label += f" #{rest.pop(0) + 1}"
    else:
        label = str(head)
    return " ".join([label, *map(str, rest)])


def _shown(value: Any) -> str:
    text = value.isoformat() if isinstance(value, (dt.datetime, dt.date, dt.time)) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _describe(path: Path, error: Any) -> str:
    """One pydantic error as a line that names the file, the key, what is wrong and what to do."""
    location = tuple(error["loc"])
    key = str(next((part for part in reversed(location) if isinstance(part, str)), ""))
    hint = HINTS.get(key, "see the example at the top of grader/serve/hostfile.py")
    where = f"{path}: {_where(location)}"
    kind = error["type"]
    if kind == "missing":
        return f"{where}: missing: {hint}"
    if kind == "extra_forbidden":
        return f"{where}: unknown key: remove it or correct its spelling"
    if kind == "value_error":  # our own validators: the message already says what to do
        return f"{where}: {error['msg'].removeprefix('Value error, ')}"
    return f"{where}: {error['msg']} (got {_shown(error.get('input'))}): {hint}"


def _check_inside(path: Path, key: str, relative: str) -> Path:
    """The file `relative` names, resolved; refused when it is missing or a link leads outside the folder."""
    folder = path.parent.resolve()
    target = (folder / relative).resolve()
    if not target.is_relative_to(folder):
        raise HostFileError(
            f"{path}: {key}: {relative!r} leads outside the host file's folder (to {target}): "
            f"keep the file inside {folder}"
        )
    if not target.is_file():
        raise HostFileError(f"{path}: {key}: {relative!r} is not a file in {folder}: create it or correct the path")
    return target


# --------------------------------------------------------------------------- the roster


def read_roster(path: str | Path) -> list[RosterEntry]:
    """The learners of a roster CSV (header `learner,name`), in file order; every problem names its line."""
    path = Path(path)
    rows = csv.reader(io.StringIO(_read_roster_text(path), newline=""))
    header = next(rows, None)
    if header is None or [column.strip().lower() for column in header] != ["learner", "name"]:
        raise HostFileError(f"{path}: line 1: the header must be learner,name: make it the first line")
    entries: list[RosterEntry] = []
    first_line: dict[str, int] = {}
    for row in rows:
        if not any(cell.strip() for cell in row):
            continue  # blank lines are allowed
        entry = _roster_entry(path, rows.line_num, row)
        key = entry.learner.casefold()  # "Erin" and "erin" would be one learner to the boards
        if key in first_line:
            raise HostFileError(
                f"{path}: line {rows.line_num}: learner {entry.learner!r} is already on line {first_line[key]}: "
                "give each learner one line"
            )
        first_line[key] = rows.line_num
        entries.append(entry)
    if not entries:
        raise HostFileError(f"{path}: no learners: add one line per learner after the header learner,name")
    return entries


def _read_roster_text(path: Path) -> str:
    try:
        if path.stat().st_size > ROSTER_MAX_BYTES:
            raise HostFileError(f"{path}: larger than {ROSTER_MAX_BYTES} bytes: is it the roster?")
        return path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise HostFileError(f"{path}: no such file: create the roster CSV (header learner,name)") from None
    except UnicodeDecodeError:
        raise HostFileError(f"{path}: not UTF-8 text: save the roster as CSV (UTF-8)") from None
    except OSError as err:
        raise HostFileError(f"{path}: cannot be read ({err.strerror})") from None


def _roster_entry(path: Path, line: int, row: list[str]) -> RosterEntry:
    """One roster line, checked; an empty name falls back to the learner's ID."""
    where = f"{path}: line {line}"
    if len(row) != 2:
        raise HostFileError(
            f"{where}: {len(row)} columns, and a roster line has 2 (learner,name): "
            'put a name that holds a comma in double quotes, like "Doe, Jane"'
        )
    learner, name = row[0].strip(), row[1].strip()
    if not LEARNER_ID.fullmatch(learner):
        raise HostFileError(
            f"{where}: learner {learner!r} is not usable: use 1 to 64 letters, digits and . _ -, "
            "starting with a letter or digit (a student number or a login)"
        )
    name = name or learner
    if len(name) > DISPLAY_NAME_MAX or not name.isprintable():
        raise HostFileError(
            f"{where}: the name of {learner!r} must be at most {DISPLAY_NAME_MAX} printable characters "
            f"(it has {len(name)}{'' if name.isprintable() else ', some not printable'}): shorten it"
        )
    return RosterEntry(learner=learner, name=name)
