"""Refresh tests/durations.json, the measured time of every test, from a run's JUnit XML:

    .venv/bin/python -m pytest --junitxml=/tmp/run.xml        # the whole suite, on 2 cores
    .venv/bin/python tests/durations.py /tmp/run.xml

The fast tier (`pytest -m "not slow"`, tests/conftest.py) leaves out every test measured above
FAST_LIMIT_S, unless it is marked `core`. Times are seconds on the machine that ran it: only
their order matters, so one refresh per machine kind is enough.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

HERE = Path(__file__).resolve().parent
DURATIONS = HERE / "durations.json"


def node_id(case: ElementTree.Element) -> str:
    """pytest's node id from a JUnit test case (classname "tests.test_x", name "test_y[param]")."""
    module = case.get("classname", "").replace(".", "/")
    return f"{module}.py::{case.get('name')}"


def main(xml_path: str) -> None:
    root = ElementTree.parse(xml_path).getroot()
    measured = {node_id(case): round(float(case.get("time") or 0.0), 2) for case in root.iter("testcase")}
    DURATIONS.write_text(json.dumps(dict(sorted(measured.items())), indent=1) + "\n")
    print(f"{DURATIONS}: {len(measured)} tests, {sum(measured.values()) / 60:.1f} minutes in all")


if __name__ == "__main__":
    main(sys.argv[1])
