"""The result of grading one submission: one plain object, exported to JSON (and shown by reports).

The JSON form is versioned; its schema is docs/result.schema.json and docs/results.md
explains each field.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from grader import config
from grader.checks.result import CheckResult
from grader.core.text import clean_tree

VERDICTS = ("passed", "failed", "not_graded")


@dataclass
class GradeResult:
    challenge: str
    profile: str
    mode: str  # "check" (no training) or "submit"
    submission_path: str
    submission_sha256: str
    seed: int
    backend: str
    device: str = "unknown"
    precision: str = "float32"  # the profile's number format for training (grader/train/precision.py)
    isolation: str = "none"  # how the submission's code was isolated: namespaces, uid or none
    versions: dict[str, str] = field(default_factory=dict)
    started_at: str = ""
    durations: dict[str, float] = field(default_factory=dict)
    checks: list[CheckResult] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    history: dict[str, list[float | None]] = field(default_factory=dict)  # None: not finite (JSON has no NaN)
    model_summary: list[dict[str, Any]] = field(default_factory=list)
    expected_summary: list[dict[str, Any]] = field(default_factory=list)
    # The two side by side, row by row as the architecture checks aligned them (grader/checks/architecture.py)
    layer_table: list[dict[str, Any]] = field(default_factory=list)
    confusion_matrix: list[list[int]] | None = None
    class_names: list[str] = field(default_factory=list)
    failure: dict[str, str] | None = None
    output: str = ""  # the submission's own output, head and tail
    error: str | None = None  # set when the submission could not be graded at all
    run_dir: str | None = None
    # Leaderboard mode (grade submit --learner): {"learner": ID, "test_half": "public"}. The test
    # metrics and confusion matrix are then of the public half only; the private half never appears.
    leaderboard: dict[str, str] | None = None

    @property
    def score(self) -> float:
        return round(sum(c.points for c in self.checks), 2)

    @property
    def max_score(self) -> float:
        """Points available without the stretch goals."""
        return round(sum(c.max_points for c in self.checks if not c.bonus), 2)

    @property
    def verdict(self) -> str:
        if self.error is not None:
            return "not_graded"
        return "passed" if all(c.passed for c in self.checks if not c.bonus) else "failed"

    @property
    def exit_code(self) -> int:
        return {"passed": config.EXIT_PASSED, "failed": config.EXIT_FAILED}.get(self.verdict, config.EXIT_NOT_GRADED)

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON data; every string in it cleaned of control, escape and bidi
        characters (layer names, paths and learner IDs are the learner's to choose)."""
        data = asdict(self)
        data["checks"] = [c.to_dict() for c in self.checks]
        return clean_tree(
            {
                "schema_version": config.RESULT_SCHEMA_VERSION,
                "grader_version": grader_version(),
                "verdict": self.verdict,
                "score": self.score,
                "max_score": self.max_score,
                **data,
            }
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GradeResult:
        """A result read back from its JSON form (to_dict's), as a service sends it to `grade submit --to`."""
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        values["checks"] = [CheckResult(**check) for check in data.get("checks", [])]
        return cls(**values)

    def write_json(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, allow_nan=False, default=_jsonable))
        tmp.replace(path)


def grader_version() -> str:
    """The installed kit's version ("unknown" when it runs from a checkout that was never installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cnn-grader")
    except PackageNotFoundError:
        return "unknown"


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
