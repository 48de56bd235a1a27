"""`grade init DIR`: a learner's folder with every challenge skeleton, from the installed kit.

A learner who installed the kit with pip has no checkout: this copies the skeletons
(challenges/*.py) into a folder of their own. Nothing is overwritten: if any skeleton is
already there, nothing is copied and the error names the files.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from grader import config


class InitError(Exception):
    """The folder cannot be filled; the message says why and what to do."""


def skeletons() -> list[Path]:
    return sorted(config.CHALLENGES_DIR.glob("*.py"))


def init_folder(target: Path) -> list[Path]:
    """Copy every skeleton into `target` (created if needed); return the files written."""
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise InitError(f"{target} is a file: give a folder name, e.g. `grade init my-challenges`")
    sources = skeletons()
    if not sources:
        raise InitError(f"no challenge skeletons found in {config.CHALLENGES_DIR}: reinstall the kit")
    taken = [target / s.name for s in sources if (target / s.name).exists()]
    if taken:
        names = ", ".join(str(t) for t in taken)
        raise InitError(
            f"{names} already exist{'s' if len(taken) == 1 else ''}: nothing was copied. "
            f"Choose another folder, or move your files away first"
        )
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for source in sources:
        shutil.copyfile(source, target / source.name)
        written.append(target / source.name)
    return written
