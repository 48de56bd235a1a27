"""The child process: the only place where a submission's code runs, always in the sandbox.

    python -m grader.describe.sandbox.child --preload keras      (then the job's path on stdin)

It imports Keras first (trusted code, before the job is known: the parent or a warm helper
starts it ahead), then reads the path of its job from stdin; nothing of the submission is
in its box before that.

It only *describes* the submission; it trains nothing. It imports the file and records,
stage by stage, in `child_result.json` in its work folder (after every stage, so a crash or
a kill still leaves the stages that finished):

- what preprocess() returned, as .npy files: for the probe images and, to train, for the
  training and validation images (it never has the test split);
- build_model()'s model as Keras' own serialised config, and its compile config;
- for each synthetic epoch log of the callback probe, whether the callbacks asked to stop.

Nothing here is trusted: the parent validates the config against an allow-list and the
trusted trainer (grader/train/trainer.py) rebuilds, initialises and trains the model
itself, with no learner code in its process.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from grader.describe.sandbox.stages import (
    RESULT_FILE,
    Recorder,
    StageFailed,
    _hint_for,
    explain,
    guarded,
    load_module,
    run_stages,
)

MAX_CALLBACK_NAMES = 10  # the report names at most this many
MAX_CALLBACKS = 100  # more than any course uses; a longer list (or an endless generator) is refused
# preprocess() output files, by the split of the images they were made from.
PREPROCESSED_FILES = {"probe": "probe_out.npy", "train": "train_out.npy", "validation": "validation_out.npy"}


# --------------------------------------------------------------------------- stages


def import_submission(path: Path) -> Any:
    module = load_module(path)
    missing = [
        name for name in ("preprocess", "build_model", "make_callbacks") if not callable(getattr(module, name, None))
    ]
    if missing:
        raise StageFailed(
            "import",
            f"the file does not define {', '.join(missing)}()",
            "keep the functions of the challenge file, with their names unchanged (`grade docs contract`)",
        )
    return module


def run_preprocess(module: Any, images: Any, input_shape: list[int], scale: float, submission: Path) -> Any:
    import numpy as np

    out = guarded("preprocess", "preprocess()", submission, lambda: module.preprocess(images.copy()))
    try:
        out = np.asarray(out)
    except Exception as exc:
        raise StageFailed(
            "preprocess", f"preprocess() returned something that is not an array: {exc}", _hint_for("preprocess")
        ) from None
    if out.ndim == 0 or len(out) != len(images):
        raise StageFailed(
            "preprocess",
            f"preprocess() returned {out.shape}, one row per image expected ({len(images)})",
            _hint_for("preprocess"),
        )
    return out


def build(module: Any, submission: Path) -> Any:
    import keras

    model = guarded("build_model", "build_model()", submission, module.build_model)
    if not isinstance(model, keras.Model):
        raise StageFailed(
            "build_model",
            f"build_model() returned {type(model).__name__}, not a keras Model",
            "end build_model() with `return model`",
        )
    if not model.built:
        raise StageFailed(
            "build_model", "the model does not know its input shape", "start the model with keras.Input(shape=...)"
        )
    return model


def accuracy_log_keys(model: Any) -> list[str]:
    """The keys under which Keras would log accuracy for this model: its compiled metrics' names
    (metrics=['acc'] logs 'acc'), else 'accuracy'."""
    from grader.train.modelconfig import ACCURACY_METRICS, metric_name

    try:
        metrics = (model.get_compile_config() or {}).get("metrics") or []
    except Exception:
        metrics = []
    return [n for n in map(metric_name, metrics) if n in ACCURACY_METRICS] or ["accuracy"]


def callback_list(returned: Any) -> list[Any]:
    """What make_callbacks() returned, as a list of at most MAX_CALLBACKS; a StageFailed that says
    what it returned instead (one callback not wrapped in a list is the usual slip)."""
    import keras

    if returned is None:
        return []
    try:
        if isinstance(returned, keras.callbacks.Callback):
            name = type(returned).__name__[:60]
            raise StageFailed(
                "callbacks",
                f"make_callbacks() returned one {name}, not a list of callbacks",
                f"wrap it in a list: return [{name}(...)], as the challenge file shows",
            )
        if not isinstance(returned, (list, tuple)):
            raise StageFailed(
                "callbacks",
                f"make_callbacks() returned {type(returned).__name__[:60]}, not a list of callbacks",
                _hint_for("callbacks"),
            )
        listed = list(itertools.islice(returned, MAX_CALLBACKS + 1))
    except StageFailed:
        raise
    except BaseException:  # a hostile list subclass: what it returned is not a plain list
        raise StageFailed(
            "callbacks", "make_callbacks() returned something that cannot be read as a list", _hint_for("callbacks")
        ) from None
    if len(listed) > MAX_CALLBACKS:
        raise StageFailed(
            "callbacks", f"make_callbacks() returned more than {MAX_CALLBACKS} callbacks", _hint_for("callbacks")
        )
    return listed


def probe_callbacks(module: Any, model: Any, plans: list[dict[str, Any]], submission: Path) -> dict[str, Any]:
    """For each plan, fresh callbacks from make_callbacks(plan's target) are shown its epoch logs
    the way fit() shows them; whether they asked to stop after each epoch is recorded, nothing else."""
    keys = accuracy_log_keys(model)
    stops: list[list[bool]] = []
    count = 0
    try:
        for plan in plans:
            target = plan["target"]

            # A def, not a lambda: mypy cannot type a lambda whose argument has a default (this plan's target).
            def make_callbacks(target: Any = target) -> Any:
                return module.make_callbacks(target)

            callbacks = guarded("callbacks", "make_callbacks()", submission, make_callbacks)
            callbacks = callback_list(callbacks)
            count = max(count, len(callbacks))
            answers: list[bool] = []
            stops.append(answers)
            model.stop_training = False
            for callback in callbacks:
                callback.set_model(model)
                callback.on_train_begin({})
            for epoch, shown in enumerate(plan["logs"]):
                logs = {
                    **dict.fromkeys(keys, shown["accuracy"]),
                    "loss": shown["loss"],
                    **{f"val_{key}": shown["val_accuracy"] for key in keys},
                    "val_loss": shown["val_loss"],
                }
                model.stop_training = False
                for callback in callbacks:
                    callback.on_epoch_begin(epoch, {})
                for callback in callbacks:
                    callback.on_epoch_end(epoch, dict(logs))
                answers.append(bool(model.stop_training))
    except StageFailed:
        raise
    except BaseException as exc:
        failure = explain("callbacks", "a callback's on_epoch_end()", exc, submission)
        return {"count": count, "stops": stops, "error": failure.message}
    finally:
        model.stop_training = False
    return {"count": count, "stops": stops, "error": None}


def list_callbacks(module: Any, target: float, submission: Path) -> dict[str, Any]:
    """The class names of the callbacks make_callbacks() returns, or why it failed: never a stage
    failure, since a challenge without a callback check does not use them."""
    try:
        callbacks = callback_list(module.make_callbacks(target))
        names = [str(type(callback).__name__) for callback in callbacks[:MAX_CALLBACK_NAMES]]
    except StageFailed as failure:
        return {"count": 0, "names": [], "responses": [], "error": failure.message}
    except BaseException as exc:  # SystemExit and KeyboardInterrupt included: nothing escapes
        return {
            "count": 0,
            "names": [],
            "responses": [],
            "error": explain("callbacks", "make_callbacks()", exc, submission).message,
        }
    return {"count": len(callbacks), "names": names, "responses": [], "error": None}


def describe_model(model: Any) -> dict[str, Any]:
    """The model as data: Keras' serialised config and compile config (validated by the parent)."""
    import keras

    described: dict[str, Any] = {
        "config": keras.saving.serialize_keras_object(model),
        "compile": None,
        "output_shape": list(model.output_shape[1:]) if isinstance(model.output_shape, tuple) else None,
    }
    if model.compiled and getattr(model, "optimizer", None) is not None:
        described["compile"] = model.get_compile_config()
    # Round-trip through JSON here: anything that is not plain data fails in the child, not later.
    return json.loads(json.dumps(described, default=_not_data))


def _not_data(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not plain data")


def save_preprocessed(
    module: Any, split: str, images: Any, job: dict[str, Any], workdir: Path, submission: Path
) -> Any:
    import numpy as np

    out = run_preprocess(module, images, job["input_shape"], job["input_scale"], submission)
    if not np.issubdtype(out.dtype, np.number) or out.dtype.kind == "c":
        raise StageFailed(
            "preprocess", f"preprocess() returned {out.dtype} values, not numbers", _hint_for("preprocess")
        )
    np.save(workdir / PREPROCESSED_FILES[split], out, allow_pickle=False)
    return out


def preload(what: str) -> float:
    """Import what the job will need before it is known ("keras" or "none"); the seconds it took.

    A failure is not reported here: the "keras" stage imports again and records it."""
    started = time.perf_counter()
    if what == "keras":
        try:
            from grader.keras_support import backend

            backend.import_keras()
        except BaseException:
            pass
    return time.perf_counter() - started


def wait_for_job() -> str:
    """The job's path, one line on stdin; then stdin is /dev/null, as it is for the submission."""
    line = sys.stdin.readline().strip()
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    return line


def main(job_path: str, preloaded_s: float = 0.0) -> int:
    job = json.loads(Path(job_path).read_text())
    if job["mode"] == "functions":  # plain NumPy functions, no Keras: grader/kinds/functions/child.py
        from grader.kinds.functions.child import run_functions_job

        return run_functions_job(job)
    workdir = Path(job["workdir"])
    submission = Path(job["submission"]).resolve()
    recorder = Recorder(workdir / RESULT_FILE)

    def stages() -> None:
        from grader.keras_support import backend

        t = time.perf_counter()
        backend.import_keras()  # before the submission, so its `import keras` prints nothing
        recorder.stage_done("keras", preloaded_s + time.perf_counter() - t)
        t = time.perf_counter()
        module = guarded("import", "importing the file", submission, lambda: import_submission(submission))
        recorder.stage_done("import", time.perf_counter() - t)

        import numpy as np

        # preprocess, build_model and the callbacks do not depend on one another: each runs even
        # when another failed, so an unfinished file gets an explanation for every TODO at once.
        inputs = Path(job_path).parent
        t = time.perf_counter()
        splits = ("probe", "train", "validation") if job["mode"] == "train" else ("probe",)
        with recorder.stage_may_fail("preprocess"):
            for split in splits:
                images = np.load(inputs / f"{split}_images.npy", allow_pickle=False)
                save_preprocessed(module, split, images, job, workdir, submission)
                del images
            recorder.set("preprocessed", {split: PREPROCESSED_FILES[split] for split in splits})
            recorder.stage_done("preprocess", time.perf_counter() - t)

        backend.make_deterministic(job["seed"])
        t = time.perf_counter()
        model = None
        with recorder.stage_may_fail("build_model"):
            model = build(module, submission)
            recorder.set(
                "model", guarded("build_model", "describing the model", submission, lambda: describe_model(model))
            )
            recorder.stage_done("build_model", time.perf_counter() - t)
        import keras

        t = time.perf_counter()
        if job.get("callback_probe") is not None:
            with recorder.stage_may_fail("callbacks"):
                # Without the learner's model, a stand-in one still lets the callbacks be exercised.
                target = model if model is not None else keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
                recorder.set("callbacks", probe_callbacks(module, target, job["callback_probe"], submission))
                recorder.stage_done("callbacks", time.perf_counter() - t)
        else:
            # This challenge grades no callback and the trainer runs none of the learner's: only
            # see whether make_callbacks() returns any, so that the report can say they are unused.
            recorder.set("callbacks", list_callbacks(module, job["target_accuracy"], submission))
            recorder.stage_done("callbacks", time.perf_counter() - t)

        if recorder.doc["failure"] is not None:
            assert recorder.first_failure is not None  # stage_may_fail records both at once
            raise recorder.first_failure

    return run_stages(recorder, stages)


if __name__ == "__main__":
    # Flush and exit hard: a submission's atexit hooks or threads must not hang the child.
    preloaded_s = preload(sys.argv[sys.argv.index("--preload") + 1] if "--preload" in sys.argv else "none")
    job_path = wait_for_job()
    code = main(job_path, preloaded_s) if job_path else 0  # no job: the parent discarded this child
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
