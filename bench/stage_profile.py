"""Benchmark: where the time of one `grade submit` and one `grade check` goes, stage by stage.

Runs each command N times (alternating) on the reference Fashion-MNIST solution, submit with the
same profile as bench/submit_vs_plain.py (12,000 training and 2,000 validation images, 5 epochs,
batch 64), and prints the median of every duration result.json records, plus the command's
wall time and what is left outside grade() (process start, imports, printing). Usage:

    python bench/stage_profile.py [--repeats 3] [--checks-only] [--out bench/results.md --label before]

`grade check` runs twice per repeat: as learners get it (Keras' numpy backend where it tells the
same, grader/keras_support/backend.py check_backend) and with GRADER_CHECK_BACKEND=chosen (TensorFlow, as
before the fast check). With --warm, a third time: `grade check --warm`, through a helper of
its own (a private XDG_RUNTIME_DIR) started by a first, untimed warm check. Before each timed
command the benchmark then waits --think seconds, as a learner edits their file between checks:
that is when the helper starts the next check's processes, so they never overlap a timed run.
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
from submit_vs_plain import BENCH_PROFILE, append_row, machine, timed  # noqa: E402

# In the order they happen; the child and the trainer overlap where the trainer imports Keras.
STAGES = ("data", "child", "keras", "build_model", "preprocess", "trainer", "train", "evaluate", "report", "total")


def run(command: list[str], env: dict[str, str]) -> tuple[float, dict]:
    seconds, stdout = timed(command, env)
    return seconds, json.loads(stdout)


def table(label: str, walls: list[float], results: list[dict]) -> list[str]:
    durations = {stage: [r["durations"][stage] for r in results if stage in r["durations"]] for stage in STAGES}
    cells = [f"{statistics.median(v):.2f}" if v else "" for v in durations.values()]
    wall = statistics.median(walls)
    outside = wall - statistics.median(durations["total"])
    return [f"| {label} | {wall:.2f} | {outside:.2f} | " + " | ".join(cells) + " |"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--label", default="")
    parser.add_argument("--out", type=Path, help="append the Markdown rows to this file")
    parser.add_argument("--checks-only", action="store_true", help="time the two checks, not submit")
    parser.add_argument("--warm", action="store_true", help="also time grade check --warm")
    parser.add_argument("--think", type=float, default=5.0, help="seconds between warm checks (editing time)")
    args = parser.parse_args()

    env = dict(os.environ, PYTHONUNBUFFERED="1", CUDA_VISIBLE_DEVICES="-1")
    solution = REPO / "solutions" / "fashion.py"
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "fashion.toml"
        spec.write_text(
            (REPO / "challenges" / "fashion.toml").read_text()
            + BENCH_PROFILE.format(train=12000, validation=2000, epochs=5, batch=64, precision="float32")
        )
        submit = [
            sys.executable,
            "-m",
            "grader.cli",
            "submit",
            str(solution),
            "--spec",
            str(spec),
            "--profile",
            "bench",
            "--device",
            "cpu",
            "--json",
            "--out",
            str(Path(tmp) / "submit"),
        ]
        check = [
            sys.executable,
            "-m",
            "grader.cli",
            "check",
            str(solution),
            "--json",
            "--out",
            str(Path(tmp) / "check"),
        ]
        chosen_env = dict(env, GRADER_CHECK_BACKEND="chosen")
        commands = [("check", check, env), ("check, chosen backend", check, chosen_env)]
        if not args.checks_only:
            commands.insert(0, ("submit", submit, env))
        if args.warm:
            runtime = Path(tmp) / "runtime"
            runtime.mkdir(mode=0o700)
            warm_env = dict(env, XDG_RUNTIME_DIR=str(runtime))
            warm = [*check[:4], "--warm", *check[4:]]
            commands.append(("check --warm", warm, warm_env))
            run(warm, warm_env)  # starts the helper: the first check of a session, not timed
        walls: dict[str, list[float]] = {name: [] for name, _, _ in commands}
        results: dict[str, list[dict]] = {name: [] for name, _, _ in commands}
        for repeat in range(args.repeats):
            for name, command, command_env in commands:
                time.sleep(args.think if args.warm else 0.0)  # the helper's refill never overlaps a timed run
                seconds, result = run(command, command_env)
                walls[name].append(seconds)
                results[name].append(result)
                print(
                    f"{name} {repeat + 1}: {seconds:.2f} s wall, backend {result['backend']}, "
                    + ", ".join(f"{k} {v:.2f}" for k, v in result["durations"].items())
                )
        if args.warm:
            subprocess.run([sys.executable, "-m", "grader.cli", "warm", "stop"], env=warm_env, cwd=REPO)
    header = ["| command | wall s | outside grade() | " + " | ".join(STAGES) + " |", "| --- " * (len(STAGES) + 3) + "|"]
    rows = [
        row
        for name, _, _ in commands
        for row in table(f"{args.label} grade {name}".strip(), walls[name], results[name])
    ]
    print("\n".join(header + rows))
    accuracy = results["submit"][0]["metrics"].get("test_accuracy") if "submit" in results else None
    print(f"({machine('cpu', env)}, {time.strftime('%Y-%m-%d')}, medians of {args.repeats}; test accuracy {accuracy})")
    append_row(args.out, "\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
