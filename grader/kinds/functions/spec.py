"""Specs of kind "functions": challenges where the learner writes plain functions, not a model.

    [challenge]
    kind = "functions"

The grader calls the learner's functions on random inputs and compares what they return
with Keras' own layers; nothing is trained and no dataset is needed. Which functions and
which checks belong to a challenge is the job of its suite (grader/kinds/functions/convolution_suite.py);
the spec gives each check its points and sets the number of cases, the seed, the tolerance
and the time limits. Every key and its default: docs/spec.md.

`grader.spec.load_spec` reads the [challenge] table and hands files of this kind here.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field

from grader.spec.schema import Int, NonNegativeNumber, PositiveInt, PositiveNumber, Str, Table, validate

# The suites the grader knows: a suite name -> the module with its CHECKS, cases and references.
SUITES = {"convolution": "grader.kinds.functions.convolution_suite"}

DEFAULT_CASES = 20
DEFAULT_SEED = 0
DEFAULT_TOLERANCE = 1e-4
DEFAULT_TIME_BUDGET_S = 60.0
DEFAULT_CALL_TIME_LIMIT_S = 2.0


@dataclass(frozen=True)
class FunctionCheckSpec:
    name: str  # a check of the suite, e.g. "same"
    points: float
    cases: int


@dataclass(frozen=True)
class FunctionsSpec:
    name: str
    title: str
    suite: str
    checks: tuple[FunctionCheckSpec, ...]  # in the suite's order
    seed: int = DEFAULT_SEED
    tolerance: float = DEFAULT_TOLERANCE
    time_budget_s: float = DEFAULT_TIME_BUDGET_S
    call_time_limit_s: float = DEFAULT_CALL_TIME_LIMIT_S
    path: Path | None = None
    kind: str = "functions"
    # Nothing is trained, so there are no training profiles; `--profile` is not used.
    profiles: dict[str, Any] = field(default_factory=dict)

    def check(self, name: str) -> FunctionCheckSpec | None:
        return next((c for c in self.checks if c.name == name), None)


def suite_module(suite: str) -> Any:
    return importlib.import_module(SUITES[suite])


class _ChallengeTable(Table):
    name: Str | None = None
    title: Str | None = None
    kind: Literal["functions"]
    suite: Str | None = None  # default: the challenge's name


class _SettingsTable(Table):
    cases: PositiveInt = DEFAULT_CASES  # each check's, unless the check sets its own
    seed: Int = DEFAULT_SEED
    tolerance: NonNegativeNumber = DEFAULT_TOLERANCE
    time_budget_s: PositiveNumber = DEFAULT_TIME_BUDGET_S
    call_time_limit_s: PositiveNumber = DEFAULT_CALL_TIME_LIMIT_S


class _CheckTable(Table):
    points: NonNegativeNumber
    cases: PositiveInt | None = None


class _FunctionsSpecFile(Table):
    challenge: _ChallengeTable
    functions: _SettingsTable = _SettingsTable()
    checks: Annotated[dict[Str, _CheckTable], Field(min_length=1)]


def parse_functions_spec(raw: dict[str, Any], path: Path) -> FunctionsSpec:
    """A spec of kind "functions" from its parsed TOML; ValueError naming the table and key."""
    unknown = sorted(set(raw) - set(_FunctionsSpecFile.model_fields))
    if unknown:
        raise ValueError(
            f"a spec of kind 'functions' has only [challenge], [functions] and [checks]; remove [{unknown[0]}]"
        )
    file = validate(_FunctionsSpecFile, raw)
    name = file.challenge.name or path.stem
    suite = file.challenge.suite or name
    if suite not in SUITES:
        raise ValueError(f"[challenge] suite {suite!r} is not one the grader knows ({', '.join(sorted(SUITES))})")
    known_checks = suite_module(suite).CHECKS
    for check_name in file.checks:
        if check_name not in known_checks:
            raise ValueError(
                f"[checks.{check_name}] is not a check of the {suite!r} suite; "
                f"its checks are: {', '.join(known_checks)}"
            )
    settings = file.functions
    checks = tuple(
        FunctionCheckSpec(check_name, file.checks[check_name].points, file.checks[check_name].cases or settings.cases)
        for check_name in known_checks
        if check_name in file.checks
    )  # the suite's order: the report's
    return FunctionsSpec(
        name=name,
        title=file.challenge.title or name,
        suite=suite,
        checks=checks,
        path=path,
        seed=settings.seed,
        tolerance=settings.tolerance,
        time_budget_s=settings.time_budget_s,
        call_time_limit_s=settings.call_time_limit_s,
    )
