"""What a front end (a terminal, a log, a batch's progress) hears while one grading runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Events:
    """What a front end may want to show while grading. The default shows nothing."""

    on_stage: Callable[[str], None] = lambda stage: None
    on_epoch: Callable[[dict[str, Any]], None] = lambda line: None
    on_batch: Callable[[dict[str, Any]], None] = lambda line: None  # where the current epoch is
