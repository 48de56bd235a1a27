"""Test-wide setup: the real datasets, and caches that are private to the test session.

Set before collection (so that even modules importing Keras at the top see it):
- GRADER_DATA_DIR: ../shared/datasets beside the checkout, unless already set (CI sets it);
- GRADER_CACHE_DIR: a fresh folder, so no test reads or writes the repository's own cache;
- KERAS_HOME: a fresh folder, unless already set, so no test writes to ~/.keras.
The session's folders are deleted when the session ends.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "datasets"

_session_dir: Path | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _session_dir
    _session_dir = Path(tempfile.mkdtemp(prefix="grader-tests-"))
    if not os.environ.get("GRADER_DATA_DIR") and SHARED_DATA.is_dir():
        os.environ["GRADER_DATA_DIR"] = str(SHARED_DATA)
    os.environ["GRADER_CACHE_DIR"] = str(_session_dir / "cache")
    os.environ.setdefault("KERAS_HOME", str(_session_dir / "keras"))


# The fast tier, `pytest --fast`: every test but those that train on real data (marked slow by
# hand) and those measured above FAST_LIMIT_S on 2 cores (tests/durations.json, written by
# tests/durations.py from a whole run; marked slow here), except the tests marked `core`: one of
# each kind of grading (a submit, a warm check, a notebook), so that every module still runs.
FAST_LIMIT_S = 2.5
DURATIONS = REPO / "tests" / "durations.json"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--fast", action="store_true", help="the fast tier: leave out the slow tests but the core ones")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    measured = json.loads(DURATIONS.read_text()) if DURATIONS.is_file() else {}
    for item in items:
        if measured.get(item.nodeid, 0.0) > FAST_LIMIT_S:
            item.add_marker(pytest.mark.slow)
    if config.getoption("--fast"):
        kept = [i for i in items if i.get_closest_marker("slow") is None or i.get_closest_marker("core") is not None]
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept


def pytest_unconfigure(config: pytest.Config) -> None:
    if _session_dir is not None:
        shutil.rmtree(_session_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The verified raw datasets (a folder laid out like ../shared/datasets)."""
    path = Path(os.environ.get("GRADER_DATA_DIR", SHARED_DATA))
    if not (path / "fashion_mnist").is_dir():
        pytest.fail(f"the datasets are not at {path}: set GRADER_DATA_DIR to a folder laid out like ../shared/datasets")
    return path


@pytest.fixture(scope="session")
def shared_cache(data_dir: Path) -> Path:
    """The session's cache (GRADER_CACHE_DIR) with every dataset converted: once per session, ~6 s."""
    from grader.data import fetch

    cache = Path(os.environ["GRADER_CACHE_DIR"])
    fetch(data_dir=data_dir, cache_dir=cache, download=False, progress=False)
    return cache
