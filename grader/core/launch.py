"""Starting a process of the trusted side: no learner byte on its import path, no secret in it.

The trainer, the batch workers and the warm helper run the grader's own code only. A plain
`python -m grader.x` would put the folder the host runs `grade` from first on `sys.path`, so a
learner's `json.py` beside a submission (or a learner folder named like a module, when
`grade batch .` runs inside the course folder) would be imported there, and would inherit
whatever the host's environment holds, the signing key included. So each such process:

- starts with `python -s -c BOOTSTRAP module args...`: no user site-packages; the bootstrap
  removes the current folder ('' or its path) from `sys.path` before anything is imported,
  and puts the grader's own root last (only where the grader is not installed), so no module
  of the standard library or of site-packages can be shadowed. On Python 3.11 and later
  `PYTHONSAFEPATH=1` keeps the folder off the path from the start as well. (`-I` would do
  the same but also ignores `PYTHONHASHSEED`, which keeps a grading reproducible.)
- runs in a working folder of its own (`private_folder()`), empty and the grader's only;
- gets an environment built from an allow-list (`trusted_environment`): the locale, the
  numeric libraries' and the GPU's settings, and the grader's own non-secret settings. No
  `PYTHONPATH` or `PYTHONSTARTUP`, and never the signing key: only the process that signs
  (the `grade` parent, the batch driver) ever reads it.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

# Variables passed through by name, where the host sets them.
_PASS_NAMES = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TERM",
        "COLUMNS",
        "NO_COLOR",
        "FORCE_COLOR",
        "TMPDIR",
        "LD_LIBRARY_PATH",
        "SSL_CERT_FILE",
        # The grader's own settings that a grading process reads (docs/security.md); no key, no token.
        "GRADER_DATA_DIR",
        "GRADER_CACHE_DIR",
        "GRADER_RUNS_DIR",
        "GRADER_ISOLATION",
        "GRADER_CHECK_BACKEND",
        "GRADER_WARM",
        "GRADER_WARM_IDLE_S",
        "GRADER_DAILY_CAP",
        "CNN_GRADER_GPU_MEMORY_FRACTION",
    }
)
# ...and by prefix: the locale, Keras, the numeric libraries and the GPU runtimes.
_PASS_PREFIXES = (
    "LC_",
    "XDG_",
    "KERAS_",
    "TF_",
    "JAX_",
    "XLA_",
    "CUDA_",
    "NVIDIA_",
    "OMP_",
    "MKL_",
    "OPENBLAS_",
    "TORCH_",
    "RAY_",
)
# Whatever the prefixes admit, a name that looks like a secret never passes.
_SECRET_WORDS = ("KEY", "SECRET", "TOKEN", "PASSWORD", "CREDENTIAL")


def is_secret_name(name: str) -> bool:
    upper = name.upper()
    return any(word in upper for word in _SECRET_WORDS)


def trusted_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a trusted process, from an allow-list of the host's, plus `extra`."""
    env = {
        name: value
        for name, value in os.environ.items()
        if (name in _PASS_NAMES or name.startswith(_PASS_PREFIXES)) and not is_secret_name(name)
    }
    env.update({"PYTHONHASHSEED": "0", "PYTHONUNBUFFERED": "1", "PYTHONNOUSERSITE": "1", "PYTHONSAFEPATH": "1"})
    env.update(extra or {})
    return env


def _grader_root() -> str:
    import grader

    return str(Path(grader.__file__).resolve().parent.parent)


# The first lines of every trusted process: the working folder leaves sys.path before any import
# (os and sys are loaded at start-up, before any folder is searched).
_SAFE_PATH = (
    "import sys, os\n"
    "here = os.getcwd()\n"
    "sys.path[:] = [p for p in sys.path if p not in ('', '.') and os.path.abspath(p) != here]\n"
)
# Then the module. argv: -c MODULE ROOT ARGS...
_BOOTSTRAP = _SAFE_PATH + (
    "module, root = sys.argv[1], sys.argv[2]\n"
    "if root not in sys.path:\n"
    "    sys.path.append(root)\n"
    "sys.argv = [module] + sys.argv[3:]\n"
    "import runpy\n"
    "runpy.run_module(module, run_name='__main__', alter_sys=True)\n"
)


def python_command(module: str, *args: str) -> list[str]:
    """The command line that runs `python -m module args...` as a trusted process."""
    return [sys.executable, "-s", "-c", _BOOTSTRAP, module, _grader_root(), *args]


def python_code(code: str) -> list[str]:
    """The command line that runs `python -c code` as a trusted process (a short probe)."""
    return [sys.executable, "-s", "-c", _SAFE_PATH + f"sys.path.append({_grader_root()!r})\n" + code]


def private_folder(prefix: str = "grader-trusted-") -> Path:
    """An empty folder of the grader's own (0700), to run a trusted process in."""
    return Path(tempfile.mkdtemp(prefix=prefix))


def remove_private_folder(folder: Path | None) -> None:
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
