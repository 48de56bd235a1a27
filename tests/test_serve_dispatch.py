"""The dispatcher's small parts, without grading: where a grading runs, what a learner may read of
a result, the progress a running grading shows."""

from __future__ import annotations

import json
import os

from grader.batch.jobs import Job
from grader.serve import live
from grader.serve.dispatch import Dispatcher, GradingSettings, Progress, keep_report, public_result, read_progress


def dispatcher(tmp_path, workers: int) -> Dispatcher:
    return Dispatcher(store=None, settings=GradingSettings(state_dir=tmp_path, workers=workers), changes=live.Changes())  # type: ignore[arg-type]


def job() -> Job:
    return Job(index=1, learner="ada", path="/x/fashion.py", challenge="fashion", key="k", run_dir="/x/run",
               profile="quick", seed=1, device="cpu")  # fmt: skip


def test_concurrent_gradings_on_this_machine_share_its_cores_instead_of_each_taking_all(tmp_path):
    cores = sorted(os.sched_getaffinity(0))
    two = dispatcher(tmp_path, workers=2)
    first, second = (two.place(job(), f"serve:host:1-{number}") for number in (0, 1))
    if len(cores) >= 2:
        assert set(first.cores).isdisjoint(second.cores)
        assert sorted(first.cores + second.cores) == cores[: len(first.cores) + len(second.cores)]
    assert first.cpu_threads == len(first.cores) and second.cpu_threads == len(second.cores)
    alone = dispatcher(tmp_path, workers=1).place(job(), "serve:host:1-0")
    assert list(alone.cores) == cores and alone.cpu_threads == len(cores)


def test_a_learner_reads_no_host_path_of_their_result(tmp_path):
    document = {"verdict": "passed", "run_dir": "/srv/state/runs/7/job-9/run",
                "submission_path": "/srv/state/runs/7/job-9/fashion.py", "checks": []}  # fmt: skip
    shown = public_result(document, "my_model.py")
    assert "run_dir" not in shown and shown["submission_path"] == "my_model.py"
    assert "/srv/state" not in json.dumps(shown)


def test_the_report_kept_for_the_learner_has_the_services_folders_taken_out(tmp_path):
    state = tmp_path / "state"
    run = state / "runs" / "7" / "job-9" / "run"
    run.mkdir(parents=True)
    (run / "report.html").write_text(f"<p>graded in {run}</p><p>spec {state}/fashion.toml</p>")
    keep_report(run, state, 7)
    kept = (state / "reports" / "7.html").read_text()
    assert str(state) not in kept and "graded in" in kept


def test_the_progress_a_running_grading_shows(tmp_path):
    path = tmp_path / "progress.jsonl"
    progress = Progress()
    assert not read_progress(path, progress) and progress.text() == "running: starting"
    lines = [{"kind": "stage", "stage": "build"}, {"kind": "epoch", "epoch": 1, "epochs": 10}]
    path.write_text(
        "".join(json.dumps(line) + "\n" for line in lines) + '{"kind": "batch", "epo'
    )  # a line being written
    assert read_progress(path, progress)
    assert progress.text() == "running: training, epoch 1/10"
    with path.open("a") as handle:
        handle.write('ch": 2, "epochs": 10, "batch": 30, "steps": 94}\n')
    assert read_progress(path, progress) and progress.text() == "running: training, epoch 2/10, batch 30/94"
    assert not read_progress(path, progress)  # nothing new
    path.write_text(json.dumps({"kind": "epoch", "epoch": "<script>", "epochs": -1}) + "\n")
    read_progress(path, progress)
    assert "<script>" not in progress.text()
