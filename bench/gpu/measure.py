"""The GPU check of issue 35: what bench/gpu/run.sh measures, in one run, with the kit's own commands.

    (a) `grade submit` of each reference solution on its full profile, wall time start-up included
        (goals: fashion and cnn at most 20 s, cats_dogs at most 90 s, on a GPU);
    (b) N small gradings at once (`grade batch --jobs N`, warm workers, each bounded to its share
        of the GPU's memory) against the same kind of gradings one at a time (`--jobs 1`), in
        gradings per minute (goal: at least 4x on a GPU);
    (c) the same submission graded on the GPU (--device auto) and on the CPU (--device cpu): the
        same verdict, and test accuracies within TOLERANCE.

Every grading is a real one (sandboxed describe step, trusted trainer, evaluation on held-out
images). --tiny makes each small enough for CI on 2 CPU cores; without a GPU the same steps run
on the CPU (and (c) then compares the CPU with itself). Goals are reported, not asserted: the
exit code is 0 when every step ran, 1 when one could not.

    python bench/gpu/measure.py [--tiny] [--out DIR] [--data-dir DIR] [--challenges fashion cnn]
                                [--concurrent N] [--budget-s 450]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # the kit from this checkout, installed or not (a borrowed GPU machine)
CHALLENGES = ("fashion", "cnn", "cats_dogs")
GOALS_S = {"fashion": 20.0, "cnn": 20.0, "cats_dogs": 90.0}
THROUGHPUT_GOAL = 4.0
# Seeds move the quick profiles' test accuracy by about 0.01 (docs/measurements.md); another
# device sums in another order, so a GPU may differ from the CPU by as much as two seeds do.
TOLERANCE = 0.02

SMALL_PROFILE = """
[profiles.{name}]
train_limit = {train}
validation_limit = {validation}
test_limit = {test}
epochs = {epochs}
batch_size = 64
target_accuracy = 1.01   # never reached: every grading trains every epoch
time_budget_s = 600
tiers = [{{ min_accuracy = 0.1, points = 1 }}]
"""
SMALL = {"train": 2048, "validation": 512, "test": 2000, "epochs": 2}
TINY = {"train": 512, "validation": 256, "test": 512, "epochs": 1}


def default_data_dir() -> Path | None:
    for candidate in (
        os.environ.get("GRADER_DATA_DIR"),
        REPO / "shared" / "datasets",
        REPO.parent / "shared" / "datasets",
    ):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


def gpu_name() -> str:
    if shutil.which("nvidia-smi"):
        done = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True
        )
        if done.returncode == 0 and done.stdout.strip():
            return done.stdout.strip().splitlines()[0]
    return "none"


class Run:
    """One run of the script: where it writes, what it has measured, how much time is left."""

    def __init__(self, args: argparse.Namespace, folder: Path):
        self.args, self.folder = args, folder
        self.started = time.monotonic()
        self.env = dict(os.environ, PYTHONUNBUFFERED="1")
        if args.data_dir:
            self.env["GRADER_DATA_DIR"] = str(args.data_dir)
        self.results: dict = {
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, GPU: {gpu_name()}",
            "keras_backend": self.env.get("KERAS_BACKEND", "tensorflow"),
            "setting": "tiny" if args.tiny else "full",
            "steps": {},
        }

    def time_left(self) -> float:
        return self.args.budget_s - (time.monotonic() - self.started)

    def grade(self, arguments: list[str], limit_s: float) -> tuple[float, subprocess.CompletedProcess]:
        command = [sys.executable, "-m", "grader.cli", *arguments]
        started = time.perf_counter()
        try:
            done = subprocess.run(command, capture_output=True, text=True, env=self.env, cwd=REPO, timeout=limit_s)
        except subprocess.TimeoutExpired:
            return time.perf_counter() - started, subprocess.CompletedProcess(command, 124, "", "out of time")
        return time.perf_counter() - started, done

    def spec(self, challenge: str, name: str, sizes: dict) -> Path:
        path = self.folder / f"{challenge}-{name}.toml"
        if not path.exists():
            text = (REPO / "challenges" / f"{challenge}.toml").read_text()
            path.write_text(text + SMALL_PROFILE.format(name=name, **sizes))
        return path

    def small(self) -> tuple[str, dict]:
        return ("tiny", TINY) if self.args.tiny else ("small", SMALL)


def submit(run: Run, challenge: str, *, profile: str, spec: Path | None, device: str, tag: str) -> dict:
    arguments = ["submit", str(REPO / "solutions" / f"{challenge}.py"), "--profile", profile, "--device", device]
    arguments += ["--json", "--out", str(run.folder / f"{tag}-{challenge}")]
    if spec is not None:
        arguments += ["--spec", str(spec)]
    seconds, done = run.grade(arguments, limit_s=max(run.time_left(), 1))
    try:
        result = json.loads(done.stdout)
    except ValueError:
        return {"seconds": round(seconds, 1), "problem": (done.stderr or done.stdout)[-1500:]}
    return {
        "seconds": round(seconds, 1),
        "verdict": result["verdict"],
        "device": result.get("device"),
        "test_accuracy": (result.get("metrics") or {}).get("test_accuracy"),
        "error": result.get("error"),
    }


def step_a(run: Run) -> dict:
    """(a) each reference on its full profile (tiny: fashion on the tiny profile)."""
    found = {}
    for challenge in run.args.challenges:
        if run.time_left() < 30:
            found[challenge] = {"problem": "skipped: the run's time budget is spent"}
            continue
        if run.args.tiny:
            name, sizes = run.small()
            found[challenge] = submit(
                run, challenge, profile=name, spec=run.spec(challenge, name, sizes), device="auto", tag="a"
            )
        else:
            found[challenge] = submit(run, challenge, profile="full", spec=None, device="auto", tag="a")
        found[challenge]["goal_s"] = None if run.args.tiny else GOALS_S[challenge]
        print(f"(a) {challenge}: {found[challenge]}", flush=True)
    return found


def batch(run: Run, *, learners: int, jobs: int, tag: str) -> dict:
    name, sizes = run.small()
    course = run.folder / f"course-{tag}"
    for index in range(learners):
        (course / f"learner{index:03d}").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO / "solutions" / "fashion.py", course / f"learner{index:03d}" / "fashion.py")
    arguments = ["batch", str(course), "--spec", str(run.spec("fashion", name, sizes)), "--profile", name]
    arguments += ["--device", "auto", "--jobs", str(jobs), "--warm"]
    arguments += ["--db", str(run.folder / f"{tag}.sqlite"), "--out", str(run.folder / f"out-{tag}")]
    seconds, done = run.grade(arguments, limit_s=max(run.time_left(), 1))
    graded = 0
    gradebook = run.folder / f"out-{tag}" / "gradebook.csv"
    if gradebook.is_file():
        graded = sum(1 for line in gradebook.read_text().splitlines()[1:] if ",passed," in line or ",failed," in line)
    found = {"learners": learners, "jobs": jobs, "seconds": round(seconds, 1), "graded": graded}
    found["per_minute"] = round(60 * graded / seconds, 2) if graded else 0.0
    if done.returncode != 0:
        found["problem"] = (done.stderr or done.stdout)[-1500:]
    return found


def step_b(run: Run) -> dict:
    """(b) N gradings at once against one at a time, both on warm workers."""
    from grader.describe.sandbox import isolation as iso

    chosen = iso.choose()
    if not chosen.isolated:  # a batch records its gradings, so it grades only in a sandbox
        return {"problem": f"no sandbox here, and a batch grades only in one: {chosen.reason}"}
    n = run.args.concurrent
    one_at_a_time = batch(run, learners=max(2, n // 2), jobs=1, tag="b-sequential")
    print(f"(b) one at a time: {one_at_a_time}", flush=True)
    if run.time_left() < 30:
        return {"sequential": one_at_a_time, "problem": "skipped the concurrent batch: the run's time budget is spent"}
    at_once = batch(run, learners=2 * n, jobs=n, tag="b-concurrent")
    print(f"(b) {n} at once: {at_once}", flush=True)
    ratio = at_once["per_minute"] / one_at_a_time["per_minute"] if one_at_a_time["per_minute"] else None
    return {"sequential": one_at_a_time, "concurrent": at_once, "ratio": round(ratio, 2) if ratio else None,
            "goal": THROUGHPUT_GOAL}  # fmt: skip


def step_c(run: Run) -> dict:
    """(c) the same submission on the GPU (auto) and on the CPU."""
    name, sizes = run.small()
    spec = run.spec("fashion", name, sizes)
    found = {
        device: submit(run, "fashion", profile=name, spec=spec, device=device, tag=f"c-{device}")
        for device in ("auto", "cpu")
    }
    auto, cpu = found["auto"], found["cpu"]
    if auto.get("test_accuracy") is not None and cpu.get("test_accuracy") is not None:
        found["difference"] = round(abs(auto["test_accuracy"] - cpu["test_accuracy"]), 4)
        found["same_verdict"] = auto["verdict"] == cpu["verdict"]
        found["within_tolerance"] = found["difference"] <= TOLERANCE
    found["tolerance"] = TOLERANCE
    print(f"(c) {found}", flush=True)
    return found


def markdown(results: dict) -> str:
    steps = results["steps"]
    lines = [f"GPU check ({results['setting']}), {results['machine']}, Keras backend {results['keras_backend']}:", ""]
    lines += ["| step | what | figure | goal |", "| --- | --- | --- | --- |"]
    for challenge, found in steps.get("a", {}).items():
        outcome = found.get("verdict") or found.get("problem", "")[:80]
        figure = f"{found.get('seconds', '-')} s, {outcome} on {found.get('device')}"
        goal = f"at most {found['goal_s']:.0f} s" if found.get("goal_s") else ""
        lines.append(f"| (a) | `grade submit` {challenge} | {figure} | {goal} |")
    b = steps.get("b", {})
    for key, what in (("sequential", "one at a time"), ("concurrent", "at once")):
        found = b.get(key)
        if found:
            rate = f"{found.get('per_minute')} gradings/min ({found.get('graded')} in {found.get('seconds')} s)"
            lines.append(f"| (b) | {found.get('jobs')} {what} | {rate} | |")
    if b.get("ratio") is not None:
        lines.append(f"| (b) | ratio | **x{b['ratio']}** | at least x{THROUGHPUT_GOAL:.0f} |")
    c = steps.get("c", {})
    if "auto" in c:
        auto, cpu = c["auto"], c["cpu"]
        figure = (
            f"{auto.get('verdict')} {auto.get('test_accuracy')} on {auto.get('device')}, "
            f"{cpu.get('verdict')} {cpu.get('test_accuracy')} on cpu, difference {c.get('difference')}"
        )
        lines.append(f"| (c) | auto against cpu | {figure} | same verdict, within {TOLERANCE} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="every grading small (CI, 2 CPU cores)")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT") or REPO / "bench" / "gpu" / "out"))
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--challenges", nargs="+", choices=CHALLENGES)
    parser.add_argument("--concurrent", type=int, help="gradings at once in (b) (default: 8, tiny: 2)")
    parser.add_argument("--budget-s", type=float, default=450.0, help="stop starting steps after this long")
    args = parser.parse_args()
    args.concurrent = args.concurrent or (2 if args.tiny else 8)
    if args.challenges is None:
        args.challenges = ["fashion"] if args.tiny else list(CHALLENGES)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="grader-gpu-check-") as tmp:
        run = Run(args, Path(tmp))
        for name, step in (("a", step_a), ("b", step_b), ("c", step_c)):
            if run.time_left() < 20:
                run.results["steps"][name] = {"problem": "skipped: the run's time budget is spent"}
                continue
            run.results["steps"][name] = step(run)
    run.results["seconds"] = round(time.monotonic() - run.started, 1)
    (args.out / "gpu_results.json").write_text(json.dumps(run.results, indent=1))
    (args.out / "gpu_results.md").write_text(markdown(run.results))
    print(markdown(run.results))
    return 1 if problems(run.results) else 0


def problems(results: dict) -> list[str]:
    """What did not run (not a goal missed: that is a figure)."""
    found = []
    for name, step in results["steps"].items():
        for what, value in [(name, step)] + [(f"{name} {k}", v) for k, v in step.items() if isinstance(v, dict)]:
            if isinstance(value, dict) and value.get("problem"):
                found.append(f"{what}: {value['problem'][:200]}")
    return found


if __name__ == "__main__":
    sys.exit(main())
