"""Benchmark: `grade check --warm` as a learner uses it, back to back and with editing time between.

A helper of its own (a private XDG_RUNTIME_DIR) is started by a first, untimed check; then the
reference Fashion-MNIST solution is checked N times back to back (the next command starts the
moment the last one returned, while the helper is still starting the processes it keeps ahead),
then N times with --think seconds between (a learner editing). Prints the median and every
wall time of both. Usage:

    python bench/warm_checks.py [--repeats 7] [--think 5] [--out bench/results.md --label now]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
from submit_vs_plain import append_row, machine, timed  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--think", type=float, default=5.0, help="seconds between the checks of the second series")
    parser.add_argument("--label", default="")
    parser.add_argument("--out", type=Path, help="append the Markdown rows to this file")
    args = parser.parse_args()

    solution = REPO / "solutions" / "fashion.py"
    check = [sys.executable, "-m", "grader.cli", "check", "--warm", str(solution), "--json"]
    with tempfile.TemporaryDirectory() as runtime, tempfile.TemporaryDirectory() as runs:
        os.chmod(runtime, 0o700)
        env = dict(os.environ, XDG_RUNTIME_DIR=runtime, GRADER_RUNS_DIR=runs, GRADER_WARM_IDLE_S="300")
        try:
            timed(check, env)  # starts the helper: the first check of a session, not timed
            time.sleep(args.think)
            series: dict[str, list[float]] = {"back to back": [], f"{args.think:g} s apart": []}
            for name, pause in ((f"{args.think:g} s apart", args.think), ("back to back", 0.0)):
                for _ in range(args.repeats):
                    seconds, stdout = timed(check, env)
                    assert json.loads(stdout)["verdict"] == "passed", stdout[-2000:]
                    series[name].append(seconds)
                    time.sleep(pause)
                time.sleep(args.think)
            status = subprocess.run(
                [sys.executable, "-m", "grader.cli", "warm", "status"],
                env=env,
                cwd=REPO,
                capture_output=True,
                text=True,
            ).stdout.strip()
        finally:
            subprocess.run([sys.executable, "-m", "grader.cli", "warm", "stop"], env=env, cwd=REPO, capture_output=True)
    rows = [
        f"| {args.label} | {name} | {statistics.median(walls):.2f} | {', '.join(f'{w:.2f}' for w in walls)} |"
        for name, walls in series.items()
    ]
    print(f"machine: {machine('cpu', env)}")
    print("| tree | checks | median s | every check, s |\n| --- | --- | --- | --- |")
    print("\n".join(rows))
    print(status)
    if args.out:
        append_row(args.out, "\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
