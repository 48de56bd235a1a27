"""`grade nbgrader build`: an nbgrader course source folder made from the reference solutions.

For each challenge the notebook is the solution file cut into cells:

- the module docstring and the top-level comment blocks become markdown cells;
- the imports, and each top-level function or class, become code cells; a cell holding
  `### BEGIN SOLUTION` regions is an nbgrader solution cell (nbgrader's generate_assignment
  replaces each region by its own stub in the release, as `grade release` does for the .py);
- after the cell that defines the functions a check calls, one locked, graded test cell per
  check, worth that check's points in the spec, calling grader.integrations.nbgrader_checks;
- a locked setup cell first, which loads Keras quietly and creates the `tests` object;
- the `if __name__ == "__main__":` block becomes a markdown cell: in a notebook `__name__` is
  "__main__", so as code it would train for minutes every time nbgrader runs the notebook.

The layout is nbgrader's: `<course>/source/<challenge>/<challenge>.ipynb`, beside a
`nbgrader_config.py` that gives a cell enough time to import TensorFlow.
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

from grader import config
from grader.host.release import BEGIN

NBGRADER_SCHEMA_VERSION = 3
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
# nbgrader's default is 30 s per cell; importing TensorFlow on a busy 2-core machine can take longer.
CELL_TIMEOUT_S = 300

NBGRADER_CONFIG = f"""\
# nbgrader configuration for the course written by `grade nbgrader build`.
c = get_config()  # noqa: F821 (nbgrader defines it)

# Importing TensorFlow in the setup cell can take longer than nbgrader's default 30 s per cell.
c.Execute.timeout = {CELL_TIMEOUT_S}
"""


class BuildError(ValueError):
    """A challenge that cannot be turned into a notebook, with the reason."""


@dataclass
class Chunk:
    """A piece of the solution file on its way to becoming a cell."""

    kind: str  # "markdown" or "code"
    text: str
    defines: tuple[str, ...] = ()  # top-level names a code chunk defines
    name: str = ""  # for grade ids: the function or class name


@dataclass
class BuiltNotebook:
    challenge: str
    path: Path
    points: float
    tests: list[str] = field(default_factory=list)  # the check ids, in notebook order


# --------------------------------------------------------------------------- the solution, cut into chunks


def _comment_text(lines: list[str]) -> str:
    return "\n".join(re.sub(r"^# ?", "", line) for line in lines).strip()


def _gap_chunks(lines: list[str]) -> tuple[list[Chunk], list[str]]:
    """Lines between two top-level statements: column-0 comment blocks become markdown.

    Anything else there (an indented trailing comment of the function above) stays code and
    is returned to be appended to the previous code chunk.
    """
    chunks: list[Chunk] = []
    leftover: list[str] = []
    block: list[str] = []
    for line in [*lines, ""]:
        if line.startswith("#"):
            block.append(line)
            continue
        if block:
            chunks.append(Chunk("markdown", _comment_text(block)))
            block = []
        if line.strip():
            leftover.append(line)
    return chunks, leftover


def _docstring_markdown(docstring: str) -> str:
    first, _, rest = textwrap.dedent(docstring).strip().partition("\n")
    title = first.strip().rstrip(".")
    return f"# {title}\n{rest}".strip()


def _defined_names(node: ast.stmt) -> tuple[str, ...]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return (node.name,)
    names = []
    for target in getattr(node, "targets", []) + [getattr(node, "target", None)]:
        if isinstance(target, ast.Name):
            names.append(target.id)
    return tuple(names)


def _is_main_block(node: ast.stmt) -> TypeGuard[ast.If]:
    test = getattr(node, "test", None)
    return (
        isinstance(node, ast.If)
        and isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and len(test.comparators) == 1
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value == "__main__"
    )


def _main_block_markdown(lines: list[str], node: ast.If) -> str:
    body = textwrap.dedent("\n".join(lines[node.lineno : node.end_lineno])).strip("\n").splitlines()
    comments = []
    while body and body[0].startswith("#"):
        comments.append(body.pop(0))
    code = "\n".join(body)
    note = (
        "The autograder does not run this: it would train for minutes, and `grade submit` trains and scores "
        "your model. To try it, paste it into a new cell, and delete that cell before you submit."
    )
    intro = " ".join(["**Train it yourself.**", _comment_text(comments)]).strip()
    return f"{intro}\n\n```python\n{code}\n```\n\n{note}"


def solution_chunks(source: str) -> list[Chunk]:
    """The solution file as markdown and code chunks, in file order."""
    tree = ast.parse(source)
    lines = source.splitlines()
    chunks: list[Chunk] = []
    body = list(tree.body)
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        chunks.append(Chunk("markdown", _docstring_markdown(body[0].value.value)))
        previous_end = body[0].end_lineno
        body = body[1:]
    else:
        previous_end = 0
    for node in body:
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        gap, leftover = _gap_chunks(lines[previous_end : start - 1])
        if leftover and chunks and chunks[-1].kind == "code":
            chunks[-1].text += "\n" + "\n".join(leftover)
        chunks.extend(gap)
        previous_end = node.end_lineno
        text = "\n".join(lines[start - 1 : node.end_lineno])
        if _is_main_block(node):
            chunks.append(Chunk("markdown", _main_block_markdown(lines, node)))
            continue
        is_import = isinstance(node, (ast.Import, ast.ImportFrom))
        last = chunks[-1] if chunks else None
        if is_import and last is not None and last.kind == "code" and last.name == "imports":
            last.text += "\n" + text  # consecutive imports share one cell
            continue
        name = "imports" if is_import else (_defined_names(node) or ("",))[0]
        chunks.append(Chunk("code", text, defines=_defined_names(node), name=name))
    return chunks


# --------------------------------------------------------------------------- cells


def _nbgrader_metadata(
    grade_id: str, *, solution: bool = False, grade: bool = False, locked: bool = False, points: float | None = None
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": NBGRADER_SCHEMA_VERSION,
        "solution": solution,
        "task": False,
    }
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def setup_source(challenge: str, profile: str) -> str:
    arguments = repr(challenge) + ("" if profile == config.DEFAULT_PROFILE else f", profile={profile!r}")
    return (
        "# Setup (read-only): run this cell first. It loads Keras without TensorFlow's start-up messages\n"
        "# and the tests below, which are the checks `grade check` runs.\n"
        "from grader.integrations.nbgrader_checks import ChallengeTests\n"
        "\n"
        f"tests = ChallengeTests({arguments})"
    )


def test_source(check_id: str, title: str, points: float) -> str:
    from grader.integrations.nbgrader_checks import functions_needed

    arguments = ", ".join(f"{name}={name}" for name in functions_needed(check_id))
    # The cell's value is the points earned: nbgrader reads it as partial credit, so a notebook
    # earns what `grade check` gives the same code (one wrong setting costs its share, not the cell).
    return f"# Test ({points:g} points): {title}\ntests.score({check_id!r}, {arguments})"


def _grade_id(text: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_") or "cell"
    grade_id, n = base, 2
    while grade_id in taken:
        grade_id, n = f"{base}_{n}", n + 1
    taken.add(grade_id)
    return grade_id


def build_notebook(challenge: str, source: str, *, profile: str = config.DEFAULT_PROFILE) -> tuple[Any, list[Any]]:
    """(notebook, the checks it tests) for one challenge's solution source."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    from grader.integrations.nbgrader_checks import functions_needed, notebook_checks
    from grader.spec import SpecError, load_spec

    try:
        spec = load_spec(challenge)
        kind = getattr(spec, "kind", "model")
        if kind != "model":
            raise BuildError(f"challenges of kind {kind!r} have no notebook tests yet (only kind 'model')")
        chosen = spec.profile(profile)
    except SpecError as err:
        raise BuildError(str(err)) from None
    checks = notebook_checks(spec, chosen)
    try:
        chunks = solution_chunks(source)
    except SyntaxError as err:
        raise BuildError(f"the solution is not valid Python (line {err.lineno}: {err.msg})") from None

    # Each test goes right after the last code chunk defining a function it calls.
    last_definition: dict[str, int] = {}
    for index, chunk in enumerate(chunks):
        for name in chunk.defines:
            last_definition[name] = index
    tests_after: dict[int, list[Any]] = {}
    for check in checks:
        needed = functions_needed(check.id)
        missing = [name for name in needed if name not in last_definition]
        if missing:
            raise BuildError(f"the solution does not define {', '.join(missing)}(), which the check {check.id!r} calls")
        tests_after.setdefault(max(last_definition[name] for name in needed), []).append(check)

    taken: set[str] = set()
    cells = []
    setup = new_code_cell(setup_source(spec.name, profile))
    setup.metadata.update(_nbgrader_metadata(_grade_id("setup", taken), locked=True))
    ordered_checks = []
    for index, chunk in enumerate(chunks):
        if chunk.kind == "markdown":
            cells.append(new_markdown_cell(chunk.text))
        else:
            if setup not in cells:
                cells.append(setup)  # before the first code: nothing may import Keras loudly first
            cell = new_code_cell(chunk.text)
            if any(line.strip() == BEGIN for line in chunk.text.splitlines()):
                cell.metadata.update(_nbgrader_metadata(_grade_id(chunk.name or "answer", taken), solution=True))
            cells.append(cell)
        for check in tests_after.get(index, []):
            test = new_code_cell(test_source(check.id, check.title, check.max_points))
            test.metadata.update(
                _nbgrader_metadata(
                    _grade_id(f"test_{check.id}", taken), grade=True, locked=True, points=check.max_points
                )
            )
            cells.append(test)
            ordered_checks.append(check)
    total = sum(check.max_points for check in checks)
    cells.append(
        new_markdown_cell(
            f"The tests above are worth {total:g} points. Accuracy on held-out images and the overfitting gap need "
            f"training: `grade submit {spec.name}.ipynb` grades this notebook like `{spec.name}.py`."
        )
    )
    notebook = new_notebook(cells=cells, metadata={"kernelspec": KERNELSPEC, "language_info": {"name": "python"}})
    nbformat.validate(notebook)
    return notebook, ordered_checks


def build_course(
    *,
    out_dir: Path,
    challenges: list[str] | None = None,
    profile: str = config.DEFAULT_PROFILE,
    solutions_dir: Path = config.SOLUTIONS_DIR,
) -> tuple[list[BuiltNotebook], dict[str, str]]:
    """Write `<out_dir>/source/<challenge>/<challenge>.ipynb` for each challenge, and nbgrader_config.py.

    Returns (the notebooks written, {challenge: why it was skipped}). Every notebook is built
    before anything is written, so a broken solution leaves the folder as it was. An existing
    nbgrader_config.py is kept: a host may have edited it.
    """
    import nbformat

    from grader.spec import challenge_names

    names = challenges or challenge_names()
    built, skipped = [], {}
    for name in names:
        solution = Path(solutions_dir) / f"{name}.py"
        if not solution.is_file():
            if challenges:
                raise BuildError(f"no reference solution for {name!r}: {config.missing_solution(solution)}")
            skipped[name] = f"no reference solution ({solution.name})"
            continue
        try:
            notebook, checks = build_notebook(name, solution.read_text(encoding="utf-8"), profile=profile)
        except BuildError as err:
            if challenges:
                raise BuildError(f"{name}: {err}") from None
            skipped[name] = str(err)
            continue
        built.append((name, notebook, checks))

    written = []
    out_dir = Path(out_dir)
    for name, notebook, checks in built:
        path = out_dir / "source" / name / f"{name}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, str(path))
        written.append(BuiltNotebook(name, path, sum(c.max_points for c in checks), [c.id for c in checks]))
    config_path = out_dir / "nbgrader_config.py"
    if written and not config_path.exists():
        config_path.write_text(NBGRADER_CONFIG)
    return written, skipped
