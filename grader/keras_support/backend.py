"""Everything that differs between Keras backends (TensorFlow, JAX, PyTorch), in one place.

The rest of the grader is backend-neutral: it calls these functions. Backend libraries are
imported only inside the functions, and only the one that Keras is actually using.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from grader import config
from grader.core import launch

DEVICES = config.DEVICES

# Environment variables a child or the parent needs to honour a device choice. Set before
# the backend is imported: none of the backends can hide a GPU afterwards.
_CPU_ONLY_ENV = {"CUDA_VISIBLE_DEVICES": "-1", "JAX_PLATFORMS": "cpu"}
_QUIET_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "ABSL_MIN_LOG_LEVEL": "3", "GRPC_VERBOSITY": "ERROR"}
# The grader and the submission share one GPU: JAX must not grab 75% of its memory up front,
# nor TensorFlow all of it.
_SHARED_GPU_ENV = {"XLA_PYTHON_CLIENT_PREALLOCATE": "false", "TF_FORCE_GPU_ALLOW_GROWTH": "true"}


@contextmanager
def quiet_native_logs() -> Iterator[None]:
    """Silence what native code writes to stderr (TensorFlow's start-up lines) while importing.

    TF 2.21 prints them before its log settings apply, so no environment variable helps.
    What was written is replayed if the import fails.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            sys.stderr.write(sink.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


_import_lock = threading.Lock()


def import_keras() -> Any:
    """Import Keras (and its backend) quietly. Safe to call from several threads at once."""
    with _import_lock:  # a half-imported keras is in sys.modules too: wait for the whole
        if "keras" not in sys.modules:
            with quiet_native_logs():
                if backend_name() == "numpy":  # grade check: without JAX and pyplot until used
                    from grader.keras_support.slim_import import import_numpy_keras

                    import_numpy_keras()
                else:
                    import keras  # noqa: F401
            keep_tensorflow_out()
        return sys.modules["keras"]


def keep_tensorflow_out() -> None:
    """Under JAX or PyTorch, stop Keras from importing TensorFlow just to ask whether it is there.

    Keras 3.15's serialize_keras_object (every model.save, every get_config round trip) checks
    `tf.available`, which imports TensorFlow when it is installed: 2 seconds and its start-up
    lines in every process, for an isinstance test that cannot succeed without TensorFlow
    objects. Marking the lazy module unavailable answers it without the import; everything
    else in Keras that really needs TensorFlow still imports it on first use.
    """
    if backend_name() == "tensorflow" or "tensorflow" in sys.modules:
        return
    try:
        from keras.src.utils import module_utils
    except ImportError:  # another Keras layout: nothing to do
        return
    lazy = getattr(module_utils, "tensorflow", None)
    if lazy is not None and getattr(lazy, "_available", "missing") is None:
        lazy._available = False


# The module each backend needs, and the extra that installs it (pip install "cnn-grader[jax]").
BACKEND_MODULES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch", "numpy": "numpy"}


def backend_name() -> str:
    """The backend Keras will use, found the way Keras finds it, without importing Keras:
    $KERAS_BACKEND, then "backend" in $KERAS_HOME/keras.json (default ~/.keras), then tensorflow."""
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    try:
        with open(os.path.join(home, "keras.json"), encoding="utf-8") as handle:
            import json

            backend = json.load(handle).get("backend")
    except (OSError, ValueError, AttributeError):
        return "tensorflow"
    return backend if isinstance(backend, str) and backend else "tensorflow"


def missing_backend() -> str | None:
    """Why the chosen backend cannot run (not installed), with the command that fixes it; None if it can."""
    import importlib.util

    name = backend_name()
    module = BACKEND_MODULES.get(name)
    if module is None:
        return (
            f"unknown Keras backend {name!r} (from $KERAS_BACKEND or keras.json): use one of "
            f"{', '.join(BACKEND_MODULES)}"
        )
    if importlib.util.find_spec(module) is None:
        extra = "" if name == "numpy" else f': pip install "cnn-grader[{name}]"'
        return f"the {name} backend is chosen but {module} is not installed{extra}"
    return None


# `grade check` trains nothing: the child only imports the file, preprocesses a few images and
# builds the model, and the trainer only rebuilds it. Keras' numpy backend does both and imports
# in about a third of TensorFlow's time, which is most of what a check waits for. Files for which
# that could change what the learner hears keep the chosen backend (see check_backend).
FAST_CHECK_BACKEND = "numpy"
CHECK_BACKEND_ENV = "GRADER_CHECK_BACKEND"  # "fast" (the default) or "chosen": checks on the chosen backend
# What a submit's preprocess() may name for its child to get the fast backend (describe_backend).
_PLAIN_MODULES = frozenset({"numpy", "math"})


def check_backend(source: str) -> str:
    """The backend `grade check` describes and rebuilds this submission with.

    Keras' numpy backend (FAST_CHECK_BACKEND), except where it could change the checks, so that
    `grade check` and `grade submit` tell a learner the same things (grader/submission/source.py):
    - the file imports a backend library itself (tf.nn.relu as an activation, tf.image in
      preprocess(): they behave as on that backend only), or imports in a way a reader cannot
      follow (__import__, importlib.import_module, exec);
    - the file trains at its top level (a notebook's model.fit cell), or in what the grader
      calls (a build_model() that fits its model before returning it): the numpy backend cannot
      train, and the learner must hear what `grade submit` says (that the file was still
      running; or nothing, since the trainer trains afresh);
    - the numpy backend cannot load here (Keras' numpy backend needs jax installed);
    - the host asked for the chosen backend ($GRADER_CHECK_BACKEND=chosen).
    """
    return FAST_CHECK_BACKEND if _fast_reading(source) is not None else backend_name()


def describe_backend(source: str) -> str:
    """The backend a `grade submit`'s sandboxed child imports and describes this submission with.

    The trainer always trains on the chosen backend; the child only builds the model (its config
    is the same on every backend) and runs preprocess(), whose output the model trains on. So
    the child gets Keras' numpy backend, which imports in a third of TensorFlow's time, where
    check_backend would give it and preprocess() computes with NumPy alone: where it calls Keras
    or a backend, the numpy backend could round differently, and the chosen one is kept.
    """
    reading = _fast_reading(source)
    if reading is not None and reading.computes_with_only("preprocess", _PLAIN_MODULES):
        return FAST_CHECK_BACKEND
    return backend_name()


def _fast_reading(source: str) -> Any:
    """The file read (a grader.submission.source.SourceReading) where check_backend's rules allow
    the fast backend; None where they do not. ValueError: a bad $GRADER_CHECK_BACKEND."""
    import importlib.util

    from grader.submission.source import SourceReading

    wanted = os.environ.get(CHECK_BACKEND_ENV, "fast").strip().lower()
    if wanted not in ("fast", "chosen"):
        raise ValueError(f"${CHECK_BACKEND_ENV} is {wanted!r}: use fast (the default) or chosen")
    if wanted == "chosen" or backend_name() == FAST_CHECK_BACKEND or importlib.util.find_spec("jax") is None:
        return None
    try:
        reading = SourceReading.of(source)
    except (SyntaxError, ValueError):
        return None  # reported as a syntax error before anything runs
    if reading.imports_a_backend() or reading.trains_at_top_level() or reading.trains_when_called():
        return None
    return reading


def device_env(device: str) -> dict[str, str]:
    env = {**_QUIET_ENV, **_SHARED_GPU_ENV}
    if device == "cpu":
        env.update(_CPU_ONLY_ENV)
    return env


def trains_on_cpu(device: str) -> bool:
    """Whether a trainer for `device` trains on the CPU: asked to, or "auto" on a machine without
    an NVIDIA GPU (a look at its device node: nothing is imported)."""
    return device == "cpu" or (device == "auto" and not os.path.exists("/dev/nvidiactl"))


# A batch sets these for each grading it runs (grader/batch/): how many CPU threads it may use,
# and which share of a GPU's memory, so that gradings sharing a machine or a GPU do not starve
# each other. Not GRADER_* names: the trainer's environment drops those, and it needs them.
GPU_MEMORY_FRACTION_ENV = "CNN_GRADER_GPU_MEMORY_FRACTION"


def resource_env(*, cpu_threads: int | None = None, gpu_memory_fraction: float | None = None) -> dict[str, str]:
    """Environment variables that bound one grading's threads and GPU memory, for every backend.

    TensorFlow reads TF_NUM_*_THREADS, PyTorch and the BLAS libraries OMP_NUM_THREADS; JAX's CPU
    client has no thread setting, so a batch also pins each grading to its own cores (affinity).
    GPU memory: JAX's allocator fraction; TensorFlow grows on demand (_SHARED_GPU_ENV); PyTorch
    reads the fraction in `bound_gpu_memory`.
    """
    env: dict[str, str] = {}
    if cpu_threads is not None:
        threads = str(max(1, cpu_threads))
        env.update(
            OMP_NUM_THREADS=threads,
            MKL_NUM_THREADS=threads,
            TF_NUM_INTRAOP_THREADS=threads,
            TF_NUM_INTEROP_THREADS=str(min(2, max(1, cpu_threads))),
        )
    if gpu_memory_fraction is not None:
        if not 0 < gpu_memory_fraction <= 1:
            raise ValueError(f"a GPU memory fraction is between 0 and 1, not {gpu_memory_fraction}")
        fraction = f"{gpu_memory_fraction:.3f}"
        env.update({"XLA_PYTHON_CLIENT_MEM_FRACTION": fraction, GPU_MEMORY_FRACTION_ENV: fraction})
    return env


def bound_gpu_memory() -> None:
    """PyTorch: cap this process's share of the GPU at the batch's fraction (after Keras is imported)."""
    fraction = os.environ.get(GPU_MEMORY_FRACTION_ENV)
    if not fraction or backend_name() != "torch":
        return
    import torch

    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            torch.cuda.set_per_process_memory_fraction(float(fraction), index)


def configure_process(device: str) -> None:
    """Apply a device choice to this process (call before Keras is imported)."""
    # The sandboxed child has a HOME of its own: it must not fall back to another keras.json.
    os.environ["KERAS_BACKEND"] = backend_name()
    for key, value in device_env(device).items():
        if key in _QUIET_ENV or key in _SHARED_GPU_ENV:
            os.environ.setdefault(key, value)  # a host who wants the logs can still have them
        else:
            os.environ[key] = value


def gpu_names() -> list[str]:
    """The GPUs the active backend can see (imports the backend)."""
    name = backend_name()
    try:
        if name == "tensorflow":
            with quiet_native_logs():
                import tensorflow as tf
            return [d.name for d in tf.config.list_physical_devices("GPU")]
        if name == "jax":
            import jax

            return [str(d) for d in jax.devices() if d.platform == "gpu"]
        if name == "torch":
            import torch

            return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except Exception:  # a broken GPU stack means: no GPU
        return []
    return []


# GPUs the fresh processes saw, per (backend, CUDA_VISIBLE_DEVICES): gpu_names_from_a_fresh_process
_GPUS_SEEN: dict[tuple[str, str | None], list[str]] = {}


def gpu_names_from_a_fresh_process(timeout_s: float = 120.0) -> list[str]:
    """gpu_names(), asked of a short-lived process, for the grading parent.

    The parent forks its sandboxed child and its trainer: a backend imported there first would
    have its threads running at those forks (JAX warns that this can deadlock, once per grading),
    and the parent otherwise never imports a backend. The environment, and with it the backend
    and the GPUs visible, is the parent's.
    """
    key = (backend_name(), os.environ.get("CUDA_VISIBLE_DEVICES"))
    if key not in _GPUS_SEEN:  # a batch worker grades many: GPUs once seen are not asked for again
        names = _ask_a_fresh_process_for_gpus(timeout_s)
        if not names:
            return []  # asked again next time: a probe that timed out once must not stop a whole batch
        _GPUS_SEEN[key] = names
    return list(_GPUS_SEEN[key])


def _ask_a_fresh_process_for_gpus(timeout_s: float) -> list[str]:
    code = "import json; from grader.keras_support.backend import gpu_names; print(json.dumps(gpu_names()))"
    try:
        done = subprocess.run(
            launch.python_code(code),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env=launch.trusted_environment(_QUIET_ENV),
        )
        names = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else []
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError):  # no answer means: no GPU
        return []
    return [str(name) for name in names] if isinstance(names, list) else []


def describe_device() -> str:
    gpus = gpu_names()
    return f"gpu ({', '.join(gpus)})" if gpus else "cpu"


def make_deterministic(seed: int) -> None:
    """Seed Python, NumPy and the backend; on TensorFlow also ask for deterministic kernels."""
    import keras

    keras.utils.set_random_seed(seed)
    if backend_name() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    elif backend_name() == "torch":
        import torch

        torch.use_deterministic_algorithms(True, warn_only=True)


def prepare_for_training(model: Any) -> None:
    """Settings that make fit() faster and leave every trained weight the same.

    On TensorFlow: XLA makes these small conv nets 1.6-12x slower on CPU, so it stays off there;
    and fit() runs STEPS_PER_EXECUTION batches per call into the compiled train step, where each
    call costs Python and callback overhead (bitwise the same weights, bench/results.md). The
    learner's callbacks never run here (the trainer has its own, per epoch), so seeing a batch
    hook every 16 batches changes nothing they measure.
    PyTorch's Keras trainer refuses more than one step per execution, and JAX's was not measured.
    """
    if backend_name() != "tensorflow":
        return
    if not gpu_names():
        model.jit_compile = False
    model.steps_per_execution = config.STEPS_PER_EXECUTION


def training_inputs(x: Any, y: Any, *, batch_size: int, seed: int, shuffle: bool) -> dict[str, Any]:
    """Keyword arguments for model.fit / evaluate feeding (x, y).

    On TensorFlow, Keras wraps numpy arrays in a tf.data pipeline whose autotuner stalls for
    seconds whenever an iterator ends (each epoch); a pipeline of our own with autotuning off
    avoids that. The other backends take the arrays directly.
    """
    if backend_name() != "tensorflow":
        return {"x": x, "y": y, "batch_size": batch_size, "shuffle": shuffle}
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        dataset = dataset.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size).prefetch(2)
    options = tf.data.Options()
    options.autotune.enabled = False
    options.deterministic = True
    # shuffle=False only tells Keras not to shuffle again: the dataset already does.
    return {"x": dataset.with_options(options), "shuffle": False}


def inference_inputs(x: Any, *, batch_size: int) -> dict[str, Any]:
    """Keyword arguments for model.predict on the array `x`: on TensorFlow a pipeline without
    autotuning, as for training (the same outputs, bitwise; 5.4 s against 3.1 s for 22,000
    Fashion-MNIST images on 2 cores), elsewhere the array itself."""
    if backend_name() != "tensorflow":
        return {"x": x, "batch_size": batch_size}
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    options.deterministic = True
    return {"x": tf.data.Dataset.from_tensor_slices(x).batch(batch_size).prefetch(2).with_options(options)}


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape a result (only those already imported)."""
    versions = {"python": sys.version.split()[0]}
    for module in ("keras", "numpy", "tensorflow", "jax", "torch"):
        if module in sys.modules:
            versions[module] = getattr(sys.modules[module], "__version__", "unknown")
    return versions
