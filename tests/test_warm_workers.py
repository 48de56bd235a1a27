"""Warm workers (grader/batch/warm.py) and the trainer zygote (grader/train/zygote.py).

What a warm worker must keep from a cold grading: the same verdict and figures; a fresh
sandboxed child and a fresh trainer for every grading, the trainer a process of its own that
the grading waits for and kills; nothing of a hostile submission reaching the next grading; a
worker that dies graded again by a fresh one.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from grader.batch.engines import available_cores, core_slots, placed
from grader.batch.inputs import Submission
from grader.batch.jobs import InfrastructureFault, run_job, run_job_in_process
from grader.batch.run import plan
from grader.batch.warm import Slot, WarmWorker, prime_settings
from grader.describe.sandbox import isolation as iso
from grader.describe.sandbox import limits
from grader.describe.sandbox.limits import DEFAULT_LIMITS
from grader.keras_support import backend
from grader.train.step import JobFolder
from grader.train.zygote import TrainerZygote, ZygoteGone
from grader.warm.pool import WarmProcesses
from tests import procfs
from tests.grading import SUBMISSIONS, tiny_spec, write_tiny_build_job

HOSTILE = Path(__file__).parent / "hostile"
needs_sandbox = pytest.mark.skipif(not iso.choose().isolated, reason="batch gradings need a sandbox")

# What differs between two gradings of the same inputs however they ran.
VOLATILE = {"durations", "started_at", "run_dir", "submission_path", "output", "isolation_note"}


def comparable(document: dict) -> dict:
    """The document without what differs between two runs of the same grading (times, paths)."""
    kept = {key: value for key, value in document.items() if key not in VOLATILE}
    kept["checks"] = [  # the training row's message says how many seconds it took
        {k: v for k, v in check.items() if not (check["id"] == "training" and k == "message")}
        for check in document["checks"]
    ]
    return kept


def descendants(pid: int) -> set[int]:
    found, frontier = set(), {pid}
    while frontier:
        children = {int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()}
        frontier = {child for child in children if procfs.parent(str(child)) in frontier} - found
        found |= frontier
    return found


def command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def wait_until(condition, limit_s: float, what: str):
    """Poll `condition` until it is true; a bounded wait (what it waits for, not how long it takes)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.05)
    pytest.fail(f"gave up waiting for {what}")


# --------------------------------------------------------------------------- the zygote


@pytest.fixture
def subreaper():
    """A zygote makes the process that uses it a child subreaper; pytest is one only for the test."""
    yield
    limits.become_subreaper(False)


def test_the_zygote_forks_a_fresh_trainer_for_each_grading_as_a_child_of_the_grading(subreaper):
    zygote = TrainerZygote.start("cpu")
    trainers = []
    try:
        trainers = [zygote.trainer(), zygote.trainer()]
        first, second = trainers
        assert first.process.pid != second.process.pid and first.folder != second.folder
        for trainer in trainers:
            pid = trainer.process.pid
            assert procfs.parent(str(pid)) == os.getpid()  # this process waits for it and reads its status
            assert os.getpgid(pid) == pid  # a session of its own: killing it kills what it starts
            assert os.readlink(f"/proc/{pid}/cwd") == str(trainer.folder)
            assert list(trainer.folder.iterdir()) == [] and (trainer.folder.stat().st_mode & 0o777) == 0o700

        # The first one builds a model and exits: one job, and its folder goes with it.
        folder = JobFolder()
        try:
            write_tiny_build_job(folder)
            outcome = first.run(folder.path, deadline_s=120)
        finally:
            folder.remove()
        assert outcome.returncode == 0 and outcome.failure is None, outcome.output
        assert outcome.facts is not None and outcome.facts["total_params"] == 10
        assert first.folder is None  # removed by close()

        # The second never got a job: closing its stdin ends it, and the zygote lives on.
        second.close()
        assert second.process.returncode == 0 and zygote.alive()
    finally:
        for trainer in trainers:
            trainer.close()
        zygote.close()
    assert not zygote.alive()


def test_a_dead_zygote_gives_way_to_a_trainer_started_on_the_spot(subreaper):
    pool = WarmProcesses(depth=1, follow_last=True, warm_up=False, zygotes=True)
    try:
        pool.trainer("cpu").close()  # the first is started on the spot; the refill starts the zygote
        pool.refill()
        zygote = pool.zygotes[("cpu", None)]
        forked = pool.trainer("cpu")
        forked.close()
        assert pool.forked == 1
        zygote.process.kill()
        zygote.process.wait()
        with pytest.raises(ZygoteGone):
            zygote.trainer()
        started = pool.trainer("cpu")  # not an error: a trainer of its own this time
        assert started.process.poll() is None
        started.close()
        assert pool.forked == 1 and pool.started_cold["trainer"] == 2
        pool.refill()
        assert pool.zygotes[("cpu", None)].alive()  # and a new zygote for the next
    finally:
        pool.close()


# --------------------------------------------------------------------------- warm workers


def plan_jobs(tmp_path: Path, files: dict[str, str]) -> list:
    spec = tiny_spec(tmp_path, "fashion")
    submissions = []
    for learner, text in files.items():
        path = tmp_path / "course" / learner / "fashion.py"
        path.parent.mkdir(parents=True)
        path.write_text(text)
        submissions.append(Submission(learner, path, "fashion"))
    planned = plan(
        submissions,
        spec_path=spec,
        profile="tiny",
        seed=7,
        device="cpu",
        data_dir=None,
        out_dir=tmp_path / "runs",
        isolation=None,
    )
    assert not planned.refused, planned.refused
    cores = core_slots(1, available_cores())[0]
    return [placed(job, cores) for job in planned.jobs]


@pytest.mark.slow
@needs_sandbox
def test_a_warm_worker_grades_job_after_job_as_cold_workers_do_and_a_hostile_one_reaches_nothing(tmp_path):
    ok = (SUBMISSIONS / "fashion_ok.py").read_text()
    # It leaves a daemon behind that would outlive its grading (bounded in time, if nothing killed it).
    hostile = ok + "\n" + (HOSTILE / "setsid_daemon.py").read_text()
    hostile_job, ok_job = plan_jobs(tmp_path, {"mallory": hostile, "ada": ok})

    both = (hostile_job, ok_job)
    cold = {job.learner: run_job_in_process(replace(job, run_dir=job.run_dir + "-cold")) for job in both}
    with WarmWorker(Slot.of(ok_job)) as worker:
        warm = {job.learner: run_job(job, worker.run) for job in both}
        assert worker.started == 1 and worker.graded == 2  # one process graded both

    for learner in ("mallory", "ada"):
        assert warm[learner].result is not None, warm[learner].problem
        assert comparable(warm[learner].result) == comparable(cold[learner].result)
        assert warm[learner].private == cold[learner].private
    assert warm["ada"].result["verdict"] == "passed"
    # Each grading's sandboxed child was started ahead (the first before any job came, the second
    # while the first ran), and each trainer forked by the zygote.
    assert warm["ada"].processes == {
        "handed_over": {"child": 2, "trainer": 0},
        "forked": 2,
        "started_cold": {"child": 0, "trainer": 0},
    }


@pytest.mark.slow
@needs_sandbox
def test_a_warm_worker_killed_mid_grading_leaves_nothing_and_a_fresh_one_grades_again(tmp_path):
    (job,) = plan_jobs(tmp_path, {"ada": (SUBMISSIONS / "fashion_ok.py").read_text()})
    worker = WarmWorker(Slot.of(job))
    outcome: list = []
    try:
        worker.start()
        first = worker.process.pid
        grading = threading.Thread(target=lambda: outcome.append(run_job(job, worker.run)))
        grading.start()
        # Killed once the grading's trainer runs (a process named like the trainer, under the worker).
        wait_until(
            lambda: any("grader.train" in command(pid) for pid in descendants(first)),
            limit_s=120,
            what="the grading's trainer",
        )
        left = descendants(first)
        os.kill(first, signal.SIGKILL)
        grading.join(timeout=600)
        assert not grading.is_alive()
        # Everything it had started (its zygote, the trainer, the sandbox kept ready) died with it.
        wait_until(lambda: all(procfs.state(pid) in (None, "Z") for pid in left), limit_s=60, what="its processes")
    finally:
        worker.close()
    (graded,) = outcome
    assert graded.attempts == 2 and graded.result is not None and graded.result["verdict"] == "passed"
    assert worker.started == 2


@pytest.mark.slow
@needs_sandbox
def test_a_warm_grading_past_its_watchdog_is_stopped_and_its_worker_replaced(tmp_path):
    (job,) = plan_jobs(tmp_path, {"ada": (SUBMISSIONS / "fashion_ok.py").read_text()})
    with WarmWorker(Slot.of(job)) as worker:
        outcome = worker.run(replace(job, watchdog_s=0.5))
        assert "stopped after" in (outcome.problem or "") and worker.process is None
        with pytest.raises(ValueError, match="placed elsewhere"):
            worker.run(replace(job, cores=(), cpu_threads=99))


def test_a_worker_that_dies_before_answering_is_the_machines_fault(tmp_path, monkeypatch):
    (job,) = plan_jobs(tmp_path, {"ada": (SUBMISSIONS / "fashion_ok.py").read_text()})
    worker = WarmWorker(Slot.of(job))
    monkeypatch.setattr(
        "grader.batch.warm.launch.python_command", lambda *args: ["python3", "-c", "import sys; sys.exit(3)"]
    )
    try:
        with pytest.raises(InfrastructureFault, match="exited with code 3"):
            worker.run(job)
    finally:
        worker.close()


def test_a_slot_primes_the_settings_its_challenge_will_ask_for(tmp_path):
    spec = tiny_spec(tmp_path, "fashion")
    settings = prime_settings(Slot("cpu", (0,), 1, prime_spec=str(spec), prime_profile="tiny"))
    assert settings is not None and settings["device"] == "cpu"
    assert settings["limits"] == DEFAULT_LIMITS  # the profile's own sandbox table (the default here)
    assert settings["isolation"] == iso.choose()
    # The backend the child of a file like the skeleton describes with, as a grading will ask.
    assert settings["keras_backend"] == backend.describe_backend((SUBMISSIONS / "fashion_ok.py").read_text())
    assert prime_settings(Slot("cpu", prime_spec=str(spec), prime_profile="no-such-profile")) is None
    assert prime_settings(Slot("cpu")) is None
