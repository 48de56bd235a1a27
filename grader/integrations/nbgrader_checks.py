"""The tests inside the nbgrader notebooks: the kit's own checks, run on the learner's functions.

A notebook's setup cell creates `tests = ChallengeTests("fashion")`; each graded test cell is
then one line, for example

    tests.require("architecture.layers", build_model=build_model)

`require` computes the facts `grade check` computes in its child process, with the same
functions (grader.describe.sandbox.child), runs the same checks (grader.checks.run_checks), and raises
CheckFailed with the check's message and hint unless the check passed. nbgrader gives a test
cell its points when it runs without an error, so a cell is worth exactly one check's points.

Nothing is trained: these are the checks that need no data (preprocess on a fixed batch of
random pixels, the architecture and compile settings of the built model, and the callbacks
shown synthetic epoch logs), so a notebook grades in seconds. Accuracy and the overfitting
gap are graded by `grade submit`.

nbgrader also gives 0 to a test cell that writes anything to stderr, and TensorFlow and Keras
write there on their own (start-up lines, "failed call to cuInit", warnings). So every call
into the learner's code runs with stderr captured, Python's sys.stderr, warnings and the
process's file descriptor 2 alike, and what was captured is printed to stdout afterwards:
nothing is hidden, and noise cannot cost points.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from grader import config
from grader.checks import CheckResult, run_checks
from grader.checks.submission import callback_probe_from, callback_probe_plans
from grader.core.facts import CallbackProbe, PreprocessFacts, SubmissionFacts
from grader.keras_support import backend
from grader.spec import ChallengeSpec, Profile, load_spec

# Which of the learner's functions each check (by the part of its id before the dot) calls.
FUNCTIONS_NEEDED = {
    "preprocess": ("preprocess",),
    "architecture": ("build_model",),
    "compile": ("build_model",),
    "augmentation": ("build_model",),
    "callback": ("make_callbacks",),
}
# How many random images preprocess() is checked on (as many as `grade check` uses).
PROBE_IMAGES = 32
# In the child's messages a frame "inside the submission" names this file; a notebook has none.
_NOTEBOOK = Path("<notebook>")
STDERR_NOTE = "[printed to stderr; shown here so that it cannot cost points]"


class CheckFailed(AssertionError):
    """A notebook test did not pass: the check's message and what to do about it."""

    def __init__(self, title: str, message: str, hint: str = ""):
        # "preprocess(): preprocess() raised ..." says the name twice: keep one.
        text = message if message.startswith(title) else f"{title}: {message}"
        super().__init__(text + (f"\nHint: {hint}" if hint else ""))
        self.title, self.message, self.hint = title, message, hint


def notebook_checks(spec: ChallengeSpec, profile: Profile) -> list[CheckResult]:
    """The checks a notebook runs, in report order, with their ids, titles and points.

    They are `grade check`'s checks (no training) that carry points, read from run_checks
    itself so that the notebooks can never drift from the grader.
    """
    rows = run_checks(spec, profile, SubmissionFacts(), trained=False)
    return [row for row in rows if row.max_points > 0]


def functions_needed(check_id: str) -> tuple[str, ...]:
    family = check_id.split(".", 1)[0]
    if family not in FUNCTIONS_NEEDED:
        raise ValueError(f"no notebook test for the check {check_id!r}; known kinds: {', '.join(FUNCTIONS_NEEDED)}")
    return FUNCTIONS_NEEDED[family]


def _stderr_log_handlers() -> list[logging.StreamHandler]:
    """Logging handlers that hold on to stderr itself (TensorFlow's logger makes one at import)."""
    streams = {id(sys.stderr), id(sys.__stderr__)}
    loggers = [
        logging.getLogger(),
        *(logger for logger in logging.Logger.manager.loggerDict.values() if isinstance(logger, logging.Logger)),
    ]
    return [
        handler
        for logger in loggers
        for handler in logger.handlers
        if isinstance(handler, logging.StreamHandler) and id(handler.stream) in streams
    ]


@contextlib.contextmanager
def stderr_to_stdout() -> Iterator[None]:
    """Run the block with everything bound for stderr captured, then print it to stdout.

    Four routes lead to stderr: Python's sys.stderr, the warnings module, logging handlers
    created earlier with sys.stderr as their stream (redirecting sys.stderr misses those), and
    file descriptor 2, which TensorFlow's C++ code writes to directly (and which ipykernel
    forwards to the notebook as stderr output).
    """
    sys.stdout.flush()
    sys.stderr.flush()
    python_stderr = io.StringIO()
    handlers = [(handler, handler.setStream(python_stderr)) for handler in _stderr_log_handlers()]
    saved_fd = os.dup(2)
    with tempfile.TemporaryFile() as native, warnings.catch_warnings(record=True) as caught:
        os.dup2(native.fileno(), 2)
        try:
            with contextlib.redirect_stderr(python_stderr):
                yield
        finally:
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
            for handler, stream in handlers:
                handler.setStream(stream)
            native.seek(0)
            captured = native.read().decode(errors="replace") + python_stderr.getvalue()
            captured += "".join(f"{w.category.__name__}: {w.message}\n" for w in caught)
            if captured.strip():
                print(f"{STDERR_NOTE}\n{captured.rstrip()}", flush=True)


def quiet_keras() -> Any:
    """Import Keras with TensorFlow's C++ logging off.

    The log level must be set before TensorFlow is imported to silence its later device
    messages; the import itself prints before that setting applies, and import_keras() hides
    those lines. A host who wants the logs can still set TF_CPP_MIN_LOG_LEVEL themselves.
    """
    backend.configure_process("auto")
    return backend.import_keras()


def probe_images(spec: ChallengeSpec) -> Any:
    """Raw uint8 images as the dataset stores them: (N, H, W) for one channel, (N, H, W, C) otherwise.

    Random but fixed pixels, 0 and 255 included: preprocess() is compared with the canonical
    images / scale, which does not depend on what the pixels show.
    """
    import numpy as np

    shape = spec.input_shape[:-1] if spec.input_shape[-1] == 1 else spec.input_shape
    images = np.random.default_rng(0).integers(0, 256, size=(PROBE_IMAGES, *shape), dtype=np.uint8)
    images.flat[0], images.flat[-1] = 0, 255
    return images


class ChallengeTests:
    """The graded checks of one challenge, run inside a notebook."""

    def __init__(self, challenge: str, profile: str = config.DEFAULT_PROFILE):
        with stderr_to_stdout():
            self.keras = quiet_keras()
        self.spec = load_spec(challenge)
        self.profile = self.spec.profile(profile)
        self.checks = {row.id: row for row in notebook_checks(self.spec, self.profile)}

    def score(self, check_id: str, **functions: Callable[..., Any]) -> float:
        """Run one check on the learner's functions and return the points it earns, as `grade check`
        and `grade submit` give them: the test cell's value, which nbgrader reads as partial credit
        (a number from 0 to the cell's points). What was found, and the hint, are printed.

        A function that is missing or raises is an error (no points), as in `require`.
        """
        result = self.result(check_id, **functions)
        if result.passed:
            print(f"Passed: {result.title}: {result.message} ({result.points:g} of {result.max_points:g} points)")
        else:
            print(
                f"Not yet: {CheckFailed(result.title, result.message, result.hint)}\n"
                f"({result.points:g} of {result.max_points:g} points)"
            )
        return float(result.points)

    def require(self, check_id: str, **functions: Callable[..., Any]) -> None:
        """Run one check on the learner's functions; raise CheckFailed unless it passes.

        Returns nothing on purpose: a value shown as the cell's result would be read by
        nbgrader as partial credit.
        """
        result = self.result(check_id, **functions)
        if not result.passed:
            raise CheckFailed(result.title, result.message, result.hint)
        print(f"Passed: {result.title}: {result.message} ({result.points:g} points)")

    def result(self, check_id: str, **functions: Callable[..., Any]) -> CheckResult:
        """The check's CheckResult, as `grade check` would report it."""
        from grader.describe.sandbox.child import StageFailed

        if check_id not in self.checks:
            raise ValueError(f"{self.spec.name} has no notebook test {check_id!r}; it has: {', '.join(self.checks)}")
        title = self.checks[check_id].title
        for name in functions_needed(check_id):
            if not callable(functions.get(name)):
                raise CheckFailed(
                    title, f"{name}() is not defined", f"run the cell that defines {name}() first, and keep its name"
                )
        facts = SubmissionFacts()
        try:
            with stderr_to_stdout():
                family = check_id.split(".", 1)[0]
                if family == "preprocess":
                    facts.preprocess = self._preprocess_facts(functions["preprocess"])
                elif family == "callback":
                    facts.callbacks = self._callback_probe(functions["make_callbacks"])
                else:
                    facts.model = self._model_facts(functions["build_model"])
        except StageFailed as failure:
            detail = failure.detail.rstrip()
            # The learner's traceback helps find a broken line; a TODO not done yet needs none.
            if detail and not detail.splitlines()[-1].startswith("NotImplementedError"):
                print(detail)
            raise CheckFailed(title, failure.message, failure.hint) from None
        return next(row for row in run_checks(self.spec, self.profile, facts, trained=False) if row.id == check_id)

    # ----------------------------------------------------------------------- facts, as the child gets them

    def _preprocess_facts(self, preprocess: Callable[..., Any]) -> PreprocessFacts:
        from grader.describe.sandbox import child
        from grader.describe.step import preprocess_facts

        images = probe_images(self.spec)
        shape, scale = list(self.spec.input_shape), self.spec.input_scale
        out = child.run_preprocess(SimpleNamespace(preprocess=preprocess), images, shape, scale, _NOTEBOOK)
        return preprocess_facts(out, images, tuple(shape), scale)

    def _model_facts(self, build_model: Callable[..., Any]) -> Any:
        from grader.describe.sandbox import child
        from grader.keras_support.inspect_model import model_facts

        return model_facts(child.build(SimpleNamespace(build_model=build_model), _NOTEBOOK))

    def _callback_probe(self, make_callbacks: Callable[..., Any]) -> CallbackProbe:
        """The callbacks are shown synthetic epoch logs on a tiny stand-in model.

        They only need a model to set `stop_training` on, so this test does not depend on
        build_model() being done.
        """
        from grader.describe.sandbox import child

        keras = self.keras
        stand_in = keras.Sequential([keras.Input(shape=(1,)), keras.layers.Dense(1)])
        plans = callback_probe_plans(self.profile.target_accuracy)
        probe = child.probe_callbacks(
            SimpleNamespace(make_callbacks=make_callbacks),
            stand_in,
            [{"target": plan.target, "logs": list(plan.logs)} for plan in plans],
            _NOTEBOOK,
        )
        return callback_probe_from(probe, plans)
