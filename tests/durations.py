"""Refresh tests/durations.json, the measured time of every test, from a run's JUnit XML or from
the output of a run with --durations=0:

    .venv/bin/python -m pytest --junitxml=/tmp/run.xml        # the whole suite, on 2 cores
    .venv/bin/python tests/durations.py /tmp/run.xml
    PYTEST_ADDOPTS=--durations=0 .ci/run > /tmp/ci.log 2>&1; .venv/bin/python tests/durations.py /tmp/ci.log

The fast tier (`pytest -m "not slow"`, tests/conftest.py) leaves out every test measured above
FAST_LIMIT_S, unless it is marked `core`. Times are seconds on the machine that ran it: only
their order matters, so one refresh per machine kind is enough.
"""

from __future__ import annotations

import json
import re
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

HERE = Path(__file__).resolve().parent
DURATIONS = HERE / "durations.json"


def node_id(case: ElementTree.Element) -> str:
    """pytest's node id from a JUnit test case (classname "tests.test_x", name "test_y[param]")."""
    module = case.get("classname", "").replace(".", "/")
    return f"{module}.py::{case.get('name')}"


# "12.34s call     tests/test_x.py::test_y[a b]": pytest's --durations lines (setup, call, teardown).
DURATION_LINE = re.compile(r"^(\d+(?:\.\d+)?)s (?:setup|call|teardown)\s+(tests/\S.*)$")


def from_log(text: str) -> dict[str, float]:
    measured: dict[str, float] = {}
    for line in text.splitlines():
        match = DURATION_LINE.match(line.strip())
        if match:
            measured[match.group(2)] = measured.get(match.group(2), 0.0) + float(match.group(1))
    return {node: round(seconds, 2) for node, seconds in measured.items()}


def main(path: str) -> None:
    if path.endswith(".xml"):
        root = ElementTree.parse(path).getroot()
        measured = {node_id(case): round(float(case.get("time") or 0.0), 2) for case in root.iter("testcase")}
    else:
        measured = from_log(Path(path).read_text(errors="replace"))
    DURATIONS.write_text(json.dumps(dict(sorted(measured.items())), indent=1) + "\n")
    print(f"{DURATIONS}: {len(measured)} tests, {sum(measured.values()) / 60:.1f} minutes in all")


if __name__ == "__main__":
    main(sys.argv[1])
