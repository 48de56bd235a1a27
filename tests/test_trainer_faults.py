"""The trusted trainer's own faults are the grader's problem: "not graded", never a failed submission."""

from __future__ import annotations

import json

import pytest

from grader.core.facts import SubmissionFacts
from grader.submission.files import NotGraded
from grader.train import trainer
from grader.train.runner import TrainerOutcome, TrainerProcess
from grader.train.step import JobFolder, collect
from tests.grading import send_job, write_tiny_build_job


def test_a_trainer_that_cannot_read_its_job_request_says_so_and_is_not_a_graded_failure():
    # What a parent of another grader version sends (the path alone, no JSON): the trainer refuses
    # it with its own exit code, and the grading is "not graded", not a crashed submission.
    process = TrainerProcess.start("cpu")
    try:
        code = send_job(process, "/tmp/some-job-folder\n")
        head, tail = process.output.text()
    finally:
        process.close()
    assert code == trainer.EXIT_UNREADABLE_JOB
    assert "cannot read its job request" in head + tail
    with pytest.raises(NotGraded, match="could not read its job"):
        collect(SubmissionFacts(), TrainerOutcome(returncode=code), epochs=1, deadline_s=60.0, train=True)


def test_an_unexpected_error_in_the_trainer_is_the_graders_fault():
    # A job without a key the trainer reads (a job writer of another version): the trainer's code
    # raises where no model could make it, and says it is its own fault.
    folder = JobFolder()
    process = TrainerProcess.start("cpu")
    try:
        write_tiny_build_job(folder)
        job = json.loads((folder.path / trainer.JOB_FILE).read_text())
        del job["precision"]
        (folder.path / trainer.JOB_FILE).write_text(json.dumps(job))
        assert send_job(process, trainer.job_request(folder.path, trainer.budget_clock())) == 0
        failure = json.loads((folder.path / trainer.FAILURE_FILE).read_text())
    finally:
        process.close()
        folder.remove()
    assert failure["stage"] == trainer.GRADER_FAULT_STAGE and "KeyError" in failure["message"]
    facts = SubmissionFacts()
    with pytest.raises(NotGraded, match="the grader's trainer failed, not the submission"):
        collect(facts, TrainerOutcome(failure=failure, returncode=0), epochs=1, deadline_s=60.0, train=False)
    assert facts.failure is None


def test_a_models_own_failure_is_still_graded():
    failure = {"stage": "build_model", "message": "the model cannot be rebuilt from its config", "hint": "h"}
    facts = SubmissionFacts()
    collect(facts, TrainerOutcome(failure=failure, returncode=0), epochs=1, deadline_s=60.0, train=False)
    assert facts.failure.stage == "build_model"
