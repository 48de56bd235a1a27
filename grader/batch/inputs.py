"""Which submissions a batch grades, and whose they are: found from the layout a host already has.

Three layouts (`discover` tells them apart):

    folder      one sub-folder per learner (alice/fashion.py, alice/cnn.ipynb), or one file per
                learner (alice.py, bob.ipynb: then --challenge says which challenge)
    list file   a CSV with the columns learner,path[,challenge]; paths relative to the CSV
    nbgrader    a course folder (or its submitted/ folder): submitted/<learner>/<assignment>/<file>

Nothing here reads a submission's contents or follows a symbolic link: a learner's folder is
input from an attacker like the files in it. What cannot be graded is listed in `skipped`
with the reason, never silently dropped.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from grader.core.text import clean
from grader.leaderboard import LeaderboardError
from grader.leaderboard.records import check_learner_id

SUFFIXES = (".py", ".ipynb")
NBGRADER_SUBMITTED = "submitted"
LIST_COLUMNS = ("learner", "path")
MAX_LIST_ROWS = 100_000


class BatchInputError(Exception):
    """The batch's input as a whole is unusable (no such folder, a list file without its columns)."""


@dataclass(frozen=True)
class Submission:
    learner: str
    path: Path
    challenge: str | None  # None: the grader tells it from the file name, as `grade submit` does


@dataclass
class Found:
    submissions: list[Submission] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (what, why)

    def skip(self, what: str, why: str) -> None:
        """Note what cannot be graded; a folder's name is the learner's to choose, so it is cleaned."""
        self.skipped.append((clean(what, 300), clean(why, 500)))

    layout: str = ""


def discover(source: Path, *, challenge: str | None, challenges: list[str]) -> Found:
    """The submissions under `source` (a folder, a CSV list or an nbgrader course), in a stable order."""
    source = Path(source)
    if not source.exists():
        raise BatchInputError(f"no such file or folder: {source}")
    if source.is_file():
        if source.suffix.lower() != ".csv":
            raise BatchInputError(
                f"{source} is a file but not a CSV list (learner,path[,challenge]): give a list "
                "file ending in .csv, or the folder that holds the submissions"
            )
        found = from_list(source, challenge=challenge)
    elif source.name == NBGRADER_SUBMITTED or (source / NBGRADER_SUBMITTED).is_dir():
        submitted = source if source.name == NBGRADER_SUBMITTED else source / NBGRADER_SUBMITTED
        found = from_nbgrader(submitted, challenge=challenge, challenges=challenges)
    else:
        found = from_folder(source, challenge=challenge, challenges=challenges)
    if not found.submissions:
        reasons = "".join(f"\n  {what}: {why}" for what, why in found.skipped[:10])
        raise BatchInputError(
            f"no submissions found in {source} (read as {found.layout})"
            + (
                f"; skipped:{reasons}"
                if reasons
                else ": expected one sub-folder per learner with files named after "
                "their challenge (alice/fashion.py), a CSV list, or an nbgrader course with a submitted/ folder"
            )
        )
    return found


def _learner(name: str, where: str, found: Found) -> str | None:
    try:
        return check_learner_id(name)
    except LeaderboardError as err:
        found.skip(where, str(err))
        return None


def _entries(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if not p.name.startswith(".")), key=lambda p: p.name)


def _pick(
    files: list[Path], *, challenge: str | None, challenges: list[str], where: str, found: Found
) -> list[tuple[Path, str | None]]:
    """The files of one learner's folder that are submissions, with the challenge of each."""
    candidates = [p for p in files if p.suffix in SUFFIXES]
    if challenge is not None:
        named = [p for p in candidates if p.stem == challenge]
        chosen = named or (candidates if len(candidates) == 1 else [])
        if len(chosen) > 1:  # fashion.py and fashion.ipynb: which one the learner meant is not ours to guess
            found.skip(where, f"both {' and '.join(p.name for p in chosen)}: keep one")
            return []
        if not chosen:
            found.skip(
                where,
                f"no {challenge}.py or {challenge}.ipynb"
                + (f" (found {', '.join(p.name for p in candidates)})" if candidates else ""),
            )
        return [(p, challenge) for p in chosen]
    picked = [(p, p.stem) for p in candidates if p.stem in challenges]
    stems = [p.stem for p, _ in picked]
    twice = sorted({s for s in stems if stems.count(s) > 1})
    for stem in twice:
        found.skip(where, f"both {stem}.py and {stem}.ipynb: keep one")
    if not picked:
        found.skip(
            where,
            "no file named after a challenge (" + ", ".join(f"{c}.py" for c in challenges) + "); or pass --challenge",
        )
    return [(p, c) for p, c in picked if c not in twice]


def from_folder(folder: Path, *, challenge: str | None, challenges: list[str]) -> Found:
    found = Found(layout="a folder of learners")
    for entry in _entries(folder):
        where = str(entry)
        if entry.is_symlink():
            found.skip(where, "a symbolic link: submissions are read from real files and folders only")
        elif entry.is_dir():
            learner = _learner(entry.name, where, found)
            if learner is None:
                continue
            files = [p for p in _entries(entry) if p.is_file() or p.is_symlink()]
            for path, name in _pick(files, challenge=challenge, challenges=challenges, where=where, found=found):
                found.submissions.append(Submission(learner, path, name))
        elif entry.suffix in SUFFIXES:
            if challenge is None:
                found.skip(
                    where,
                    "one file per learner needs --challenge NAME (the file is named "
                    "after its learner, not its challenge)",
                )
                continue
            learner = _learner(entry.stem, where, found)
            if learner is not None:
                found.submissions.append(Submission(learner, entry, challenge))
    return found


def from_nbgrader(submitted: Path, *, challenge: str | None, challenges: list[str]) -> Found:
    """submitted/<learner>/<assignment>/<files>: the assignment is the challenge (nbgrader build names them so)."""
    found = Found(layout="an nbgrader course")
    for learner_dir in _entries(submitted):
        if learner_dir.is_symlink() or not learner_dir.is_dir():
            found.skip(str(learner_dir), "not a learner's folder")
            continue
        learner = _learner(learner_dir.name, str(learner_dir), found)
        if learner is None:
            continue
        for assignment in _entries(learner_dir):
            if assignment.is_symlink() or not assignment.is_dir():
                continue
            if (challenge or assignment.name) != assignment.name:
                continue  # another assignment than the one asked for
            name = assignment.name if assignment.name in challenges else challenge
            files = [p for p in _entries(assignment) if p.is_file() or p.is_symlink()]
            for path, chosen in _pick(files, challenge=name, challenges=challenges, where=str(assignment), found=found):
                found.submissions.append(Submission(learner, path, chosen))
    return found


def from_list(list_file: Path, *, challenge: str | None) -> Found:
    """A CSV with a header row: learner,path and optionally challenge. Every bad row is reported."""
    found = Found(layout="a list file")
    try:
        text = list_file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise BatchInputError(f"cannot read the list file {list_file}: {err}") from None
    rows = csv.DictReader(text.splitlines())
    columns = [c.strip().lower() for c in rows.fieldnames or []]
    if not set(LIST_COLUMNS) <= set(columns):
        raise BatchInputError(
            f"{list_file}: the first row must name the columns learner,path (and optionally "
            f"challenge); it is {','.join(columns) or 'empty'}"
        )
    rows.fieldnames = columns
    for number, row in enumerate(rows, start=2):
        if number > MAX_LIST_ROWS:
            raise BatchInputError(f"{list_file}: more than {MAX_LIST_ROWS:,} rows: split the list")
        where = f"{list_file}, line {number}"
        learner = _learner((row.get("learner") or "").strip(), where, found)
        given = (row.get("path") or "").strip()
        if learner is None:
            continue
        if not given:
            found.skip(where, "no path")
            continue
        path = Path(given) if Path(given).is_absolute() else list_file.parent / given
        found.submissions.append(Submission(learner, path, (row.get("challenge") or "").strip() or challenge))
    return found
