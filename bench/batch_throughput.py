"""Benchmark: throughput of `grade batch`: warm workers against cold ones, sequential and side by side.

N learners each submit the reference Fashion-MNIST solution (solutions/fashion.py); every
grading is a real one (sandboxed describe step, trusted trainer, evaluation, report) on a small
profile. The same batch is graded several ways, each into a fresh database and run folder:

  sequential   grade batch --cold --jobs 1   (the baseline: a fresh worker, child and trainer per grading)
  cold         grade batch --cold --jobs J   (J fresh worker processes at once, each on its own cores)
  warm-1       grade batch --warm --jobs 1   (one warm worker: the next grading's processes started ahead)
  warm         grade batch --warm --jobs J   (J warm workers, each on its own cores)
  ray          grade batch --engine ray      (with --ray: a local Ray cluster with J CPUs)

Throughput is gradings per minute; the ratios against sequential come from the same run of this
script, the modes alternating over --rounds. Usage:

    python bench/batch_throughput.py [--learners 6] [--jobs 2] [--epochs 2] [--train 2048] [--rounds 1] [--ray]
                                     [--out bench/results.md]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
from submit_vs_plain import append_row, machine  # noqa: E402

BENCH_PROFILE = """
[profiles.bench]
train_limit = {train}
validation_limit = {validation}
test_limit = 2000
epochs = {epochs}
batch_size = 64
target_accuracy = 1.01   # never reached: every grading trains every epoch
time_budget_s = 900
tiers = [{{ min_accuracy = 0.5, points = 1 }}]
"""


def run_batch(
    mode: str, *, folder: Path, spec: Path, jobs: int, env: dict[str, str], tag: int = 0
) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one batch: the CPU time of every process it waited for,
    the driver, its workers and theirs (children's rusage counts their own waited children)."""
    out = folder / f"out-{mode}-{tag}"
    command = [
        sys.executable,
        "-m",
        "grader.cli",
        "batch",
        str(folder / "course"),
        "--spec",
        str(spec),
        "--profile",
        "bench",
        "--device",
        "cpu",
        "--db",
        str(folder / f"{mode}-{tag}.sqlite"),
        "--out",
        str(out),
    ]
    command += {
        "sequential": ["--cold", "--jobs", "1"],
        "cold": ["--cold", "--jobs", str(jobs)],
        "warm-1": ["--warm", "--jobs", "1"],
        "warm": ["--warm", "--jobs", str(jobs)],
        "ray": ["--engine", "ray", "--jobs", str(jobs)],
    }[mode]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"{mode} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return seconds, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--learners", type=int, default=6)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train", type=int, default=2048)
    parser.add_argument("--validation", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=1, help="times each mode runs, alternating; the median counts")
    parser.add_argument("--ray", action="store_true", help="also grade on a local Ray cluster")
    parser.add_argument("--out", type=Path, help="append a Markdown row of results to this file")
    args = parser.parse_args()

    env = dict(os.environ, PYTHONUNBUFFERED="1", CUDA_VISIBLE_DEVICES="-1")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for index in range(args.learners):
            learner = folder / "course" / f"learner{index:03d}"
            learner.mkdir(parents=True)
            shutil.copyfile(REPO / "solutions" / "fashion.py", learner / "fashion.py")
        spec = folder / "fashion.toml"
        spec.write_text(
            (REPO / "challenges" / "fashion.toml").read_text()
            + BENCH_PROFILE.format(train=args.train, validation=args.validation, epochs=args.epochs)
        )
        modes = ["sequential", "cold", "warm-1", "warm"] + (["ray"] if args.ray else [])
        runs: dict[str, list[float]] = {mode: [] for mode in modes}
        cpu: dict[str, list[float]] = {mode: [] for mode in modes}
        for round_ in range(args.rounds):
            for mode in modes:
                wall, cpu_s = run_batch(mode, folder=folder, spec=spec, jobs=args.jobs, env=env, tag=round_)
                runs[mode].append(wall)
                cpu[mode].append(cpu_s / args.learners)
                print(
                    f"{mode}: {wall:.1f} s, {60 * args.learners / wall:.2f} gradings/min, "
                    f"{cpu[mode][-1]:.1f} CPU s per grading",
                    flush=True,
                )

    seconds = {mode: statistics.median(values) for mode, values in runs.items()}
    per_minute = {mode: 60 * args.learners / s for mode, s in seconds.items()}
    ratio = {mode: per_minute[mode] / per_minute["sequential"] for mode in modes}
    where = machine("cpu", env)
    print(
        f"throughput against cold sequential ({where}): "
        + ", ".join(f"{mode} x{ratio[mode]:.2f}" for mode in modes if mode != "sequential")
    )
    print("seconds per mode: " + "; ".join(f"{mode} {', '.join(f'{v:.1f}' for v in runs[mode])}" for mode in modes))
    # The floor: however the gradings are arranged, the machine's cores must run their CPU time.
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    floor = {mode: statistics.median(cpu[mode]) / cores for mode in modes}
    print(
        "CPU s per grading (median) and the floor it sets on these cores, in s per grading: "
        + "; ".join(f"{mode} {statistics.median(cpu[mode]):.1f} -> {floor[mode]:.1f}" for mode in modes)
    )
    append_row(
        args.out,
        f"| {time.strftime('%Y-%m-%d')} | {where} | {args.learners} gradings, {args.train}/{args.validation}, "
        f"{args.epochs} epochs, --jobs {args.jobs}, {args.rounds} round(s) | {per_minute['sequential']:.2f} | "
        f"{per_minute['cold']:.2f} (x{ratio['cold']:.2f}) | {per_minute['warm-1']:.2f} (x{ratio['warm-1']:.2f}) | "
        f"{per_minute['warm']:.2f} (**x{ratio['warm']:.2f}**) |"
        + (f" {per_minute['ray']:.2f} (x{ratio['ray']:.2f}) |" if "ray" in ratio else " |")
        + "\n",
    )


if __name__ == "__main__":
    main()
