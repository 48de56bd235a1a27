"""A Jupyter notebook as a submission: its code cells, in order, become one Python file.

`grade submit fashion.ipynb` grades the notebook exactly like `fashion.py`: the grader
writes the converted source into the run folder and the child imports that file. The
conversion is deliberately plain:

- code cells are joined in notebook order, each under a `# %% [cell n]` marker, so an error's
  line can be found in the notebook again;
- IPython-only lines (`%magic`, `!shell`, `files = !ls`, a `!wget ... \\` continued on the next
  line) are translated by IPython's own input transformer, exactly as Jupyter would, into calls
  of `get_ipython()`; the converted file defines a `get_ipython()` whose every call does nothing,
  so a notebook's `%matplotlib inline` or `!pip install` neither stops it nor runs when graded.
  Each cell keeps its line count, so an error's line maps back to "cell N, line M";
- nbgrader's graded test cells are left out: they are the autograder's tests (they call the
  kit's checks), not the learner's answer, and they would run while the file is imported.

Every problem with the file raises NotebookError with a message a learner can act on.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from grader.core.bounded import MAX_JSON_DEPTH, json_depth_exceeds

# Cell magics whose body is ordinary Python: dropping the magic line keeps the code.
PYTHON_BODY_CELL_MAGICS = {"time", "timeit", "capture", "prun"}
SKIPPED_LINE_NOTE = "# [not run by the grader: IPython-only line] "
CELL_MARKER = re.compile(r"^# %% \[cell (\d+)\]$")
# Defined at the top of a converted notebook: what IPython-only lines turn into does nothing.
IPYTHON_STUB = (
    "class _IPythonLineNotRun:  # `!shell` and `%magic` lines do nothing when the grader runs the notebook\n"
    "    def __getattr__(self, name):\n"
    "        return lambda *args, **kwargs: None\n"
    "def get_ipython():\n"
    "    return _IPythonLineNotRun()\n"
)


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
        document = json.loads(text)
    except json.JSONDecodeError as err:
        raise NotebookError(
            f"{name} is not a valid notebook: it is not JSON (line {err.lineno}, column "
            f"{err.colno}: {err.msg}). Save it again from Jupyter, or submit a .py file"
        ) from None
    except RecursionError:
        document = None
    # A notebook is shallow: nbformat's own validation would recurse on a deep one.
    if document is None or json_depth_exceeds(document, MAX_JSON_DEPTH):
        raise NotebookError(
            f"{name} is not a valid notebook: it is nested too deeply to be read. Save it again "
            "from Jupyter, or submit a .py file"
        )
    try:
        notebook = nbformat.reads(text, as_version=4)
        nbformat.validate(notebook)
    except Exception as err:  # nbformat raises several kinds (ValidationError, KeyError, ...) for bad documents
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise NotebookError(
            f"{name} is JSON but not a valid Jupyter notebook ({first_line}). "
            "Save it again from Jupyter, or submit a .py file"
        ) from None
    language = (
        notebook.metadata.get("kernelspec", {}).get("language")
        or notebook.metadata.get("language_info", {}).get("name")
        or "python"
    )
    if language.lower() != "python":
        raise NotebookError(f"{name} is a {language} notebook; only Python notebooks can be graded")
    return notebook


def is_nbgrader_test_cell(cell: Any) -> bool:
    """A graded cell that is not a solution: one of the autograder's tests."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution")


def _transform(text: str) -> str:
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(text).rstrip("\n")


def _ipython_to_python(source: str) -> str:
    """The cell as plain Python, as IPython itself would run it, with the same number of lines."""
    lines = source.splitlines()
    first = lines[0].lstrip() if lines else ""
    if first.startswith("%%"):
        magic = first[2:].split(maxsplit=1)[0] if first[2:].strip() else ""
        if magic in PYTHON_BODY_CELL_MAGICS:
            return "\n".join([SKIPPED_LINE_NOTE + lines[0], _ipython_to_python("\n".join(lines[1:]))])
        # Another language or a shell script: nothing in the cell is Python.
        return "\n".join(SKIPPED_LINE_NOTE + line for line in lines)
    whole = _transform(source)
    if len(whole.splitlines()) == len(lines):
        return whole
    # IPython joined continued lines (`!wget ... \`): translate line by line, padding each
    # joined group with blank lines so that the lines after it keep their numbers.
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        translated = _transform(line)
        if translated.strip() == line.strip():
            out.append(line)
            index += 1
            continue
        group = [line]
        while group[-1].rstrip().endswith("\\") and index + len(group) < len(lines):
            group.append(lines[index + len(group)])
        out.append(_transform("\n".join(group)))
        out.extend([""] * (len(group) - 1))
        index += len(group)
    return "\n".join(out)


def locate(source: str, line: int) -> tuple[int, int] | None:
    """(cell number, line in that cell) of a line of a converted notebook; None outside any cell."""
    lines = source.splitlines()
    for number in range(min(line, len(lines)), 0, -1):
        if match := CELL_MARKER.match(lines[number - 1]):
            return int(match.group(1)), line - number
    return None


def cell_lines(source: str, text: str) -> str:
    """`text` (an error message) with every "line N" of the converted file as "cell C, line M"."""

    def replace(match: re.Match[str]) -> str:
        where = locate(source, int(match.group(1)))
        return f"cell {where[0]}, line {where[1]}" if where else match.group(0)

    return re.sub(r"\bline (\d+)", replace, text)


def notebook_to_python(raw: bytes, name: str) -> str:
    """The notebook's code cells as one Python source; NotebookError when there is nothing to grade."""
    notebook = read_notebook(raw, name)
    parts = []
    for index, cell in enumerate(notebook.cells, start=1):
        if cell.cell_type != "code" or is_nbgrader_test_cell(cell) or not cell.source.strip():
            continue
        parts.append(f"# %% [cell {index}]\n{_ipython_to_python(cell.source)}\n")
    if not parts:
        raise NotebookError(
            f"{name} has no code cells to grade: put your code in code cells (not markdown) and save the notebook"
        )
    header = f"# Converted by `grade` from {name}: its code cells, in order.\n{IPYTHON_STUB}\n"
    return header + "\n".join(parts)


def read_notebook_submission(path: Path) -> tuple[str, bytes]:
    """(Python source, the notebook's bytes). The bytes are what the submission's hash is taken of."""
    raw = path.read_bytes()
    return notebook_to_python(raw, path.name), raw


# The converted source's name in the run folder: never a learner's own file name, so that
# `--out .` beside fashion.py cannot overwrite it.
NOTEBOOK_SOURCE_FILE = "submission_from_notebook.py"
