"""Specs of kind "functions": challenges where the learner writes plain functions, not a model.

    [challenge]
    kind = "functions"

The grader calls the learner's functions on random inputs and compares what they return
with Keras' own layers; nothing is trained and no dataset is needed. Which functions and
which checks belong to a challenge is the job of its suite (grader/convolution_suite.py);
the spec gives each check its points and sets the number of cases, the seed, the tolerance
and the time limits. Every key and its default: docs/spec.md.

`grader.spec.load_spec` reads the [challenge] table and hands files of this kind here.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The suites the grader knows: a suite name -> the module with its CHECKS, cases and references.
SUITES = {"convolution": "grader.convolution_suite"}

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


def parse_functions_spec(raw: dict[str, Any], path: Path) -> FunctionsSpec:
    from grader.spec import _REQUIRED, SpecError, _Table  # the typed getters whose errors name the key

    top = _Table(raw, "")
    unknown = sorted(set(raw) - {"challenge", "functions", "checks"})
    if unknown:
        raise SpecError(f"a spec of kind 'functions' has only [challenge], [functions] and [checks]; "
                        f"remove [{unknown[0]}]")
    challenge = top.table("challenge", required=True)
    name = challenge.str("name", path.stem)
    suite = challenge.str("suite", name)
    if suite not in SUITES:
        raise SpecError(f"[challenge] suite {suite!r} is not one the grader knows ({', '.join(sorted(SUITES))})")
    known_checks = suite_module(suite).CHECKS

    settings = top.table("functions") or _Table({}, "functions")
    default_cases = settings.int("cases", DEFAULT_CASES)
    spec_fields = dict(
        seed=settings.int("seed", DEFAULT_SEED),
        tolerance=settings.num("tolerance", DEFAULT_TOLERANCE),
        time_budget_s=settings.num("time_budget_s", DEFAULT_TIME_BUDGET_S),
        call_time_limit_s=settings.num("call_time_limit_s", DEFAULT_CALL_TIME_LIMIT_S),
    )
    if default_cases < 1:
        raise SpecError(f"[functions] cases must be 1 or more, got {default_cases}")
    if spec_fields["tolerance"] < 0:
        raise SpecError(f"[functions] tolerance must not be negative, got {spec_fields['tolerance']:g}")
    if spec_fields["time_budget_s"] <= 0 or spec_fields["call_time_limit_s"] <= 0:
        raise SpecError("[functions] time_budget_s and call_time_limit_s must be positive")

    checks_t = top.table("checks", required=True)
    for check_name in checks_t.raw:
        if check_name not in known_checks:
            raise SpecError(f"[checks.{check_name}] is not a check of the {suite!r} suite; "
                            f"its checks are: {', '.join(known_checks)}")
    checks = []
    for check_name in known_checks:  # the suite's order, which is also the report's
        t = checks_t.table(check_name)
        if t is None:
            continue
        points = t.num("points", _REQUIRED)
        cases = t.int("cases", default_cases)
        if points < 0 or cases < 1:
            raise SpecError(f"[checks.{check_name}] points must not be negative and cases must be 1 or more")
        checks.append(FunctionCheckSpec(check_name, points, cases))
    if not checks:
        raise SpecError(f"[checks] lists no check; the {suite!r} suite has: {', '.join(known_checks)}")

    return FunctionsSpec(name=name, title=challenge.str("title", name), suite=suite, checks=tuple(checks),
                         path=path, **spec_fields)

