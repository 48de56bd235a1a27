"""The live service's costs, measured in one run on this machine (bench/results.md):

1. upload to queued: the time of `POST /api/submissions` until its 201 (N uploads from N learners),
   median and 95th percentile;
2. the service's overhead on one grading: a file uploaded and followed until graded, against
   `grade submit` of the same file with the same spec and profile, alternating, medians (goal:
   at most 1.1x);
3. the page's time to show a change: from the moment a grading is recorded (graded_at in the
   database) until an open board page in Chromium shows the new row, with no reload.

    .venv/bin/python bench/serve_vs_submit.py [--profile quick] [--runs 3] [--uploads 50]

Needs bubblewrap, Debian's chromium and the datasets ($GRADER_DATA_DIR or ../shared/datasets).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.serving import GRADE, learner_links, start_server, status, submit, token_of, wait_for  # noqa: E402

SOLUTION = ROOT / "solutions" / "fashion.py"


def write_host(folder: Path, profile: str, learners: int) -> Path:
    folder.mkdir(parents=True)
    (folder / "roster.csv").write_text("learner,name\n" + "".join(f"l{i},Learner {i}\n" for i in range(learners)))
    host_file = folder / "challenge.toml"
    host_file.write_text(
        f"""[serve]
title = "Bench"
opens = 2026-01-01T00:00:00Z
closes = 2099-01-01T00:00:00Z
daily_cap = 50
roster = "roster.csv"

[[challenges]]
name = "fashion"
profile = "{profile}"
"""
    )
    return host_file


def graded(server, token, submission):
    answer = status(server, token, submission)
    return answer if answer["status"] in ("graded", "failed", "infrastructure") else None


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--uploads", type=int, default=50)
    args = parser.parse_args()
    data_dir = Path(os.environ.get("GRADER_DATA_DIR", ROOT.parent / "shared" / "datasets"))
    work = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    try:
        host_file = write_host(work / "host", args.profile, max(args.uploads, 2))
        server = start_server(host_file, data_dir, lease_s=60)
        links = learner_links(server)
        tokens = [token_of(links[f"l{i}"]) for i in range(max(args.uploads, 2))]

        # 2. overhead on one grading, alternating with grade submit (l0's uploads)
        served, local = [], []
        for run in range(args.runs):
            started = time.perf_counter()
            submission = submit(server, tokens[0], SOLUTION)
            answer = wait_for(
                lambda sid=submission: graded(server, tokens[0], sid), limit_s=1800, what="the grading", every_s=0.1
            )
            served.append(time.perf_counter() - started)
            assert answer["status"] == "graded", answer
            started = time.perf_counter()
            subprocess.run(
                [*GRADE, "submit", str(SOLUTION), "--profile", args.profile, "--out", str(work / f"local-{run}"),
                 "--data-dir", str(data_dir)],
                check=False, capture_output=True, cwd=work,
            )  # fmt: skip
            local.append(time.perf_counter() - started)
            print(f"run {run + 1}: service {served[-1]:.1f} s, grade submit {local[-1]:.1f} s", flush=True)

        # 3. the board page's time to show a change (l1's upload)
        from playwright.sync_api import sync_playwright

        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        with sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page()
            page.goto(f"{server.url}/board/fashion")
            rows_before = page.locator("#board td.learner").count()
            submission = submit(server, tokens[1], SOLUTION)
            for _ in range(36000):
                if page.locator("#board td.learner").count() > rows_before:
                    shown_at = dt.datetime.now(dt.timezone.utc)
                    break
                page.wait_for_timeout(20)
            browser.close()
        with server.db() as db:
            graded_at = db.execute("SELECT graded_at FROM submissions WHERE id = ?", (submission,)).fetchone()[0]
        page_delay = (shown_at - dt.datetime.fromisoformat(graded_at)).total_seconds()

        # 1. upload to queued: one upload from each learner, one after another
        latencies = []
        small = work / "fashion.py"
        small.write_text(SOLUTION.read_text())
        for token in tokens[: args.uploads]:
            started = time.perf_counter()
            submit(server, token, small)
            latencies.append(time.perf_counter() - started)
        server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    ratio = statistics.median(served) / statistics.median(local)
    print(f"profile {args.profile}, {args.runs} alternating runs")
    print(f"grading through the service: median {statistics.median(served):.1f} s; grade submit: median "
          f"{statistics.median(local):.1f} s; ratio {ratio:.3f} (goal: at most 1.1)")  # fmt: skip
    print(f"upload to queued, {len(latencies)} uploads: median {statistics.median(latencies) * 1000:.0f} ms, "
          f"p95 {percentile(latencies, 0.95) * 1000:.0f} ms")  # fmt: skip
    print(f"board page shows a recorded grading after {page_delay * 1000:.0f} ms (polled every 20 ms)")


if __name__ == "__main__":
    main()
