"""What a machine lacks to grade, installed from wheels brought along; prints the Python to grade with.

    python bench/gpu/prepare.py --wheels DIR --venv DIR [--always]

Where every module the kit imports to grade a .py submission is importable, it prints this
Python and changes nothing (unless --always). Else it makes a virtual environment at --venv
that also sees this Python's own packages (the GPU machine's JAX, PyTorch and NumPy: a .pth file
names this Python's site-packages, which works where this Python is itself a virtual
environment, as on the GPU machines, where `--system-site-packages` would see the base Python's
only), installs the wheels of --wheels into it without the network, checks again, and prints the
environment's Python. A module still missing ends it with a message that names it and how to
bring it (bench/gpu/wheels.sh).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

# What `grade submit` and `grade batch` import to grade a .py file (notebooks need more: not here).
NEEDED = ("keras", "numpy", "PIL", "click", "rich", "matplotlib", "jinja2", "pydantic", "platformdirs", "packaging",
          "tenacity", "h5py", "optree", "ml_dtypes", "pyseccomp")  # fmt: skip


def missing_modules(python: str) -> list[str]:
    """The modules of NEEDED that `python` cannot import."""
    probe = (
        f"import importlib.util, sys\nprint(' '.join(m for m in {NEEDED!r} if importlib.util.find_spec(m) is None))\n"
    )
    done = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True)
    return done.stdout.split()


def make_venv(venv: Path, wheels: Path) -> str:
    """A venv that sees this Python's packages after its own, with the wheels installed into it."""
    import site
    import sysconfig

    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    own = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    machine = [*site.getsitepackages(), sysconfig.get_paths()["purelib"]]
    (Path(own) / "machine-packages.pth").write_text("\n".join(dict.fromkeys(machine)) + "\n")
    found = sorted(str(path) for path in wheels.glob("*.whl")) if wheels.is_dir() else []
    if found:  # this Python's pip installs into the venv (--prefix): the venv has no pip of its own
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
             "--no-warn-script-location", "--prefix", str(venv), *found],
            check=True,
        )  # fmt: skip
    return str(python)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wheels", type=Path, required=True)
    parser.add_argument("--venv", type=Path, required=True)
    parser.add_argument("--always", action="store_true", help="make the venv even when nothing is missing")
    args = parser.parse_args()
    missing = missing_modules(sys.executable)
    if not missing and not args.always:
        print(sys.executable)
        return
    if missing:
        print(f"prepare: this machine lacks {', '.join(missing)}: installing from {args.wheels}", file=sys.stderr)
    python = make_venv(args.venv, args.wheels)
    still = missing_modules(python)
    if still:
        sys.exit(
            f"prepare: {', '.join(still)} still missing: bring their wheels in {args.wheels} "
            "(bench/gpu/wheels.sh makes them where there is a network)"
        )
    print(python)


if __name__ == "__main__":
    main()
