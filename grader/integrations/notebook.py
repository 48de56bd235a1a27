"""A Jupyter notebook as a submission: its code cells, in order, become one Python file.

`grade submit fashion.ipynb` grades the notebook exactly like `fashion.py`: the grader
writes the converted source into the run folder and the child imports that file. The
conversion is deliberately plain:

- code cells are joined in notebook order, each under a `# %% [cell n]` marker, so an error's
  line can be found in the notebook again;
- IPython-only lines (`%magic`, `!shell`) are commented out with a note: they are not Python,
  and a notebook's `%matplotlib inline` must not stop it from being graded;
- nbgrader's graded test cells are left out: they are the autograder's tests (they call the
  kit's checks), not the learner's answer, and they would run while the file is imported.

Every problem with the file raises NotebookError with a message a learner can act on.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

# Cell magics whose body is ordinary Python: dropping the magic line keeps the code.
PYTHON_BODY_CELL_MAGICS = {"time", "timeit", "capture", "prun"}
SKIPPED_LINE_NOTE = "# [not run by the grader: IPython-only line] "
# `%name ...` (a magic) or `!command` (the shell), but not `% 2` or `!= b` continuing an expression.
_IPYTHON_LINE = re.compile(r"^(%[A-Za-z_]|![^=])")


class NotebookError(ValueError):
    """The notebook cannot be turned into a submission; the message says why and what to do."""


def read_notebook(raw: bytes, name: str) -> Any:
    """The notebook as an nbformat v4 node, validated; NotebookError if it is not one."""
    import nbformat

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise NotebookError(f"{name} is not UTF-8 text; save it again from Jupyter") from None
    try:
        json.loads(text)
    except json.JSONDecodeError as err:
        raise NotebookError(f"{name} is not a valid notebook: it is not JSON (line {err.lineno}, column "
                            f"{err.colno}: {err.msg}). Save it again from Jupyter, or submit a .py file") from None
    try:
        notebook = nbformat.reads(text, as_version=4)
        nbformat.validate(notebook)
    except Exception as err:  # nbformat raises several kinds (ValidationError, KeyError, ...) for bad documents
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise NotebookError(f"{name} is JSON but not a valid Jupyter notebook ({first_line}). "
                            "Save it again from Jupyter, or submit a .py file") from None
    language = notebook.metadata.get("kernelspec", {}).get("language") or \
        notebook.metadata.get("language_info", {}).get("name") or "python"
    if language.lower() != "python":
        raise NotebookError(f"{name} is a {language} notebook; only Python notebooks can be graded")
    return notebook


def is_nbgrader_test_cell(cell: Any) -> bool:
    """A graded cell that is not a solution: one of the autograder's tests."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution")


def _without_ipython_lines(source: str) -> str:
    lines = source.splitlines()
    first = lines[0].lstrip() if lines else ""
    if first.startswith("%%"):
        magic = first[2:].split(maxsplit=1)[0] if first[2:].strip() else ""
        if magic in PYTHON_BODY_CELL_MAGICS:
            return "\n".join([SKIPPED_LINE_NOTE + lines[0], *lines[1:]])
        # Another language or a shell script: nothing in the cell is Python.
        return "\n".join(SKIPPED_LINE_NOTE + line for line in lines)
    out = []
    for line in lines:
        stripped = line.lstrip()
        if _IPYTHON_LINE.match(stripped):
            out.append(line[: len(line) - len(stripped)] + SKIPPED_LINE_NOTE + stripped)
        else:
            out.append(line)
    return "\n".join(out)


def notebook_to_python(raw: bytes, name: str) -> str:
    """The notebook's code cells as one Python source; NotebookError when there is nothing to grade."""
    notebook = read_notebook(raw, name)
    parts = []
    for index, cell in enumerate(notebook.cells, start=1):
        if cell.cell_type != "code" or is_nbgrader_test_cell(cell) or not cell.source.strip():
            continue
        parts.append(f"# %% [cell {index}]\n{_without_ipython_lines(cell.source)}\n")
    if not parts:
        raise NotebookError(f"{name} has no code cells to grade: put your code in code cells (not markdown) "
                            "and save the notebook")
    header = f"# Converted by `grade` from {name}: its code cells, in order.\n\n"
    return header + "\n".join(parts)


def read_notebook_submission(path: Path) -> tuple[str, bytes]:
    """(Python source, the notebook's bytes). The bytes are what the submission's hash is taken of."""
    raw = path.read_bytes()
    return notebook_to_python(raw, path.name), raw


# The converted source's name in the run folder: never a learner's own file name, so that
# `--out .` beside fashion.py cannot overwrite it.
NOTEBOOK_SOURCE_FILE = "submission_from_notebook.py"
