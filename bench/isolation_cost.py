"""Benchmark: what does the sandbox cost? `grade submit` with and without isolation, same model.

Both run the whole `grade submit` of the reference Fashion-MNIST solution on a benchmark
profile (the quick profile's data and model, fewer epochs), each in a fresh process, runs
alternating so that a slow moment of the machine hits both:

  namespaces   --isolation namespaces (bubblewrap; the default)
  none         --isolation none (the child runs unisolated)

The ratio namespaces / none is what matters (goal: at most 1.05). The test accuracies must be
equal: isolation changes where the learner's code runs, never what is trained. Usage:

    python bench/isolation_cost.py [--epochs 3] [--repeats 3] [--out bench/results.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROFILE = """
[profiles.bench]
train_limit = 12000
validation_limit = 2000
epochs = {epochs}
batch_size = 64
target_accuracy = 0.99
time_budget_s = 1800
tiers = [{{ min_accuracy = 0.5, points = 10 }}]
"""


def grade_once(isolation: str, spec: Path, out: Path) -> tuple[float, float]:
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "grader.cli",
            "submit",
            str(REPO / "solutions" / "fashion.py"),
            "--spec",
            str(spec),
            "--profile",
            "bench",
            "--isolation",
            isolation,
            "--out",
            str(out),
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    seconds = time.perf_counter() - started
    result = json.loads(done.stdout)
    assert result["isolation"] == isolation, result.get("error")
    return seconds, result["metrics"]["test_accuracy"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        spec = Path(folder) / "fashion.toml"
        spec.write_text((REPO / "challenges" / "fashion.toml").read_text() + PROFILE.format(epochs=args.epochs))
        times: dict[str, list[float]] = {"namespaces": [], "none": []}
        accuracy: dict[str, set[float]] = {"namespaces": set(), "none": set()}
        for repeat in range(args.repeats):
            order = ("namespaces", "none") if repeat % 2 == 0 else ("none", "namespaces")
            for isolation in order:
                seconds, acc = grade_once(isolation, spec, Path(folder) / f"{isolation}-{repeat}")
                times[isolation].append(seconds)
                accuracy[isolation].add(acc)
                print(f"{isolation:>10}: {seconds:6.1f} s  test accuracy {acc:.4f}", flush=True)
    isolated, plain = statistics.median(times["namespaces"]), statistics.median(times["none"])
    ratio = isolated / plain
    ratios = ", ".join(f"{a / b:.3f}" for a, b in zip(times["namespaces"], times["none"], strict=True))
    machine = f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} cores".strip()
    row = (
        f"| {time.strftime('%Y-%m-%d')} | {machine} | 12000/2000, {args.epochs} epochs | {plain:.1f} | "
        f"{isolated:.1f} | **{ratio:.3f}** (per repeat {ratios}) | "
        f"{'/'.join(f'{a:.4f}' for a in sorted(accuracy['none']))} | "
        f"{'/'.join(f'{a:.4f}' for a in sorted(accuracy['namespaces']))} |"
    )
    print(row)
    if args.out:
        with open(args.out, "a") as handle:
            handle.write(row + "\n")


if __name__ == "__main__":
    main()
