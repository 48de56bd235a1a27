"""The child process: the only place where a submission's code runs.

    python -m grader.sandbox.child JOB.json

It imports the submission, runs its functions stage by stage, and writes what happened to
`child_result.json` in its working folder after every stage, so a crash or a kill still
leaves the stages that finished. It writes the built model (`model_built.keras`) and, after
training, the trained one (`model.keras`). It is given training and validation data only.

Nothing here is trusted by the parent except as the learner's own claims: the parent
re-loads the saved model, re-derives the architecture and measures accuracy itself.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import sys
import time
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

RESULT_FILE = "child_result.json"
PROGRESS_FILE = "progress.jsonl"
BUILT_MODEL_FILE = "model_built.keras"
TRAINED_MODEL_FILE = "model.keras"


class StageFailed(Exception):
    def __init__(self, stage: str, message: str, hint: str = "", detail: str = ""):
        super().__init__(message)
        self.stage, self.message, self.hint, self.detail = stage, message, hint, detail


class Recorder:
    """Keeps the child's result document and rewrites it after every change."""

    def __init__(self, path: Path):
        self.path = path
        self.doc: dict[str, Any] = {"stages": {}, "failure": None, "stage_failures": {}}
        self.first_failure: StageFailed | None = None

    def set(self, key: str, value: Any) -> None:
        self.doc[key] = value
        self.flush()

    @contextmanager
    def stage_may_fail(self, stage: str) -> Iterator[None]:
        """Record a StageFailed of this stage and carry on; the first one becomes the run's failure."""
        try:
            yield
        except StageFailed as failure:
            record = {"stage": failure.stage, "message": failure.message, "hint": failure.hint,
                      "detail": failure.detail}
            self.doc["stage_failures"][stage] = record
            if self.doc["failure"] is None:
                self.first_failure = failure
                self.doc["failure"] = record
            self.flush()

    def stage_done(self, stage: str, seconds: float) -> None:
        self.doc["stages"][stage] = round(seconds, 3)
        self.flush()

    def flush(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.doc, indent=1))
        os.replace(tmp, self.path)


# --------------------------------------------------------------------------- explaining errors


def _learner_frame(exc: BaseException, submission: Path, with_code: bool = True) -> str:
    """' (line 42: model.add(...))' for the deepest frame inside the submission file, if any."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename) == submission]
    if not frames:
        return ""
    frame = frames[-1]
    return f" (line {frame.lineno}: {(frame.line or '').strip()})" if with_code else f" (line {frame.lineno})"


def explain(stage: str, call: str, exc: BaseException, submission: Path) -> StageFailed:
    detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-4000:]
    # A TODO's own raise line only repeats the TODO's text: its line number is enough.
    where = _learner_frame(exc, submission, with_code=not isinstance(exc, NotImplementedError))
    if isinstance(exc, NotImplementedError):
        todo = str(exc) or "a TODO"
        return StageFailed(stage, f"{call}: {todo} is not done yet{where}",
                           "replace the `raise NotImplementedError(...)` line with your code", detail)
    if isinstance(exc, SystemExit):
        return StageFailed(stage, f"{call} called sys.exit({exc.code!r}){where}",
                           "remove sys.exit()/exit()/quit(): the grader calls your functions itself", detail)
    if isinstance(exc, ModuleNotFoundError):
        return StageFailed(stage, f"{call}: module {exc.name!r} is not available{where}",
                           "use only keras, numpy and the standard library", detail)
    message = f"{call} raised {type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
    return StageFailed(stage, message.rstrip(": ") + where, _hint_for(stage), detail)


def _hint_for(stage: str) -> str:
    return {
        "import": "run `python yourfile.py` to see the error, and keep work out of the module's top level",
        "preprocess": "preprocess(images) gets a uint8 array of images; return them reshaped and scaled",
        "build_model": "build_model() must build and compile the model and return it",
        "callbacks": "make_callbacks(target_accuracy) must return a list of keras callbacks",
        "train": "check that the model's input matches what preprocess() returns and that the loss fits the labels",
    }.get(stage, "")


def guarded(stage: str, call: str, submission: Path, fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except StageFailed:
        raise
    except BaseException as exc:  # SystemExit and KeyboardInterrupt included: nothing escapes
        raise explain(stage, call, exc, submission) from None


# --------------------------------------------------------------------------- stages


def load_module(path: Path) -> Any:
    """Run the learner's file as the module `submission`, its folder importable (for helpers beside it)."""
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location("submission", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules["submission"] = module
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def import_submission(path: Path) -> Any:
    module = load_module(path)
    missing = [name for name in ("preprocess", "build_model", "make_callbacks") if not callable(getattr(module, name, None))]
    if missing:
        raise StageFailed("import", f"the file does not define {', '.join(missing)}()",
                          "keep the functions of the challenge file, with their names unchanged (docs/contract.md)")
    return module


def run_preprocess(module: Any, images: Any, input_shape: list[int], scale: float, submission: Path) -> Any:
    import numpy as np

    out = guarded("preprocess", "preprocess()", submission, lambda: module.preprocess(images.copy()))
    try:
        out = np.asarray(out)
    except Exception as exc:
        raise StageFailed("preprocess", f"preprocess() returned something that is not an array: {exc}",
                          _hint_for("preprocess")) from None
    if out.ndim == 0 or len(out) != len(images):
        raise StageFailed("preprocess", f"preprocess() returned {out.shape}, one row per image expected ({len(images)})",
                          _hint_for("preprocess"))
    return out


def preprocess_facts(out: Any, images: Any, input_shape: list[int], scale: float) -> dict[str, Any]:
    import numpy as np

    canonical = images.astype("float32").reshape((-1, *input_shape)) / scale
    numeric = np.issubdtype(out.dtype, np.number)
    diff = None
    if numeric and out.shape == canonical.shape:
        diff = float(np.max(np.abs(out.astype("float64") - canonical)))
    return {
        "shape": list(out.shape),
        "dtype": str(out.dtype),
        "min": float(out.min()) if numeric else math.nan,
        "max": float(out.max()) if numeric else math.nan,
        "max_abs_diff": diff,
    }


def build(module: Any, submission: Path) -> Any:
    import keras

    model = guarded("build_model", "build_model()", submission, module.build_model)
    if not isinstance(model, keras.Model):
        raise StageFailed("build_model", f"build_model() returned {type(model).__name__}, not a keras Model",
                          "end build_model() with `return model`")
    if not model.built:
        raise StageFailed("build_model", "the model does not know its input shape",
                          "start the model with keras.Input(shape=...)")
    return model


def probe_callbacks(module: Any, model: Any, target: float, accuracies: list[float], submission: Path) -> dict[str, Any]:
    """Show fresh callbacks synthetic epoch logs and record whether each asked to stop."""
    callbacks = guarded("callbacks", "make_callbacks()", submission, lambda: module.make_callbacks(target))
    callbacks = list(callbacks or [])
    responses = []
    try:
        for accuracy in accuracies:
            model.stop_training = False
            for callback in callbacks:
                callback.set_model(model)
                callback.on_epoch_end(0, {"accuracy": accuracy, "loss": 1.0 - accuracy})
            responses.append([accuracy, bool(model.stop_training)])
    except BaseException as exc:
        failure = explain("callbacks", "a callback's on_epoch_end()", exc, submission)
        return {"count": len(callbacks), "responses": responses, "error": failure.message}
    finally:
        model.stop_training = False
    return {"count": len(callbacks), "responses": responses, "error": None}


def train(module: Any, model: Any, job: dict[str, Any], workdir: Path, recorder: Recorder, submission: Path) -> None:
    import keras
    import numpy as np

    from grader import backend

    if not model.compiled:
        raise StageFailed("train", "the model is not compiled",
                          "call model.compile(optimizer=..., loss=..., metrics=['accuracy']) in build_model()")
    data = {name: (np.load(workdir / f"{name}_x.npy"), np.load(workdir / f"{name}_y.npy"))
            for name in ("train", "validation")}
    shape, scale = job["input_shape"], job["input_scale"]
    x_train = run_preprocess(module, data["train"][0], shape, scale, submission)
    x_val = run_preprocess(module, data["validation"][0], shape, scale, submission)
    callbacks = guarded("callbacks", "make_callbacks()", submission, lambda: module.make_callbacks(job["target_accuracy"]))
    progress = make_progress_writer(workdir / PROGRESS_FILE, job["epochs"])
    backend.prepare_for_cpu(model)
    feed = backend.training_inputs(x_train, data["train"][1], batch_size=job["batch_size"], seed=job["seed"], shuffle=True)
    val_feed = backend.training_inputs(x_val, data["validation"][1], batch_size=job["batch_size"], seed=job["seed"], shuffle=False)
    validation = val_feed["x"] if "y" not in val_feed else (val_feed["x"], val_feed["y"])
    started = time.perf_counter()
    history = guarded("train", "model.fit()", submission, lambda: model.fit(
        **feed, epochs=job["epochs"], validation_data=validation, verbose=0,
        callbacks=[*list(callbacks or []), progress],
    ))
    seconds = time.perf_counter() - started
    recorder.set("training", {
        "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
        "epochs_run": len(history.history.get("loss", [])),
        "seconds": round(seconds, 3),
        "nan_loss": progress.nan_loss,
    })
    keras.saving.save_model(model, workdir / TRAINED_MODEL_FILE)


def make_progress_writer(path: Path, epochs: int) -> Any:
    """A Keras callback that appends one JSON line per epoch and stops on a NaN loss.

    Defined in a function because keras is imported late, only once it is needed.
    """
    import keras

    class ProgressWriter(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.nan_loss = False
            self.started = time.perf_counter()

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            loss = (logs or {}).get("loss")
            if loss is not None and not math.isfinite(float(loss)):
                self.nan_loss = True
                self.model.stop_training = True

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            line = {"epoch": epoch + 1, "epochs": epochs, "seconds": round(time.perf_counter() - self.started, 3),
                    **{k: float(v) for k, v in (logs or {}).items()}}
            with open(path, "a") as handle:
                handle.write(json.dumps(line) + "\n")

    return ProgressWriter()


def run_stages(recorder: Recorder, stages: Callable[[], None]) -> int:
    """Run a child's stages; whatever happens, record why they stopped, how long they took, and the versions."""
    started = time.perf_counter()
    try:
        stages()
    except StageFailed as failure:
        recorder.set("failure", {"stage": failure.stage, "message": failure.message, "hint": failure.hint,
                                 "detail": failure.detail})
    except BaseException as exc:  # a bug of ours or an escape we did not foresee: still report it
        recorder.set("failure", {"stage": "crash", "message": f"{type(exc).__name__}: {exc}", "hint": "",
                                 "detail": traceback.format_exc()[-4000:]})
    recorder.set("seconds", round(time.perf_counter() - started, 3))
    recorder.set("versions", _versions())
    return 0


def main(job_path: str) -> int:
    job = json.loads(Path(job_path).read_text())
    if job["mode"] == "functions":  # plain NumPy functions, no Keras: grader/sandbox/functions_child.py
        from grader.sandbox.functions_child import run_functions_job

        return run_functions_job(job)
    workdir = Path(job["workdir"])
    submission = Path(job["submission"]).resolve()
    recorder = Recorder(workdir / RESULT_FILE)

    def stages() -> None:
        from grader import backend

        backend.import_keras()  # before the submission, so its `import keras` prints nothing
        t = time.perf_counter()
        module = guarded("import", "importing the file", submission, lambda: import_submission(submission))
        recorder.stage_done("import", time.perf_counter() - t)

        import numpy as np

        # preprocess, build_model and the callbacks do not depend on one another: each runs even
        # when another failed, so an unfinished file gets an explanation for every TODO at once.
        t = time.perf_counter()
        probe = np.load(workdir / "probe_x.npy")
        with recorder.stage_may_fail("preprocess"):
            out = run_preprocess(module, probe, job["input_shape"], job["input_scale"], submission)
            recorder.set("preprocess", preprocess_facts(out, probe, job["input_shape"], job["input_scale"]))
            recorder.stage_done("preprocess", time.perf_counter() - t)

        backend.make_deterministic(job["seed"])
        recorder.set("device", backend.describe_device())
        t = time.perf_counter()
        model = None
        with recorder.stage_may_fail("build_model"):
            model = build(module, submission)
            recorder.stage_done("build_model", time.perf_counter() - t)
        import keras

        if model is not None:
            keras.saving.save_model(model, workdir / BUILT_MODEL_FILE)

        if job.get("callback_probe") is not None:
            with recorder.stage_may_fail("callbacks"):
                # Without the learner's model, a stand-in one still lets the callbacks be exercised.
                target = model if model is not None else keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
                recorder.set("callbacks", probe_callbacks(module, target, job["target_accuracy"],
                                                          job["callback_probe"], submission))

        if recorder.doc["failure"] is not None:
            raise recorder.first_failure
        if job["mode"] == "train":
            t = time.perf_counter()
            train(module, model, job, workdir, recorder, submission)
            recorder.stage_done("train", time.perf_counter() - t)

    return run_stages(recorder, stages)


def _versions() -> dict[str, str]:
    from grader import backend

    return backend.library_versions()


if __name__ == "__main__":
    # Flush and exit hard: a submission's atexit hooks or threads must not hang the child.
    code = main(sys.argv[1])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
