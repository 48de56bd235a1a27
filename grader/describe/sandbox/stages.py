"""What every sandboxed child shares (grader/describe/sandbox/child.py for Keras models,
grader/kinds/functions/child.py for NumPy functions): running the learner's file, turning what
it raises into a message and a hint, and recording stage by stage in the result document.

Runs inside the sandbox, beside the learner's code: nothing here is trusted by the parent.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

RESULT_FILE = "child_result.json"


class StageFailed(Exception):
    def __init__(self, stage: str, message: str, hint: str = "", detail: str = ""):
        super().__init__(message)
        self.stage, self.message, self.hint, self.detail = stage, message, hint, detail


class Recorder:
    """Keeps the child's result document and rewrites it after every change."""

    def __init__(self, path: Path):
        self.path = path
        self.doc: dict[str, Any] = {"stages": {}, "failure": None, "stage_failures": {}}
        self.first_failure: StageFailed | None = None

    def set(self, key: str, value: Any) -> None:
        self.doc[key] = value
        self.flush()

    @contextmanager
    def stage_may_fail(self, stage: str) -> Iterator[None]:
        """Record a StageFailed of this stage and carry on; the first one becomes the run's failure."""
        try:
            yield
        except StageFailed as failure:
            record = {
                "stage": failure.stage,
                "message": failure.message,
                "hint": failure.hint,
                "detail": failure.detail,
            }
            self.doc["stage_failures"][stage] = record
            if self.doc["failure"] is None:
                self.first_failure = failure
                self.doc["failure"] = record
            self.flush()

    def stage_done(self, stage: str, seconds: float) -> None:
        self.doc["stages"][stage] = round(seconds, 3)
        self.flush()

    def flush(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.doc, indent=1))
        os.replace(tmp, self.path)


# --------------------------------------------------------------------------- explaining errors


def _learner_frame(exc: BaseException, submission: Path, with_code: bool = True) -> str:
    """' (line 42: model.add(...))' for the deepest frame inside the submission file, if any."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename) == submission]
    if not frames:
        return ""
    frame = frames[-1]
    return f" (line {frame.lineno}: {(frame.line or '').strip()})" if with_code else f" (line {frame.lineno})"


def explain(stage: str, call: str, exc: BaseException, submission: Path) -> StageFailed:
    detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-4000:]
    # A TODO's own raise line only repeats the TODO's text: its line number is enough.
    where = _learner_frame(exc, submission, with_code=not isinstance(exc, NotImplementedError))
    if isinstance(exc, NotImplementedError):
        todo = str(exc) or "a TODO"
        return StageFailed(
            stage,
            f"{call}: {todo} is not done yet{where}",
            "replace the `raise NotImplementedError(...)` line with your code",
            detail,
        )
    if isinstance(exc, SystemExit):
        return StageFailed(
            stage,
            f"{call} called sys.exit({exc.code!r}){where}",
            "remove sys.exit()/exit()/quit(): the grader calls your functions itself",
            detail,
        )
    if isinstance(exc, ModuleNotFoundError):
        return StageFailed(
            stage,
            f"{call}: module {exc.name!r} is not available{where}",
            "use only keras, numpy and the standard library",
            detail,
        )
    message = f"{call} raised {type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
    return StageFailed(stage, message.rstrip(": ") + where, _hint_for(stage, located=bool(where)), detail)


def _hint_for(stage: str, located: bool = False) -> str:
    """What the learner does next; `located`: the message names the line of their file that failed."""
    hint = {
        "import": "keep only imports and definitions at the top level of your file: the grader imports it, "
        "then calls your functions",
        "preprocess": "preprocess(images) gets a NumPy array of uint8 images: return them reshaped and scaled as "
        "the challenge file says",
        "build_model": "build_model() builds the layers, compiles the model and returns it (Keras' full error: "
        "`grade check -v`, or the traceback in report.html)",
        "callbacks": "make_callbacks(target_accuracy) returns a list of keras.callbacks.Callback objects, "
        "e.g. [StopAtAccuracy(target_accuracy)], as the challenge file shows",
        "train": "check that the model's input matches what preprocess() returns and that the loss fits the labels",
    }.get(stage, "")
    return f"start at the line named above; {hint}" if located and hint else hint


def guarded(stage: str, call: str, submission: Path, fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except StageFailed:
        raise
    except BaseException as exc:  # SystemExit and KeyboardInterrupt included: nothing escapes
        raise explain(stage, call, exc, submission) from None


# --------------------------------------------------------------------------- running the stages


def load_module(path: Path) -> Any:
    """Run the learner's file as the module `submission`, its folder importable (for helpers beside it)."""
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location("submission", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules["submission"] = module
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def run_stages(recorder: Recorder, stages: Callable[[], None]) -> int:
    """Run a child's stages; whatever happens, record why they stopped, how long they took, and the versions."""
    started = time.perf_counter()
    try:
        stages()
    except StageFailed as failure:
        recorder.set(
            "failure",
            {"stage": failure.stage, "message": failure.message, "hint": failure.hint, "detail": failure.detail},
        )
    except BaseException as exc:  # a bug of ours or an escape we did not foresee: still report it
        recorder.set(
            "failure",
            {
                "stage": "crash",
                "message": f"{type(exc).__name__}: {exc}",
                "hint": "",
                "detail": traceback.format_exc()[-4000:],
            },
        )
    recorder.set("seconds", round(time.perf_counter() - started, 3))
    recorder.set("versions", _versions())
    return 0


def _versions() -> dict[str, str]:
    from grader.keras_support import backend

    return backend.library_versions()
