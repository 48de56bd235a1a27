"""Skeletons from solutions: one source for both.

Each reference solution in solutions/ marks its answers with nbgrader's markers:

    # TODO 2: Build the CNN and compile it. (more lines the learner keeps)
    ### BEGIN SOLUTION
    ...the answer...
    ### END SOLUTION

`skeleton_from_solution` replaces every region, markers included, by one line at the BEGIN
marker's indentation:

    raise NotImplementedError("TODO 2: Build the CNN and compile it")

The text is the first sentence (up to the first '.', '!' or '?' followed by a space, final '.'
dropped) of the nearest `# TODO n:` comment between the previous region and this one.
Everything else is kept byte for byte, so the story the comments tell is the same in both files.

The rules, each broken one a ValueError naming the solution's line:
- every region has its own `# TODO n:` comment above it;
- regions are closed, not nested, and every END has a BEGIN;
- no region at module level: the skeleton would raise as soon as it is imported;
- the skeleton compiles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
_TODO = re.compile(r"^\s*#\s*(TODO\s+\d+):\s*(.*?)\s*$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")


def todo_summary(comment_text: str) -> str:
    """The first sentence of a TODO comment's text, without its final period."""
    sentence = _SENTENCE_END.split(comment_text.strip(), maxsplit=1)[0]
    return sentence[:-1] if sentence.endswith(".") else sentence


def _todo_above(lines: list[str], begin: int) -> str:
    """'TODO n: summary' from the nearest TODO comment above line index `begin`.

    The search stops at the previous region, so a region never borrows another one's TODO.
    """
    for index in range(begin - 1, -1, -1):
        stripped = lines[index].strip()
        if stripped in (BEGIN, END):
            break
        match = _TODO.match(lines[index])
        if match:
            label, text = match.groups()
            return f"{' '.join(label.split())}: {todo_summary(text)}"
    raise ValueError(f"line {begin + 1}: a solution region needs a '# TODO n: ...' comment above it")


def _raise_line(indent: str, message: str) -> str:
    escaped = message.replace("\\", "\\\\").replace('"', '\\"')
    return f'{indent}raise NotImplementedError("{escaped}")\n'


def skeleton_from_solution(source: str) -> str:
    """The learner's skeleton: `source` with every solution region replaced by a raise."""
    lines = source.splitlines(keepends=True)
    out: list[str] = []
    opened_at: int | None = None  # line index of the open region's BEGIN
    for index, line in enumerate(lines):
        stripped = line.strip()
        if stripped == BEGIN:
            if opened_at is not None:
                raise ValueError(f"line {index + 1}: {BEGIN} inside the region opened at line {opened_at + 1}")
            indent = line[: len(line) - len(line.lstrip())]
            if not indent:
                raise ValueError(
                    f"line {index + 1}: a solution region at module level would make the skeleton "
                    "raise on import; put it inside a function"
                )
            opened_at = index
            out.append(_raise_line(indent, _todo_above(lines, index)))
        elif stripped == END:
            if opened_at is None:
                raise ValueError(f"line {index + 1}: {END} without a {BEGIN}")
            opened_at = None
        elif opened_at is None:
            out.append(line)
    if opened_at is not None:
        raise ValueError(f"line {opened_at + 1}: {BEGIN} is never closed by {END}")
    skeleton = "".join(out)
    try:
        compile(skeleton, "<skeleton>", "exec")
    except SyntaxError as err:
        raise ValueError(
            f"the skeleton is not valid Python (skeleton line {err.lineno}: {err.msg}); "
            "check the indentation of the markers"
        ) from None
    return skeleton


@dataclass(frozen=True)
class ReleaseResult:
    name: str
    skeleton: Path
    up_to_date: bool  # before this run: did the skeleton already equal the generated text?


def release(*, solutions_dir: Path, challenges_dir: Path, check: bool = False) -> list[ReleaseResult]:
    """Write challenges/<name>.py for every solutions/<name>.py; with check=True only compare.

    Every solution is converted before anything is written, so one broken solution leaves all
    skeletons as they were.
    """
    generated = []
    for solution in sorted(Path(solutions_dir).glob("*.py")):
        try:
            text = skeleton_from_solution(solution.read_text(encoding="utf-8"))
        except ValueError as err:
            raise ValueError(f"{solution}: {err}") from None
        generated.append((solution.stem, Path(challenges_dir) / solution.name, text))

    results = []
    for name, skeleton, text in generated:
        up_to_date = skeleton.is_file() and skeleton.read_text(encoding="utf-8") == text
        if not check and not up_to_date:
            skeleton.parent.mkdir(parents=True, exist_ok=True)
            skeleton.write_text(text, encoding="utf-8")
        results.append(ReleaseResult(name, skeleton, up_to_date))
    return results
