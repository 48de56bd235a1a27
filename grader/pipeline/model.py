"""The model kind's chain: data, describe (sandboxed child), train and predict (trusted trainer),
measure, score.

`grade_model` is what grader/pipeline/__init__.py's KINDS calls for a spec of kind "model": it
reads the submission, loads the data, starts the sandboxed child and the trusted trainer, and
turns what they return into facts, checks and the result. Each step below is a small function
over `Run`, the state one grading carries from step to step.
"""

from __future__ import annotations

import dataclasses
import math
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from grader import config
from grader.checks import checked_model, run_checks
from grader.checks.architecture import layer_table
from grader.checks.submission import callback_probe_plans
from grader.core.events import Events
from grader.core.facts import Failure, Metrics, ModelFacts, SubmissionFacts
from grader.core.result import GradeResult
from grader.core.text import clean, learner_output
from grader.describe import step as describe
from grader.describe.sandbox import isolation as iso
from grader.describe.sandbox.runner import ChildRun, StartedChild, run_child
from grader.keras_support import backend
from grader.leaderboard.records import LeaderboardRun
from grader.measure.evaluate import canonical_inputs, evaluated_images, measure
from grader.pipeline.processes import COLD, Processes
from grader.spec import ChallengeSpec, Profile, SpecError
from grader.submission.files import (
    TRAINED_MODEL_FILE,
    NotGraded,
    make_run_dir,
    read_submission,
    syntax_failure,
)
from grader.submission.notebook import NOTEBOOK_SOURCE_FILE
from grader.train import step as training_step
from grader.train.evaluation import BACKEND_PROBLEM, LOAD_PROBLEM, MODEL_PROBLEM, EvaluationJob, EvaluationOutcome
from grader.train.modelconfig import HINT as REBUILD_HINT
from grader.train.rehearsal import REHEARSAL_IMAGES
from grader.train.runner import TrainerOutcome, TrainerProcess

if TYPE_CHECKING:
    from grader.pipeline import Request


@dataclass
class Run:
    """The state one grading carries from step to step."""

    spec: ChallengeSpec
    profile: Profile
    submission: Path
    workdir: Path
    seed: int
    device: str
    isolation: iso.Isolation = iso.Isolation("none")
    data: Any = None
    facts: SubmissionFacts = field(default_factory=SubmissionFacts)
    child: ChildRun | None = None
    trainer: TrainerOutcome | None = None
    evaluated: EvaluationOutcome | None = None  # the trainer's outputs on evaluation_splits' images
    evaluation: Any = None  # grader.measure.evaluate.Evaluation: the figures measured from them
    leaderboard: LeaderboardRun | None = None  # leaderboard mode (grade submit --learner)
    # The Keras backends of the child and of the trainer (None: the chosen one). Keras' numpy
    # backend, where it tells the same, for both in grade check and for the child in grade submit
    # (grader/keras_support/backend.py check_backend, describe_backend).
    child_backend: str | None = None
    trainer_backend: str | None = None
    splits: dict[str, tuple[np.ndarray, np.ndarray]] | None = None  # evaluation_splits(), made once
    public: np.ndarray | None = None  # public_mask() of the test split, made with the splits
    # How the training arrays were made from the raw images, where the grader can reproduce it
    # on the test images (a reshape and one factor); None: images / scale, as the contract says.
    preparation: describe.Preparation | None = None
    processes: Processes = COLD  # started now, or ahead by the warm helper (grader/pipeline/processes.py)


def stratified_take(labels: np.ndarray, limit: int | None) -> np.ndarray:
    """Indices of the first `limit` examples, taking the classes in turn so the subset stays balanced."""
    if limit is None or limit >= len(labels):
        return np.arange(len(labels))
    rank = np.zeros(len(labels), dtype=np.int64)
    for value in np.unique(labels):
        where = np.flatnonzero(labels == value)
        rank[where] = np.arange(len(where))
    order = np.lexsort((labels, rank))  # rank first, then class: cat0, dog0, cat1, dog1, ...
    return np.sort(order[:limit])


def load_data(run: Run, data_dir: Path | None) -> None:
    from grader.data import DataError, load_dataset

    try:
        run.data = load_dataset(run.spec.dataset, data_dir=data_dir)
    except DataError as err:
        raise NotGraded(str(err)) from None


def subset(run: Run, split: str) -> tuple[np.ndarray, np.ndarray]:
    limits = {
        "train": run.profile.train_limit,
        "validation": run.profile.validation_limit,
        "test": run.profile.test_limit,
    }
    data = run.data.split(split)
    keep = stratified_take(data.labels, limits[split])
    return data.images[keep], data.labels[keep]


def child_images(run: Run, train: bool) -> dict[str, np.ndarray]:
    """The images the child may see: a probe batch and, to train, the training and validation
    images. Never the test split, never a label."""
    images, _ = subset(run, "train")
    chosen = {"probe": images[: describe.PROBE_IMAGES]}
    if train:
        chosen["train"] = images
        chosen["validation"] = subset(run, "validation")[0]
    return chosen


def evaluation_splits(run: Run) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The raw images and labels a trained model is measured on: test, validation and (at most
    TRAIN_EVAL_LIMIT of) the training images. Copied out of the dataset once per grading, then
    kept on the run: the trainer's job, the measuring and a checkpoint's evaluation share them."""
    if run.splits is None:
        splits = {name: subset(run, name) for name in ("test", "validation")}
        x, y = subset(run, "train")
        keep = stratified_take(y, config.TRAIN_EVAL_LIMIT)
        splits["train"] = (x[keep], y[keep])
        run.splits = splits
        run.public = _public_mask(run, splits["test"][1])
    return run.splits


def public_mask(run: Run) -> np.ndarray | None:
    """Leaderboard mode: which of the graded test images are of the public half (None: all are)."""
    evaluation_splits(run)
    return run.public


def _public_mask(run: Run, test_labels: np.ndarray) -> np.ndarray | None:
    if run.leaderboard is None:
        return None
    from grader.leaderboard.split import public_test_mask

    return public_test_mask(test_labels, run.spec.name)


def evaluation_job(run: Run) -> EvaluationJob:
    """What the trainer evaluates: every split's raw images, and the report's journey images
    (positions in the graded test images, the public half in leaderboard mode). No labels."""
    from grader.report.html import JOURNEY_POSITIONS
    from grader.report.visual.journey import DEFAULT_FILTER

    splits = evaluation_splits(run)
    graded = splits["test"][0]
    if (mask := public_mask(run)) is not None:
        graded = graded[mask]
    positions = [p for p in JOURNEY_POSITIONS if p < len(graded)]
    prepared = run.preparation or describe.Preparation(run.spec.input_shape, run.spec.input_scale)
    return EvaluationJob(evaluated_images(splits), graded[positions], prepared.shape, prepared.scale, DEFAULT_FILTER)


def start_child(run: Run) -> StartedChild:
    """The sandboxed child, started before the data is loaded: it imports Keras meanwhile."""
    return run.processes.child(isolation=run.isolation, limits=run.profile.sandbox, keras_backend=run.child_backend)


def start_trainer(run: Run) -> TrainerProcess:
    """The trusted trainer, started with the child: it imports Keras while the child works."""
    return run.processes.trainer(run.device, run.trainer_backend)


def describe_and_train(
    run: Run, child: StartedChild, trainer: TrainerProcess, source: str, train: bool, events: Events
) -> None:
    """The sandboxed describe step, then the trusted trainer on what it validated."""
    try:
        described = describe_submission(run, child, source, train)
        if described.model is None:
            return
        will_train = train and run.facts.failure is None and described.preprocessed is not None
        folder = training_step.JobFolder()
        try:
            arrays = None
            if will_train:
                assert described.preprocessed is not None  # part of will_train
                arrays = {
                    "train_x": described.preprocessed["train"],
                    "train_y": subset(run, "train")[1],
                    "validation_x": described.preprocessed["validation"],
                    "validation_y": subset(run, "validation")[1],
                }
                run.preparation = describe.reproduced_preparation(
                    described.preprocessed,
                    {split: subset(run, split)[0] for split in described.preprocessed},
                    run.spec.input_scale,
                )
                run.facts.prepared_as_trained = run.preparation is not None
            callback = run.spec.callback
            folder.write(
                description=described.model,
                mode="train" if will_train else "build",
                seed=run.seed,
                rehearsal=None if train else rehearsal_data(run, described),
                epochs=run.profile.epochs,
                batch_size=run.profile.batch_size,
                stop_metric=callback.metric if callback else "accuracy",
                # Where a correct callback stops, whatever the learner's did: the callback row
                # grades theirs, and nothing that follows from it costs points twice.
                stop_at=run.profile.target_accuracy if callback else None,
                arrays=arrays,
                budget_s=run.profile.time_budget_s if will_train else None,
                precision=run.profile.precision,
                max_params=run.spec.max_params,
                max_activations=run.spec.max_activations,
                evaluation=evaluation_job(run) if will_train else None,
            )
            learner_metrics, unused_compile = described.model.learner_metrics, described.model.unused_compile
            del arrays, described
            if will_train:
                events.on_stage("train")
            deadline = run.profile.time_budget_s if will_train else config.CHECK_TIME_BUDGET_S
            run.trainer = trainer.run(
                folder.path,
                deadline_s=deadline,
                evaluate_s=config.EVALUATE_BUDGET_S if will_train else 0.0,
                on_progress=events.on_epoch,
                on_batch=events.on_batch,
                on_trained=lambda: events.on_stage("evaluate"),
            )
            training_step.collect(
                run.facts, run.trainer, epochs=run.profile.epochs, deadline_s=deadline, train=will_train
            )
            if run.facts.model is not None and run.facts.model.compiled:  # the trainer added its own metrics
                run.facts.model = dataclasses.replace(
                    run.facts.model, metrics=learner_metrics, unused_compile=unused_compile
                )
            if will_train and folder.trained_model.is_file() and run.trainer.training is not None:
                if not model_file_fits(run, folder.trained_model):
                    return
                shutil.copyfile(folder.trained_model, run.workdir / TRAINED_MODEL_FILE)
                run.evaluated = run.trainer.evaluation
            elif will_train and run.facts.timed_out and folder.checkpoint.is_file():
                shutil.copyfile(folder.checkpoint, run.workdir / TRAINED_MODEL_FILE)  # the last complete epoch
        finally:
            folder.remove()
    finally:
        trainer.close()
    evaluate_again_where_needed(run, events)


def rehearsal_data(run: Run, described: describe.Described) -> tuple[np.ndarray, np.ndarray]:
    """What a check's rehearsal trains one step on (grader/train/rehearsal.py): a few probe
    images as preprocess() returned them (as a correct preprocess() would, where it failed), and
    their labels."""
    images, labels = subset(run, "train")
    count = min(REHEARSAL_IMAGES, len(labels))
    if described.probe is not None:
        return described.probe[:count], labels[:count]
    return canonical_inputs(images[:count], run.spec.input_shape, run.spec.input_scale), labels[:count]


def model_file_fits(run: Run, path: Path) -> bool:
    """The trained model file within what the challenge's parameter bound allows (float32 weights
    and an optimizer's two slots each, and room for the config); else a failure, and no copy."""
    allowed = run.spec.max_params * 4 * 3 + 64 * 1024 * 1024
    size = path.stat().st_size
    if size <= allowed:
        return True
    run.facts.failure = Failure(
        "train",
        f"the trained model file is {size:,} bytes, more than the {allowed:,} this challenge allows",
        "make the model smaller",
    )
    return False


def evaluate_again_where_needed(run: Run, events: Events) -> None:
    """What the training trainer could not evaluate, a fresh trainer evaluates: a run killed in
    the middle of an epoch (on its last complete epoch), or a prediction the backend or device
    failed (once more: when ten gradings shared one GPU, XLA's autotuner failed 3 of their ten
    evaluations, docs/measurements.md; a second try costs one model load and one prediction)."""
    if not (run.workdir / TRAINED_MODEL_FILE).is_file():
        return
    cut_short = run.facts.timed_out and run.evaluated is None
    backend_failed = run.evaluated is not None and run.evaluated.problem == BACKEND_PROBLEM
    if cut_short or backend_failed:
        events.on_stage("evaluate")
        run.evaluated = evaluate_checkpoint(run)


def evaluate_checkpoint(run: Run) -> EvaluationOutcome | None:
    """A run killed in the middle of an epoch is graded on its last complete one: the trainer
    that was killed cannot evaluate it, so a fresh one does (it runs no learner code either)."""
    trainer = run.processes.trainer(run.device)
    folder = training_step.JobFolder()
    try:
        folder.write_evaluation(run.workdir / TRAINED_MODEL_FILE, evaluation_job(run))
        return trainer.run(folder.path, deadline_s=config.EVALUATE_BUDGET_S).evaluation
    finally:
        folder.remove()
        trainer.close()


def describe_submission(run: Run, child: StartedChild, source: str, train: bool) -> describe.Described:
    images = child_images(run, train)
    box = child.box
    try:
        describe.prepare_box(box, source, images)
        _, inputs = iso.box_paths(run.isolation, box.work, box.inputs)
        # The callback probe's logs are drawn afresh for each grading (checks/submission.py).
        probe = callback_probe_plans(run.profile.target_accuracy) if run.spec.callback is not None else None
        job = describe.job(
            mode="train" if train else "check",
            submission=f"{inputs}/{describe.SUBMISSION_NAME}",
            seed=run.seed,
            input_shape=run.spec.input_shape,
            scale=run.spec.input_scale,
            target_accuracy=run.profile.target_accuracy,
            probe=probe,
        )
        budget = run.profile.describe_budget_s
        run.child = run_child(job, child=child, timeout_s=budget)
        return describe.collect(
            run.facts,
            run.child,
            box,
            images=images,
            input_shape=run.spec.input_shape,
            scale=run.spec.input_scale,
            budget_s=budget,
            train=train,
            task=run.spec.task,
            num_classes=run.spec.num_classes,
            probe=probe or (),
        )
    finally:
        child.discard()


def measure_trained_model(run: Run, train: bool) -> None:
    """The figures of the trained model, from the outputs the trainer computed and our own labels."""

    if not (train and run.facts.failure is None and (run.workdir / TRAINED_MODEL_FILE).is_file()):
        return
    outcome = run.evaluated
    if outcome is not None and outcome.problem == BACKEND_PROBLEM:
        raise NotGraded(
            f"the {backend.backend_name()} backend failed while evaluating the trained model "
            f"({outcome.message}): that is the host's device or backend, not the submission. Grade "
            f"again; if it happens again, let fewer gradings share the GPU, or use --device cpu"
        )
    if outcome is None or outcome.problem == MODEL_PROBLEM:
        why = (
            outcome.message
            if outcome is not None
            else (
                f"it took longer than {config.EVALUATE_BUDGET_S:.0f} s"
                if run.trainer is not None and run.trainer.timed_out
                else "the trainer stopped before it was done"
            )
        )
        run.facts.failure = Failure(
            "evaluate",
            f"the trained model could not be evaluated: {why}",
            "the model may be too large to run on the test images: make it smaller",
        )
        return
    if outcome.problem == LOAD_PROBLEM:
        run.facts.failure = Failure(
            "load", f"the trained model cannot be loaded again: {outcome.message}", REBUILD_HINT, outcome.message
        )
        return
    splits = evaluation_splits(run)
    mask = public_mask(run)
    if mask is not None:
        assert run.leaderboard is not None  # a public half only in leaderboard mode (_public_mask)
        run.leaderboard.public_images = int(mask.sum())
        run.leaderboard.private_images = int((~mask).sum())
    assert outcome.outputs is not None  # no problem: the trainer wrote the outputs
    run.evaluation = measure(
        outcome.outputs, splits=splits, task=run.spec.task, num_classes=run.spec.num_classes, public_mask=mask
    )
    run.facts.metrics = run.evaluation.metrics
    run.facts.seconds["evaluate"] = outcome.seconds


def score_private_half(run: Run, spec: ChallengeSpec, profile: Profile, train: bool) -> None:
    """Leaderboard mode: the private half's accuracy and points, into run.leaderboard (host only).

    The checks run again with the private accuracy in place of the public one; the learner's
    result keeps the public checks.
    """
    board = run.leaderboard
    assert board is not None  # called in leaderboard mode only: grade_model's run has request.leaderboard
    board.private_accuracy = run.evaluation.private_test_accuracy if run.evaluation is not None else None
    if board.private_accuracy is None or run.facts.metrics is None:
        return  # no test accuracy: both halves earn the same points
    private_facts = replace(
        run.facts,
        metrics=replace(
            run.facts.metrics, test_accuracy=board.private_accuracy, test_images=run.evaluation.private_test_images
        ),
    )
    board.private_score = round(sum(c.points for c in run_checks(spec, profile, private_facts, trained=train)), 2)


def grade_model(result: GradeResult, spec: ChallengeSpec, request: Request) -> Run:
    """A model challenge: data, describe (sandboxed child), train (trusted), evaluate, score."""
    try:
        chosen = spec.profile(request.profile)
    except SpecError as err:
        raise NotGraded(str(err)) from None
    path, train = request.path, request.train
    result.challenge = spec.name
    source, result.submission_sha256 = read_submission(path)
    try:  # Keras' fastest backend to import wherever it tells the same: a check trains nothing,
        # and a submit's child only describes the model and preprocesses
        fast = backend.check_backend(source) if not train else backend.describe_backend(source)
    except ValueError as err:  # a host's bad setting: refused before any data is loaded
        raise NotGraded(str(err)) from None
    # The trainer always imports the backend that trains: a check rehearses one training step there.
    child_backend, trainer_backend = fast, None
    if not train:
        result.backend = fast
    if request.device == "gpu" and not backend.gpu_names_from_a_fresh_process():
        raise NotGraded(f"--device gpu, but the {backend.backend_name()} backend sees no GPU; use --device auto")
    workdir = make_run_dir(request.out_dir, spec.name, result.submission_sha256)
    result.run_dir = str(workdir)
    if path.suffix == ".ipynb":  # what was graded, for the learner to read
        (workdir / NOTEBOOK_SOURCE_FILE).write_text(source, encoding="utf-8")
    run = Run(
        spec,
        chosen,
        path,
        workdir,
        request.seed,
        request.device,
        isolation=request.isolation,
        leaderboard=request.leaderboard,
        child_backend=child_backend,
        trainer_backend=trainer_backend,
        processes=request.processes,
    )
    run.facts.failure = syntax_failure(source, path)
    child = trainer = None
    try:
        if run.facts.failure is None:  # both import Keras while the data loads
            child = start_child(run)
            trainer = start_trainer(run)
        request.events.on_stage("data")
        data_started = time.perf_counter()
        load_data(run, request.data_dir)
        result.durations["data"] = round(time.perf_counter() - data_started, 3)
        result.class_names = list(run.data.class_names)
        if child is not None:
            assert trainer is not None  # started together with the child
            request.events.on_stage("build")
            describe_and_train(run, child, trainer, source, train, request.events)  # the trainer evaluates, too
            measure_trained_model(run, train)
    finally:
        if child is not None:
            child.discard()
        if trainer is not None:
            trainer.close()
    if path.suffix == ".ipynb":
        notebook_lines(run.facts, source)
    request.events.on_stage("score")
    result.checks = run_checks(spec, chosen, run.facts, trained=train)
    if request.leaderboard is not None:
        score_private_half(run, spec, chosen, train)
    fill_result(result, run, spec)
    return run


def notebook_lines(facts: SubmissionFacts, source: str) -> None:
    """A notebook's errors name "cell N, line M", not lines of the converted file."""
    from grader.submission.notebook import cell_lines

    def moved(failure: Failure) -> Failure:
        return dataclasses.replace(failure, message=cell_lines(source, failure.message))

    facts.failure = None if facts.failure is None else moved(facts.failure)
    facts.stage_failures = {stage: moved(f) for stage, f in facts.stage_failures.items()}
    if facts.callbacks is not None and facts.callbacks.error:
        facts.callbacks = dataclasses.replace(facts.callbacks, error=cell_lines(source, facts.callbacks.error))


def _finite(values: list[Any]) -> list[float | None]:
    return [v if isinstance(v, (int, float)) and math.isfinite(v) else None for v in values]


def fill_result(result: GradeResult, run: Run, spec: ChallengeSpec) -> None:
    facts = run.facts
    result.precision = run.profile.precision
    result.versions = backend.library_versions()
    if run.trainer is not None and run.trainer.training is not None:
        result.device = clean(run.trainer.training.get("device", "unknown"), 200)
        result.versions = {clean(k, 40): clean(v, 40) for k, v in run.trainer.training.get("versions", {}).items()}
    if run.child is not None:
        result.output = learner_output(run.child.output)
        (run.workdir / "output.log").write_text(result.output)
        result.durations["child"] = round(run.child.seconds, 3)
    if run.trainer is not None:
        result.durations["trainer"] = round(run.trainer.seconds, 3)
    for stage, seconds in facts.seconds.items():
        result.durations.setdefault(stage, seconds)  # the parent's own measurements above win
    if facts.failure is not None:
        result.failure = {
            "stage": facts.failure.stage,
            "message": facts.failure.message,
            "hint": facts.failure.hint,
            "detail": facts.failure.detail,
        }
    if facts.training is not None:
        result.history = {k: _finite(v) for k, v in facts.training.history.items()}
    elif run.trainer is not None:
        partial = run.trainer.progress
        keys = [k for k in (partial[0] if partial else {}) if k not in ("epoch", "epochs", "seconds")]
        result.history = {k: _finite([line.get(k) for line in partial]) for k in keys}
    if facts.metrics is not None:
        m: Metrics = facts.metrics
        result.metrics = {
            "test_accuracy": m.test_accuracy,
            "train_accuracy": m.train_accuracy,
            "validation_accuracy": m.validation_accuracy,
            "gap": m.gap,
        }
        for split, images in (("test", m.test_images), ("train", m.train_images), ("validation", m.validation_images)):
            if images is not None:
                result.metrics[f"{split}_images"] = images[1]  # how many images each figure is of
        result.confusion_matrix = run.evaluation.confusion
    if facts.model is not None:
        result.model_summary = summary(facts.model)
        compared = checked_model(spec, facts)[0]
        assert compared is not None  # checked_model finds a model in facts.model
        result.layer_table = layer_table(spec.architecture, spec.input_shape, compared)
    result.expected_summary = [
        {"type": layer.type, "output": list(layer.output) if layer.output else None, "params": layer.params}
        for layer in spec.architecture.main.layers
    ]


def summary(model: ModelFacts) -> list[dict[str, Any]]:
    return [
        {"name": layer.name, "type": layer.type, "output": list(layer.output), "params": layer.params}
        for layer in model.layers
    ]
