"""The parent's side of calling a learner's functions: arrays in, arrays out, through a child.

    returned = call_functions(submission, calls, workdir=..., time_budget_s=..., call_time_limit_s=...)

The parent writes each call's arguments as .npy files into `workdir/calls/`, the child
(grader/sandbox/functions_child.py) imports the learner's file, makes the calls and saves
what they return, and the parent reads the results back with allow_pickle=False (no object
arrays, so nothing in them can run code here). Only numbers cross the boundary.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from grader.facts import Failure
from grader.sandbox.runner import ChildRun, run_child

CALLS_DIR = "calls"


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


def call_functions(submission: Path, calls: list[Call], *, workdir: Path, time_budget_s: float,
                   call_time_limit_s: float, keep_files: bool = False) -> CallsRun:
    """Make the calls in a child process; never raises for the learner's sake."""
    folder = workdir / CALLS_DIR
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    job_calls = []
    for call in calls:
        inputs = []
        for index, arg in enumerate(call.args):
            name = f"{CALLS_DIR}/{call.id}.in{index}.npy"
            np.save(workdir / name, np.asarray(arg, dtype=np.float64), allow_pickle=False)
            inputs.append(name)
        job_calls.append({"id": call.id, "function": call.function, "inputs": inputs, "options": call.options,
                          "text": call.text or f"{call.function}()", "group": call.group or call.function,
                          "output": f"{CALLS_DIR}/{call.id}.out.npy"})
    job = {"mode": "functions", "submission": str(submission), "calls": job_calls,
           "call_time_limit_s": call_time_limit_s}
    child = run_child(job, workdir=workdir, timeout_s=time_budget_s, device="cpu")
    recorded = child.result.get("calls") if isinstance(child.result.get("calls"), dict) else {}
    returned = {}
    for call, job_call in zip(calls, job_calls):
        outcome = recorded.get(call.id)
        if isinstance(outcome, dict):
            returned[call.id] = _read_back(outcome, workdir / job_call["output"], job_call["text"])
    if not keep_files:
        shutil.rmtree(folder, ignore_errors=True)
    return CallsRun(returned, child, _run_failure(child, time_budget_s))


def _read_back(outcome: dict[str, Any], output: Path, text: str) -> Returned:
    def said(key: str) -> str:
        value = outcome.get(key, "")
        return value if isinstance(value, str) else ""

    if outcome.get("status") != "ok":
        return Returned(None, said("message") or f"{text} failed", said("hint"))
    try:
        value = np.load(output, allow_pickle=False)
    except (OSError, ValueError) as err:
        return Returned(None, f"what {text} returned could not be read back ({err})",
                        "return a NumPy array of numbers")
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
        return Returned(None, f"{text} returned no array of numbers", "return a NumPy array of numbers")
    return Returned(value.astype(np.float64))


def _run_failure(child: ChildRun, time_budget_s: float) -> Failure | None:
    doc = child.result
    if isinstance(doc.get("failure"), dict):
        f = doc["failure"]
        stage = "import" if f.get("stage") == "import" else "crash"  # the only two the child records
        return Failure(stage, str(f.get("message", "")), str(f.get("hint", "")), str(f.get("detail", "")))
    if child.timed_out:
        return Failure("timeout", f"stopped at the time budget of {time_budget_s:g} s",
                       "make sure nothing in your file waits or loops forever", child.output[-2000:])
    if "seconds" not in doc:
        return Failure("crash", f"the submission's process ended early (exit code {child.returncode})",
                       "remove os._exit()/os.kill() and anything that ends the process; the output "
                       "below may show why", child.output[-2000:])
    return None
