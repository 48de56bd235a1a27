"""What every kind of grading reads and writes first: the submission's file and the run folder.

`read_submission` refuses what cannot be graded (missing, too large, not .py or .ipynb, not
UTF-8) with the grader's "not graded"; `syntax_failure` compiles without running anything;
`make_run_dir` makes (or reuses) the folder only the parent writes to. grader/pipeline/__init__.py
(models) and grader/kinds/functions/grade.py (NumPy functions) both start here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import stat
from pathlib import Path

from grader import config
from grader.core.facts import Failure
from grader.report import REPORT_FILE
from grader.submission.notebook import NOTEBOOK_SOURCE_FILE

TRAINED_MODEL_FILE = "model.keras"  # in the run folder: trained by the trusted trainer
# What a run folder of ours may hold: --out may point at one of these again, or at an empty folder.
RUN_FOLDER_FILES = {"result.json", REPORT_FILE, "output.log", TRAINED_MODEL_FILE, "results.json", NOTEBOOK_SOURCE_FILE}


class NotGraded(Exception):
    """A problem on the grader's side of the table: the submission was not graded."""


def path_problem(path: Path) -> str | None:
    """What is wrong with a submission's path, before anything else is looked at; None: nothing."""
    if path.is_symlink():
        return f"{path} is a symbolic link: submit the file itself"
    if not path.exists():
        return f"no such file: {path}"
    if path.is_dir():
        return f"{path} is a folder: give the submission file in it (for example {path / 'fashion.py'})"
    if path.suffix not in (".py", ".ipynb"):
        return f"{path.name} is not a Python file (.py) or a notebook (.ipynb)"
    return None


def read_submission(path: Path) -> tuple[str, str]:
    """(source, sha256). A missing or unreadable file is the grader's 'not graded'."""
    if not path.exists():
        raise NotGraded(f"no such file: {path}")
    if not path.is_file():
        raise NotGraded(f"not a file: {path}")
    if path.stat().st_size > config.MAX_SUBMISSION_BYTES:
        raise NotGraded(
            f"{path.name} is {path.stat().st_size:,} bytes, more than the {config.MAX_SUBMISSION_BYTES:,} "
            f"allowed: keep data and outputs out of the file (clear a notebook's outputs)"
        )
    if path.suffix == ".ipynb":
        return read_notebook(path)
    if path.suffix != ".py":
        raise NotGraded(f"{path.name} is not a Python file (.py) or a notebook (.ipynb)")
    try:
        raw = path.read_bytes()
        return raw.decode("utf-8"), hashlib.sha256(raw).hexdigest()
    except UnicodeDecodeError:
        raise NotGraded(f"{path} is not UTF-8 text") from None
    except OSError as err:
        raise NotGraded(f"cannot read {path}: {err.strerror}") from None


def read_notebook(path: Path) -> tuple[str, str]:
    """(the code cells as Python source, sha256 of the notebook's bytes)."""
    from grader.submission.notebook import NotebookError, read_notebook_submission

    try:
        source, raw = read_notebook_submission(path)
    except NotebookError as err:
        raise NotGraded(str(err)) from None
    except OSError as err:
        raise NotGraded(f"cannot read {path}: {err.strerror}") from None
    return source, hashlib.sha256(raw).hexdigest()


def syntax_failure(source: str, path: Path) -> Failure | None:
    """Compile without running: a syntax error is reported with its line, safely, in the parent."""
    try:
        # A name that is no file: for some errors Python quotes the line from the file on disk,
        # which for a notebook is a line of its JSON, not of the converted source.
        compile(source, f"<{path.name}>", "exec")
    except SyntaxError as err:
        line = (err.text or "").strip()
        return Failure(
            "read",
            f"syntax error at line {err.lineno}: {err.msg}" + (f" ({line})" if line else ""),
            "fix the line shown (and the one before it: a missing bracket shows up one line later)",
        )
    return None


def make_run_dir(out_dir: Path | None, challenge: str, sha256: str) -> Path:
    """The run folder: new, empty, or one of ours from before (its files are replaced).

    Only the parent ever writes here: no sandbox sees it."""
    if out_dir is None:
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        out_dir = config.runs_dir() / f"{challenge}-{stamp}-{sha256[:8]}"
    out_dir = Path(out_dir)
    if out_dir.is_symlink():
        raise NotGraded(f"--out {out_dir} is a symbolic link: give a real folder")
    out_dir = out_dir.resolve()
    if out_dir.exists():
        if not out_dir.is_dir():
            raise NotGraded(f"--out {out_dir} exists and is not a folder")
        foreign = sorted(
            entry.name
            for entry in out_dir.iterdir()
            if entry.name not in RUN_FOLDER_FILES or not stat.S_ISREG(entry.lstat().st_mode)
        )
        if foreign:
            raise NotGraded(
                f"--out {out_dir} holds {foreign[0]!r}, which is not from a grader run: give an empty "
                f"folder, a new one, or a previous run folder"
            )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for stale in RUN_FOLDER_FILES:
            (out_dir / stale).unlink(missing_ok=True)
    except OSError as err:
        raise NotGraded(f"cannot use {out_dir} as the output folder: {err.strerror}") from None
    return out_dir
