"""The parent's side of calling a learner's functions: arrays in, arrays out, through a child.

    returned = call_functions(source, calls, time_budget_s=..., call_time_limit_s=...)

The parent writes each call's arguments as .npy files into the sandbox's inputs, the child
(grader/kinds/functions/child.py, isolated like every child) imports the learner's file,
makes the calls and saves what they return in its work folder, and the parent reads the
results back bounded, never through a link, with allow_pickle=False (no object arrays, so
nothing in them can run code here). Only numbers cross the boundary.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from grader.core.bounded import load_npy
from grader.core.facts import Failure
from grader.core.text import clean
from grader.describe.sandbox.box import BoxFileError, read_bounded
from grader.describe.sandbox.isolation import Isolation, box_paths, choose
from grader.describe.sandbox.limits import DEFAULT_LIMITS, Limits
from grader.describe.sandbox.runner import ChildRun, run_child, start_child

CALLS_DIR = "calls"
MAX_RETURNED_BYTES = 64 * 1024 * 1024  # one returned array, read back bounded


@dataclass(frozen=True, eq=False)
class Call:
    id: str  # unique within one job, safe as a file name
    function: str  # the learner's function, e.g. "conv2d"
    args: tuple[np.ndarray, ...]  # positional arguments
    options: dict[str, Any] = field(default_factory=dict)  # keyword arguments: numbers and strings only
    text: str = ""  # how the call is shown to the learner: "conv2d(image 6x7, kernel 3x3, stride=2)"
    group: str = ""  # calls alike: after repeated timeouts the rest of a group is skipped (default: the function)


@dataclass(frozen=True, eq=False)
class Returned:
    value: np.ndarray | None  # float64; None when the call failed
    error: str | None = None  # why there is no value: raised, ran out of time, returned no numbers
    hint: str = ""


@dataclass
class CallsRun:
    returned: dict[str, Returned]  # by call id; calls the child never got to are missing
    child: ChildRun
    failure: Failure | None  # the whole run failed: import error, crash, time budget


def call_functions(
    source: str,
    calls: list[Call],
    *,
    time_budget_s: float,
    call_time_limit_s: float,
    isolation: Isolation | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> CallsRun:
    """Make the calls in a sandboxed child; never raises for the learner's sake.

    `source` is the learner's file (its text): the child imports a copy of it from its inputs.
    """
    isolation = isolation or choose()
    started = start_child(isolation=isolation, limits=limits, preload="none")  # no Keras: NumPy functions
    box = started.box
    try:
        (box.work / CALLS_DIR).mkdir(mode=0o777)
        os.chmod(box.work / CALLS_DIR, 0o777)
        _, inputs = box_paths(isolation, box.work, box.inputs)
        box.add_input("submission.py", source)
        job_calls: list[dict[str, Any]] = []  # the job's JSON
        for call in calls:
            names = []
            for index, arg in enumerate(call.args):
                name = f"{call.id}.in{index}.npy"
                box.add_array(name, np.asarray(arg, dtype=np.float64))
                names.append(f"{inputs}/{name}")
            job_calls.append(
                {
                    "id": call.id,
                    "function": call.function,
                    "inputs": names,
                    "options": call.options,
                    "text": call.text or f"{call.function}()",
                    "group": call.group or call.function,
                    "output": f"{CALLS_DIR}/{call.id}.out.npy",
                }
            )
        job = {
            "mode": "functions",
            "submission": f"{inputs}/submission.py",
            "calls": job_calls,
            "call_time_limit_s": call_time_limit_s,
        }
        child = run_child(job, child=started, timeout_s=time_budget_s)
        recorded = child.result["calls"] if isinstance(child.result.get("calls"), dict) else {}
        returned = {}
        for call, job_call in zip(calls, job_calls, strict=True):
            outcome = recorded.get(call.id)
            if isinstance(outcome, dict):
                returned[call.id] = _read_back(outcome, box.work / CALLS_DIR, f"{call.id}.out.npy", job_call["text"])
        return CallsRun(returned, child, _run_failure(child, time_budget_s))
    finally:
        started.discard()


def _read_back(outcome: dict[str, Any], folder: Path, name: str, text: str) -> Returned:
    def said(key: str) -> str:
        value = outcome.get(key, "")
        return clean(value, 1000) if isinstance(value, str) else ""

    if outcome.get("status") != "ok":
        return Returned(None, said("message") or f"{text} failed", said("hint"))
    try:
        value = load_npy(read_bounded(folder, name, MAX_RETURNED_BYTES), name)
    except (BoxFileError, OSError, ValueError) as err:  # ParseRefused is a ValueError
        return Returned(
            None, f"what {text} returned could not be read back ({clean(err, 300)})", "return a NumPy array of numbers"
        )
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
        return Returned(None, f"{text} returned no array of numbers", "return a NumPy array of numbers")
    return Returned(value.astype(np.float64))


def _run_failure(child: ChildRun, time_budget_s: float) -> Failure | None:
    doc = child.result
    if isinstance(doc.get("failure"), dict):
        f = doc["failure"]
        stage = "import" if f.get("stage") == "import" else "crash"  # the only two the child records
        return Failure(
            stage, clean(f.get("message", ""), 2000), clean(f.get("hint", ""), 1000), clean(f.get("detail", ""), 4000)
        )
    if child.timed_out:
        return Failure(
            "timeout",
            f"stopped at the time budget of {time_budget_s:g} s",
            "make sure nothing in your file waits or loops forever",
            clean(child.output[-2000:]),
        )
    if "seconds" not in doc:
        return Failure(
            "crash",
            f"the submission's process ended early (exit code {child.returncode})",
            "remove os._exit()/os.kill() and anything that ends the process; the output below may show why",
            child.output[-2000:],
        )
    return None
