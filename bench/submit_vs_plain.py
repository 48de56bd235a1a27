"""Benchmark: how much does `grade submit` cost next to a plain Keras training script?

Both train the reference Fashion-MNIST model (solutions/fashion.py) for the same epochs on the
same data, each in a fresh process, and both evaluate on the same test images:

  plain   a seed-style script: model.fit(x, y, validation_data=...) on numpy arrays, then evaluate
  grade   `grade submit` with a benchmark profile: child process, checks, parent evaluation, JSON

The ratio grade/plain is what matters (absolute seconds are noisy here). Runs alternate, so a
slow moment of the machine hits both. Usage:

    python bench/submit_vs_plain.py [--epochs 5] [--train 12000] [--repeats 2] [--out bench/results.md]
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
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

PLAIN_SCRIPT = textwrap.dedent("""
    import importlib.util, json, sys, time
    import numpy as np
    import keras
    from grader.data import load_dataset
    from grader.pipeline.model import stratified_take

    train_n, val_n, epochs, batch = (int(a) for a in sys.argv[1:5])
    spec = importlib.util.spec_from_file_location("fashion", sys.argv[5])
    fashion = importlib.util.module_from_spec(spec); spec.loader.exec_module(fashion)
    data = load_dataset("fashion_mnist")
    def take(split, n):
        keep = stratified_take(split.labels, n)
        return split.images[keep], split.labels[keep]
    (x, y), (xv, yv) = take(data.train, train_n), take(data.validation, val_n)
    keras.utils.set_random_seed(1234)
    model = fashion.build_model()
    model.fit(fashion.preprocess(x), y, validation_data=(fashion.preprocess(xv), yv),
              epochs=epochs, batch_size=batch, verbose=0)
    loss, acc = model.evaluate(fashion.preprocess(data.test.images), data.test.labels, verbose=0)
    print(json.dumps({"test_accuracy": float(acc)}))
""")

BENCH_PROFILE = """
[profiles.bench]
train_limit = {train}
validation_limit = {validation}
epochs = {epochs}
batch_size = {batch}
target_accuracy = 1.01   # never reached: both runs train every epoch
time_budget_s = 3600
precision = "{precision}"
tiers = [{{ min_accuracy = 0.5, points = 1 }}]
"""


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            return next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def machine(device: str, env: dict[str, str]) -> str:
    """The machine column of bench/results.md."""
    return (
        f"{platform.machine()} {cpu_name()}, {os.cpu_count()} cores, {device}, "
        f"backend {env.get('KERAS_BACKEND', 'tensorflow')}"
    )


def append_row(path: Path | None, row: str) -> None:
    """Append a Markdown row (or rows) to bench/results.md, when --out was given."""
    if path:
        with open(path, "a") as handle:
            handle.write(row)


def timed(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO)
    seconds = time.perf_counter() - started
    if out.returncode not in (0, 1):
        sys.exit(f"{command[:3]} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return seconds, out.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--train", type=int, default=12000)
    parser.add_argument("--validation", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--precision",
        default="float32",
        choices=("float32", "mixed_bfloat16"),
        help="the grader's training precision (the plain script always trains in float32)",
    )
    parser.add_argument("--out", type=Path, help="append a Markdown row of results to this file")
    args = parser.parse_args()

    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if args.device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = "-1"
    solution = REPO / "solutions" / "fashion.py"
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "fashion.toml"
        spec.write_text(
            (REPO / "challenges" / "fashion.toml").read_text()
            + BENCH_PROFILE.format(
                train=args.train,
                validation=args.validation,
                epochs=args.epochs,
                batch=args.batch,
                precision=args.precision,
            )
        )
        plain_py = Path(tmp) / "plain.py"
        plain_py.write_text(PLAIN_SCRIPT)
        plain_cmd = [
            sys.executable,
            str(plain_py),
            str(args.train),
            str(args.validation),
            str(args.epochs),
            str(args.batch),
            str(solution),
        ]
        grade_cmd = [
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
            args.device,
            "--json",
            "--out",
            str(Path(tmp) / "run"),
        ]
        plain_s, grade_s, plain_acc, grade_acc = [], [], [], []
        for repeat in range(args.repeats):
            seconds, out = timed(plain_cmd, env)
            plain_s.append(seconds)
            plain_acc.append(json.loads(out.strip().splitlines()[-1])["test_accuracy"])
            seconds, out = timed(grade_cmd, env)
            grade_s.append(seconds)
            result = json.loads(out)
            grade_acc.append(result["metrics"]["test_accuracy"])
            print(
                f"run {repeat + 1}: plain {plain_s[-1]:.1f} s (acc {plain_acc[-1]:.4f}), "
                f"grade submit {grade_s[-1]:.1f} s (acc {grade_acc[-1]:.4f}, "
                + ", ".join(
                    f"{stage} {result['durations'].get(stage, 0):.1f} s"
                    for stage in ("child", "train", "evaluate", "report")
                )
                + ")"
            )

    ratio = statistics.median(grade_s) / statistics.median(plain_s)
    where = machine(args.device, env) + ("" if args.precision == "float32" else f", grader in {args.precision}")
    print(
        f"median: plain {statistics.median(plain_s):.1f} s, grade submit {statistics.median(grade_s):.1f} s, "
        f"ratio {ratio:.2f} ({where})"
    )
    append_row(
        args.out,
        f"| {time.strftime('%Y-%m-%d')} | {where} | {args.train}/{args.validation}, {args.epochs} "
        f"epochs, batch {args.batch} | {statistics.median(plain_s):.1f} | {statistics.median(grade_s):.1f} | "
        f"**{ratio:.2f}** | {statistics.mean(plain_acc):.4f} | {statistics.mean(grade_acc):.4f} |\n",
    )


if __name__ == "__main__":
    main()
