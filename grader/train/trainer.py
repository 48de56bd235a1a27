"""The trusted trainer: builds and trains a validated model; runs no learner code at all.

    python -m grader.train.trainer        (reads one job request from stdin: job_request())

It starts while the sandboxed child is still describing the submission, imports Keras, and
then waits for its job on stdin (the parent closes stdin when there is nothing to train).
A job folder, private to the grader, holds:

    job.json            seed, epochs, batch size, the stop rule, precision, "build", "train" or "evaluate"
    model.json          the model config and compile config (validated: grader/train/modelconfig.py)
    train_x.npy ...     what the learner's preprocess() returned for the training and validation
                        images (checked by the parent), and the labels (the grader's own)

and it writes there: facts.json (the built model's layers, shapes, parameters, compile
settings), progress.jsonl (one line per epoch, with an estimate of the whole run), batch.json (where
the current epoch is, rewritten at most twice a second, for a progress bar), checkpoint.keras
(the model after the last complete epoch, so that a run stopped by its deadline is still graded),
training.json, model.keras, or failure.json. After training, it evaluates the saved model on the
images the parent left there (grader/train/evaluation.py): outputs only, the labels stay with
the parent.

Time: the job carries the training budget, and the parent sends, with the job's folder, the
instant its deadline started (CLOCK_MONOTONIC, the same clock in every process): the trainer may
still be importing Keras when the job arrives, and that wait counts against the budget on both
sides. After every epoch the trainer checks whether one more epoch (as long as the longest so
far, its checkpoint included) still fits; when it does not, it stops there, on its own, with
every finished epoch kept, rather than being killed half-way through the next.

The model is rebuilt from its config after seeding, so its initial weights come from the
seed; it is compiled with the validated optimizer, loss and metrics; it trains with the
grader's epochs, batch size and data, and stops early only through the grader's own callback.
"""

from __future__ import annotations

import copy
import json
import math
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from grader.core.text import keras_cause
from grader.train import evaluation
from grader.train.precision import FLOAT32, with_precision
from grader.train.rehearsal import TrainingFailed, fit_failed, rehearse, save

JOB_FILE = "job.json"
MODEL_FILE = "model.json"
FACTS_FILE = "facts.json"
PROGRESS_FILE = "progress.jsonl"
BATCH_FILE = "batch.json"
BATCH_EVERY_S = 0.5  # how often batch.json is rewritten: a bar needs no more, and the run stays as fast
batch_clock = time.monotonic  # what BATCH_EVERY_S is measured with (a test's clock replaces it)
budget_clock = time.monotonic  # what the budget is counted with, here and in the parent (grader/train/runner.py)
TRAINING_FILE = "training.json"
FAILURE_FILE = "failure.json"
TRAINED_MODEL_FILE = "model.keras"
CHECKPOINT_FILE = "checkpoint.keras"
# Of the budget, what stopping early keeps in hand: saving the model, and a slower epoch than any so far.
BUDGET_RESERVE = 0.05
# The trainer's own faults, never the learner's: the job request could not be read (a parent of
# another grader version, say), or the trainer's code raised what it does not expect.
EXIT_UNREADABLE_JOB = 3
GRADER_FAULT_STAGE = "grader"


def job_request(folder: Path, started: float) -> str:
    """The line the parent sends: the job's folder, and the instant (budget_clock) its deadline started."""
    return json.dumps({"folder": str(folder), "started": started}) + "\n"


def read_job_request(line: str) -> tuple[Path, float]:
    request = json.loads(line)
    return Path(request["folder"]), float(request["started"])


def next_epoch_fits(*, spent_s: float, longest_epoch_s: float, budget_s: float) -> bool:
    """Whether one more epoch, as long as the longest so far, ends inside the budget with its reserve."""
    return spent_s + longest_epoch_s <= budget_s * (1 - BUDGET_RESERVE)


def build_model(described: dict[str, Any], seed: int, precision: str = FLOAT32, *, compile: bool = True) -> Any:
    """The model from its validated config, initialised from the seed, computing in `precision`,
    compiled as validated (unless `compile` is False)."""
    import keras

    from grader.keras_support import backend

    backend.make_deterministic(seed)
    try:
        # A copy: Keras consumes parts of the config it rebuilds, and the trainer builds it twice.
        config = copy.deepcopy(described["config"])
        model = keras.saving.deserialize_keras_object(with_precision(config, precision), safe_mode=True)
    except Exception as exc:
        cause = keras_cause(exc)
        from grader.train.modelconfig import HINT as hint  # pure data, no Keras: cheap to import here

        raise TrainingFailed(
            "build_model", f"the model cannot be rebuilt from its config: {cause}", hint, traceback.format_exc()[-4000:]
        ) from None
    if not isinstance(model, keras.Model) or not model.built:
        raise TrainingFailed(
            "build_model", "the rebuilt model has no input shape", "start the model with keras.Input(shape=...)"
        )
    if compile and described.get("compile") is not None:
        try:
            model.compile_from_config(described["compile"])
        except Exception as exc:
            raise TrainingFailed(
                "build_model",
                f"the model cannot be compiled as described: {keras_cause(exc)}",
                "compile with a built-in optimizer, loss and metrics",
                traceback.format_exc()[-4000:],
            ) from None
    return model


def weights_not_from_the_seed(model: Any, other: Any) -> str | None:
    """The first weight of `model` that is the same when built under another seed although it is
    not a constant (nor a scaled identity): a weight that came from somewhere other than the seed.

    The config allows only seeded initializers with scalar settings (modelconfig.py); this is the
    check behind that rule, for any way around it that the allow-list did not foresee.
    """
    import numpy as np

    for mine, theirs in zip(model.weights, other.weights, strict=False):
        first, second = np.asarray(mine), np.asarray(theirs)
        if first.dtype.kind not in "fc" or first.shape != second.shape or first.size < 2:
            continue  # integer states (a layer's own seed generator), scalars
        if not np.array_equal(first, second):
            continue  # drawn from the seed
        if np.all(first == first.flat[0]):
            continue  # Zeros, Ones, Constant(x)
        if first.ndim == 2 and first.shape[0] == first.shape[1]:
            diagonal = np.diagonal(first)
            if np.all(diagonal == diagonal[0]) and np.count_nonzero(first - np.diag(diagonal)) == 0:
                continue  # Identity(gain)
        return str(getattr(mine, "path", None) or getattr(mine, "name", "a weight"))
    return None


def check_initial_weights(model: Any, other: Any) -> None:
    """Refuse a model whose initial weights do not all come from the seed: `other` is the same
    config built under another seed (see above)."""
    found = weights_not_from_the_seed(model, other)
    if found is not None:
        raise TrainingFailed(
            "build_model",
            f"the initial weights of {found} do not come from the grader's seed",
            "let Keras initialise every weight (built-in initializers with single-number "
            "settings); weights trained or set elsewhere are not accepted",
        )


def check_size(facts: Any, *, max_params: int | None, max_activations: int | None) -> None:
    """Refuse, before any training, a model bigger than the challenge allows, naming the layer."""
    if max_activations is not None:
        for layer in facts.layers:
            values = math.prod(d for d in layer.output if d is not None) if layer.output else 0
            if values > max_activations:
                shape = "x".join(str(d) for d in layer.output)
                raise TrainingFailed(
                    "build_model",
                    f"layer {layer.name!r} ({layer.type}) outputs {shape} = "
                    f"{values:,} values per image, more than the {max_activations:,} this "
                    f"challenge allows",
                    "make that layer's output smaller: fewer filters, less upsampling or padding, or pool earlier",
                )
    if max_params is not None and facts.total_params > max_params:
        biggest = max(facts.layers, key=lambda layer: layer.params, default=None)
        where = f"; the largest layer is {biggest.name!r} ({biggest.type}, {biggest.params:,})" if biggest else ""
        raise TrainingFailed(
            "build_model",
            f"the model has {facts.total_params:,} parameters, more than the "
            f"{max_params:,} this challenge allows{where}",
            "make the model smaller: pool before Flatten, or use fewer units or filters",
        )


def stop_callback(metric: str, threshold: float | None) -> Any:
    """The grader's own early stop: at `threshold` of `metric` (None: never)."""
    import keras

    class StopAtThreshold(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            value = (logs or {}).get(metric)
            if threshold is not None and value is not None and float(value) >= threshold:
                self.model.stop_training = True

    return StopAtThreshold()


def progress_callback(path: Path, epochs: int, budget_s: float | None = None, job_started: float | None = None) -> Any:
    """One JSON line per epoch, after its checkpoint is saved; stops on a NaN loss, and when the
    next epoch would not fit in the budget (`budget_s`, counted on budget_clock from `job_started`)."""
    import keras

    checkpoint = path.parent / CHECKPOINT_FILE
    batch_file = path.parent / BATCH_FILE

    class ProgressWriter(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.nan_loss = False
            self.started = time.perf_counter()
            self.epoch_started = self.started
            self.longest_epoch = 0.0
            self.stopped_for_time: dict[str, float] | None = None
            self.epoch = 0
            self.batch_written = -math.inf  # the first batch is shown at once

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.epoch_started = time.perf_counter()
            self.epoch = epoch

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            loss = (logs or {}).get("loss")
            if loss is not None and not math.isfinite(float(loss)):
                self.nan_loss = True
                self.model.stop_training = True
            now = batch_clock()
            if now - self.batch_written >= BATCH_EVERY_S:
                self.batch_written = now
                evaluation.write_json(
                    batch_file,
                    {
                        "epoch": self.epoch + 1,
                        "epochs": epochs,
                        "batch": batch + 1,
                        "steps": self.params.get("steps"),
                        **{k: float(v) for k, v in (logs or {}).items()},
                    },
                )

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            now = time.perf_counter()
            tmp = checkpoint.with_name("checkpoint.tmp.keras")
            save(self.model, tmp)
            os.replace(tmp, checkpoint)
            # The next epoch ends with a checkpoint too: it belongs to the epoch's cost.
            self.longest_epoch = max(self.longest_epoch, time.perf_counter() - self.epoch_started)
            done = epoch + 1
            per_epoch = (now - self.started) / done
            line = {
                "epoch": done,
                "epochs": epochs,
                "seconds": round(now - self.started, 3),
                "estimated_total_s": round(per_epoch * epochs, 1),
                **{k: float(v) for k, v in (logs or {}).items()},
            }
            with open(path, "a") as handle:
                handle.write(json.dumps(line) + "\n")
            if budget_s is not None and done < epochs:
                assert job_started is not None  # a budget counts from the job's start: the trainer passes both
                spent = budget_clock() - job_started
                if not next_epoch_fits(spent_s=spent, longest_epoch_s=self.longest_epoch, budget_s=budget_s):
                    self.stopped_for_time = {
                        "after_epoch": done,
                        "epoch_seconds": round(self.longest_epoch, 1),
                        "budget_s": budget_s,
                    }
                    self.model.stop_training = True

    return ProgressWriter()


def train(model: Any, job: dict[str, Any], folder: Path) -> dict[str, Any]:
    import numpy as np

    from grader.keras_support import backend

    if not model.compiled:
        raise TrainingFailed(
            "train",
            "the model is not compiled",
            "call model.compile(optimizer=..., loss=..., metrics=['accuracy']) in build_model()",
        )
    data = {
        name: (
            np.load(folder / f"{name}_x.npy", allow_pickle=False),
            np.load(folder / f"{name}_y.npy", allow_pickle=False),
        )
        for name in ("train", "validation")
    }
    progress = progress_callback(folder / PROGRESS_FILE, job["epochs"], job.get("budget_s"), job["started"])
    backend.prepare_for_training(model)
    feed = backend.training_inputs(*data["train"], batch_size=job["batch_size"], seed=job["seed"], shuffle=True)
    val_feed = backend.training_inputs(
        *data["validation"], batch_size=job["batch_size"], seed=job["seed"], shuffle=False
    )
    validation = val_feed["x"] if "y" not in val_feed else (val_feed["x"], val_feed["y"])
    callbacks = [stop_callback(job["stop_metric"], job["stop_at"]), progress]
    started = time.perf_counter()
    try:
        history = model.fit(**feed, epochs=job["epochs"], validation_data=validation, verbose=0, callbacks=callbacks)
    except Exception as exc:
        raise fit_failed(exc) from None
    seconds = time.perf_counter() - started
    if (folder / CHECKPOINT_FILE).is_file():  # saved after the last epoch: the same weights as now
        os.replace(folder / CHECKPOINT_FILE, folder / TRAINED_MODEL_FILE)
    else:
        save(model, folder / TRAINED_MODEL_FILE)
    return {
        "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
        "epochs_run": len(history.history.get("loss", [])),
        "seconds": round(seconds, 3),
        "nan_loss": progress.nan_loss,
        "stopped_for_time": progress.stopped_for_time,
        "versions": backend.library_versions(),
        "device": backend.describe_device(),
    }


def run_job(folder: Path, started: float) -> None:
    """Run the job in `folder`; its budget counts from `started` (budget_clock), as the parent's deadline does."""
    from grader.keras_support.inspect_model import model_facts

    job = json.loads((folder / JOB_FILE).read_text())
    job["started"] = started
    if job["mode"] == "evaluate":  # a model trained earlier (the checkpoint of a run stopped mid-epoch)
        evaluation.run_evaluation(folder, job["evaluate"], TRAINED_MODEL_FILE)
        return
    described = json.loads((folder / MODEL_FILE).read_text())
    try:
        # The other seed's copy first: build_model() then seeds afresh, so the model and every
        # random stream after it are exactly what they were without the check.
        other = build_model(described, job["seed"] + 1, job["precision"], compile=False)
        other_facts = model_facts(other)
        try:  # too big: refused before the second copy is built (its facts still feed the checks)
            check_size(other_facts, max_params=job.get("max_params"), max_activations=job.get("max_activations"))
        except TrainingFailed:
            evaluation.write_json(folder / FACTS_FILE, other_facts.to_dict())
            raise
        model = build_model(described, job["seed"], job["precision"])
        evaluation.write_json(folder / FACTS_FILE, model_facts(model).to_dict())
        check_initial_weights(model, other)
        del other
        if job.get("rehearse"):  # grade check: every step of a submit, on a few images
            rehearse(model, folder)
        if job["mode"] == "train":
            evaluation.write_json(folder / TRAINING_FILE, train(model, job, folder))  # the parent's deadline moves on
            if job.get("evaluate"):
                evaluation.run_evaluation(folder, job["evaluate"], TRAINED_MODEL_FILE)
    except TrainingFailed as failure:
        evaluation.write_json(
            folder / FAILURE_FILE,
            {"stage": failure.stage, "message": failure.message, "hint": failure.hint, "detail": failure.detail},
        )
    except MemoryError:
        evaluation.write_json(
            folder / FAILURE_FILE,
            {
                "stage": "train",
                "message": "the model needs more memory than allowed",
                "hint": "make the model smaller (fewer filters or units, or pool before Flatten)",
                "detail": "",
            },
        )
    except Exception as exc:
        # Every failure a model can cause is caught above. What is left, model_facts() failing
        # on a model that was validated and built included, is the grader's own fault: the
        # learner gets "not graded", not a verdict.
        evaluation.write_json(
            folder / FAILURE_FILE,
            {
                "stage": GRADER_FAULT_STAGE,
                "message": f"{type(exc).__name__}: {exc}",
                "detail": traceback.format_exc()[-4000:],
            },
        )


WARM_UP_FLAG = "--warm-up"


def main() -> int:
    from grader.keras_support import backend

    backend.import_keras()  # while the child is still at work: this is the slow part
    backend.bound_gpu_memory()  # a batch sharing one GPU between gradings (grader/batch/)
    if WARM_UP_FLAG in sys.argv:  # started ahead of its job (the warm helper): time to spare now
        from grader.train.rehearsal import warm_up

        warm_up(Path.cwd())
    return serve_one_job()


def serve_one_job() -> int:
    """Read the job request on stdin and run it (a trainer started for it, or forked by a zygote,
    grader/train/zygote.py)."""
    line = sys.stdin.readline().strip()
    if not line:
        return 0  # nothing to build: the parent closed stdin
    try:
        request = read_job_request(line)
    except (ValueError, KeyError, TypeError):
        print(f"the trainer cannot read its job request: {line[:200]!r}", file=sys.stderr)
        return EXIT_UNREADABLE_JOB
    run_job(*request)
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
