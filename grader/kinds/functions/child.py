"""The child's side of a "functions" job: call the learner's functions on the parent's arrays.

`grader.describe.sandbox.child` hands jobs with mode "functions" here, before anything imports Keras:
these challenges are plain NumPy, so the child starts in a fraction of a second.

The job lists calls: a function name, the .npy files of its positional arguments, keyword
options, and the .npy file its return value goes to. Each call runs under its own time
limit (a hang costs that limit, not the whole budget); what happened to each is recorded in
`child_result.json` under "calls" as it happens, so a crash or a kill keeps the calls done.
The parent trusts none of it: it re-reads each output with allow_pickle=False and compares
it with its own reference.
"""

from __future__ import annotations

import re
import signal
import time
import traceback
from pathlib import Path
from typing import Any

from grader.describe.sandbox.stages import RESULT_FILE, Recorder, explain, guarded, load_module, run_stages

# More values than any expected output has: a runaway result is refused rather than written.
MAX_OUTPUT_VALUES = 1_000_000
# After this many calls of one group (calls alike, e.g. one check's) ran out of time, the
# group's remaining calls are skipped: a hang costs a few call limits, not the whole budget.
MAX_TIMEOUTS_PER_GROUP = 2
ENDLESS_LOOP_HINT = (
    "look for a loop that never ends (a while loop whose condition never changes); if it is only "
    "slow, loop over the output positions and let NumPy handle each window in one step "
    "((window * kernel).sum(), window.max(), window.mean())"
)
_TODO = re.compile(r"^(TODO\s+\d+):\s*(.*)$", re.DOTALL)


class CallTimedOut(BaseException):
    """Raised by the alarm inside a call that ran too long. A BaseException, so that the
    learner's own `except Exception:` does not swallow it."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise CallTimedOut()


def _set_alarm(seconds: float) -> None:
    """Arm (or, with 0, disarm) the per-call alarm. Without SIGALRM (Windows) only the parent's
    budget for the whole run applies."""
    if hasattr(signal, "setitimer"):
        signal.setitimer(signal.ITIMER_REAL, seconds)


def describe_error(call: str, function: str, exc: BaseException, submission: Path) -> dict[str, str]:
    """The message and hint for a call that raised."""
    if isinstance(exc, NotImplementedError):
        match = _TODO.match(str(exc).strip())
        if match:
            label, summary = match.groups()
            # The TODO may sit in a helper the called function uses (conv2d -> same_padding).
            frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename) == submission]
            where = frames[-1].name if frames else function
            return {
                "message": f"{' '.join(label.split())} is not done yet: {summary}",
                "hint": f"replace the `raise NotImplementedError(...)` line in {where}() with your code",
            }
    failure = explain("functions", call, exc, submission)
    return {"message": failure.message, "hint": failure.hint, "detail": failure.detail}


def run_call(module: Any, call: dict[str, Any], workdir: Path, limit_s: float, submission: Path) -> dict[str, Any]:
    import numpy as np

    function = getattr(module, call["function"], None)
    if not callable(function):
        return {
            "status": "error",
            "message": f"the file does not define {call['function']}()",
            "hint": "keep the functions of the challenge file, with their names unchanged",
        }
    args = [np.load(workdir / name, allow_pickle=False) for name in call["inputs"]]
    started = time.perf_counter()
    try:
        try:
            _set_alarm(limit_s)
            value = function(*args, **call["options"])
        finally:
            _set_alarm(0)
    except CallTimedOut:
        return {
            "status": "timeout",
            "message": f"{call['text']} ran for more than {limit_s:g} s",
            "hint": ENDLESS_LOOP_HINT,
        }
    except BaseException as exc:  # SystemExit and KeyboardInterrupt included: the next call still runs
        return {"status": "error", **describe_error(call["text"], call["function"], exc, submission)}
    seconds = round(time.perf_counter() - started, 4)
    try:
        out = np.asarray(value)
    except Exception:
        out = None
    if out is None or out.dtype.kind not in "biuf":
        kind = "None" if value is None else type(value).__name__
        return {
            "status": "error",
            "message": f"{call['text']} returned {kind}, not an array of numbers",
            "hint": "end the function with `return out`, out being the NumPy array of results",
        }
    if out.size > MAX_OUTPUT_VALUES:
        return {
            "status": "error",
            "message": f"{call['text']} returned {out.size:,} values, far too many",
            "hint": "check the output's shape: one value per window position",
        }
    np.save(workdir / call["output"], out.astype(np.float64), allow_pickle=False)
    return {"status": "ok", "seconds": seconds}


def run_functions_job(job: dict[str, Any]) -> int:
    workdir = Path(job["workdir"])
    submission = Path(job["submission"]).resolve()
    recorder = Recorder(workdir / RESULT_FILE)
    recorder.doc["calls"] = {}

    def stages() -> None:
        t = time.perf_counter()
        module = guarded("import", "importing the file", submission, lambda: load_module(submission))
        recorder.stage_done("import", time.perf_counter() - t)
        if hasattr(signal, "SIGALRM"):
            signal.signal(signal.SIGALRM, _on_alarm)
        timeouts: dict[str, int] = {}
        t = time.perf_counter()
        for call in job["calls"]:
            group = call.get("group") or call["function"]
            if timeouts.get(group, 0) >= MAX_TIMEOUTS_PER_GROUP:
                outcome = {
                    "status": "skipped",
                    "message": f"{call['text']} was not run: {call['function']}() already ran out of "
                    f"time {MAX_TIMEOUTS_PER_GROUP} times on inputs like these",
                    "hint": ENDLESS_LOOP_HINT,
                }
            else:
                try:
                    outcome = run_call(module, call, workdir, float(job["call_time_limit_s"]), submission)
                except CallTimedOut:  # the alarm went off just as the call returned
                    outcome = {
                        "status": "timeout",
                        "message": f"{call['text']} ran out of time",
                        "hint": ENDLESS_LOOP_HINT,
                    }
            if outcome["status"] == "timeout":
                timeouts[group] = timeouts.get(group, 0) + 1
            recorder.doc["calls"][call["id"]] = outcome
            recorder.flush()
        recorder.stage_done("functions", time.perf_counter() - t)

    return run_stages(recorder, stages)
