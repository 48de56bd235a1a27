"""Benchmark: throughput of `grade batch`, sequential against --jobs N and against Ray.

N learners each submit the reference Fashion-MNIST solution (solutions/fashion.py); every
grading is a real one (sandboxed describe step, trusted trainer, evaluation, report) on a small
profile. The same batch is graded three ways, each into a fresh database and run folder:

  sequential   grade batch --jobs 1
  jobs         grade batch --jobs J          (J worker processes, each on its own cores)
  ray          grade batch --engine ray      (a local Ray cluster with J CPUs, started by the batch)

Throughput is gradings per minute; the ratios against sequential come from the same run of this
script. Usage:

    python bench/batch_throughput.py [--learners 6] [--jobs 2] [--epochs 2] [--train 2048] [--out bench/results.md]
"""

from __future__ import annotations

import argparse
import os
import shutil
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


def run_batch(mode: str, *, folder: Path, spec: Path, jobs: int, env: dict[str, str]) -> float:
    out = folder / f"out-{mode}"
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
        str(folder / f"{mode}.sqlite"),
        "--out",
        str(out),
    ]
    if mode == "jobs":
        command += ["--jobs", str(jobs)]
    elif mode == "ray":
        command += ["--engine", "ray", "--jobs", str(jobs)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{mode} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--learners", type=int, default=6)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train", type=int, default=2048)
    parser.add_argument("--validation", type=int, default=512)
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
        seconds = {}
        for mode in ("sequential", "jobs", "ray"):
            seconds[mode] = run_batch(mode, folder=folder, spec=spec, jobs=args.jobs, env=env)
            print(f"{mode}: {seconds[mode]:.1f} s, {60 * args.learners / seconds[mode]:.2f} gradings/min")

    per_minute = {mode: 60 * args.learners / s for mode, s in seconds.items()}
    where = machine("cpu", env)
    jobs_ratio, ray_ratio = per_minute["jobs"] / per_minute["sequential"], per_minute["ray"] / per_minute["sequential"]
    print(f"throughput against sequential: --jobs {args.jobs} x{jobs_ratio:.2f}, ray x{ray_ratio:.2f} ({where})")
    append_row(
        args.out,
        f"| {time.strftime('%Y-%m-%d')} | {where} | {args.learners} gradings, {args.train}/"
        f"{args.validation}, {args.epochs} epochs | {per_minute['sequential']:.2f} | {per_minute['jobs']:.2f} | "
        f"{per_minute['ray']:.2f} | **x{jobs_ratio:.2f}** | **x{ray_ratio:.2f}** |\n",
    )


if __name__ == "__main__":
    main()
