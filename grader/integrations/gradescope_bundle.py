"""Gradescope's autograder zip: setup.sh, run_autograder, the spec, the kit and the tested versions.

The kit travels as a small source project (`cnn-grader/`) laid out like the installed wheel: the
`grader` package with the challenge files and dataset manifest in grader/kit/. It is made from
wherever this process imports `grader`, so a host who installed the kit with pip builds the same
zip as one working in a checkout. The reference solutions never go in: learners' files are what
Gradescope grades, and the zip is uploaded to a platform the learners use.

Gradescope's base images differ in their Python (Ubuntu 22.04 has 3.10, 24.04 has 3.12), and the
newest Keras and NumPy have left 3.10 behind. So the zip carries one constraints file per Python
it was tested on (constraints/python3.X.txt): the building environment's own versions, plus the
ones shipped with the kit for other Pythons (grader/integrations/constraints/, proven by
`.ci/run`'s Gradescope step). setup.sh picks the file for the image's Python.
"""

from __future__ import annotations

import os
import stat
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from grader import config

KIT_FOLDER_IN_BUNDLE = "cnn-grader"
SPEC_IN_BUNDLE = "spec.toml"
CONSTRAINTS_FOLDER = "constraints"
# Versions tested on other Pythons than the one building the bundle (`grade gradescope constraints`
# run there writes such a file).
SHIPPED_CONSTRAINTS = Path(__file__).resolve().parent / "constraints"
# The kit's data files, as the wheel ships them (pyproject.toml's package-data).
KIT_DATA = {
    "challenges": ("*.toml", "*.py"),
    "datasets": ("manifest.toml", "*.sha256", "README.md"),
    "docs": ("*.md", "*.json"),
}
BACKEND = "tensorflow"  # Gradescope has no GPU: its CPU build is installed (tensorflow-cpu)

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root and with network access, while it builds the autograder
# image. Written by `grade gradescope bundle` for the challenge {challenge}.
# To try it elsewhere (.ci/run does): AUTOGRADER_DIR=<folder holding source/> PYTHON3=<a python> ./setup.sh
set -euo pipefail
AUTOGRADER="${{AUTOGRADER_DIR:-/autograder}}"
SOURCE="$AUTOGRADER/source"
PYTHON3="${{PYTHON3:-python3}}"

# What the image lacks. bubblewrap is the sandbox; Gradescope's Docker blocks user namespaces,
# so grading falls back to running each submission as an unprivileged uid (docs/security.md),
# and the system Python keeps the runtime readable by that uid.
missing=()
command -v "$PYTHON3" >/dev/null 2>&1 || missing+=(python3 python3-venv)
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
if [ ${{#missing[@]}} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${{missing[@]}}" >/dev/null
fi

version="$("$PYTHON3" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
if ! "$PYTHON3" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
  echo "setup.sh: the kit needs Python 3.10 or later, and this image's $PYTHON3 is $version." >&2
  echo "setup.sh: choose Gradescope's Ubuntu 22.04 base image or a later one." >&2
  exit 1
fi
if ! "$PYTHON3" -m venv "$AUTOGRADER/venv" 2>/dev/null; then
  # Debian and Ubuntu keep venv's pip apart from Python itself.
  rm -rf "$AUTOGRADER/venv"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
  "$PYTHON3" -m venv "$AUTOGRADER/venv"
fi

# The versions the kit was tested with on this Python (written by `grade gradescope bundle`).
constraints="$SOURCE/{constraints}/python$version.txt"
pins=()
if [ -f "$constraints" ]; then
  pins=(-c "$constraints")
  echo "setup.sh: Python $version, installing the versions tested on it ($constraints)"
else
  echo "setup.sh: WARNING: the kit was not tested on Python $version (the bundle has versions for:" \\
       "$(cd "$SOURCE/{constraints}" && ls | sed 's/^python//; s/\\.txt$//' | tr '\\n' ' '))." >&2
  echo "setup.sh: installing the newest versions the kit allows; grade a reference solution before the learners do," \\
       "or choose a base image with one of those Pythons." >&2
fi
"$AUTOGRADER/venv/bin/python" -m pip install --quiet --upgrade pip
"$AUTOGRADER/venv/bin/python" -m pip install --quiet "${{pins[@]}}" "$SOURCE/{kit}" {backend}

# The data cache (held-out split included) lives where run_autograder looks for it, root's alone:
# the uid fallback hides files by permissions.
export GRADER_CACHE_DIR="$AUTOGRADER/data-cache"
mkdir -p "$GRADER_CACHE_DIR" && chmod 700 "$GRADER_CACHE_DIR"
{fetch_data}
chmod -R go-rwx "$GRADER_CACHE_DIR"
mkdir -p "$AUTOGRADER/results" && chmod 755 "$AUTOGRADER/results"
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for every submission. Written by `grade gradescope bundle` for the
# challenge {challenge}, profile {profile}. It grades the learner's {challenge}.py or
# {challenge}.ipynb (or the only .py/.ipynb file submitted) and writes results/results.json.
# To try the bundle on your own machine: AUTOGRADER_DIR=<a folder holding source/ and
# submission/> GRADE=<path to grade> ./run_autograder
set -uo pipefail
AUTOGRADER="${{AUTOGRADER_DIR:-/autograder}}"
GRADE="${{GRADE:-$AUTOGRADER/venv/bin/grade}}"
CHALLENGE={challenge}
PROFILE={profile}
RESULTS="$AUTOGRADER/results/results.json"
export GRADER_CACHE_DIR="${{GRADER_CACHE_DIR:-$AUTOGRADER/data-cache}}"

submission=""
for candidate in "$AUTOGRADER/submission/$CHALLENGE.ipynb" "$AUTOGRADER/submission/$CHALLENGE.py"; do
  if [ -f "$candidate" ]; then submission="$candidate"; break; fi
done
if [ -z "$submission" ]; then
  mapfile -t found < <(find "$AUTOGRADER/submission" -maxdepth 1 -type f \\( -name '*.py' -o -name '*.ipynb' \\) | sort)
  if [ "${{#found[@]}}" -eq 1 ]; then submission="${{found[0]}}"; fi
fi
# Nothing to grade: `grade` is given the expected name and writes a result saying it is missing.
submission="${{submission:-$AUTOGRADER/submission/$CHALLENGE.py}}"

mkdir -p "$AUTOGRADER/results"
# A result from the start: if Gradescope kills this script at its timeout, this is what the
# learner sees (grade replaces it, atomically, when it finishes).
printf '%s\\n' '{{"score": 0, "execution_time": 0, "output": "The autograder did not finish: it was stopped (probably by its time limit) or it failed. Please tell your instructor.", "tests": [], "extra_data": {{}}}}' \\
  > "$RESULTS"
run_dir="$(mktemp -d)"
"$GRADE" submit "$submission" --spec "$AUTOGRADER/source/{spec}" --profile "$PROFILE" --out "$run_dir" \\
  --format gradescope --results "$RESULTS"
status=$?
PYTHON="${{PYTHON:-$AUTOGRADER/venv/bin/python}}"
[ -x "$PYTHON" ] || PYTHON=python3
if ! "$PYTHON" -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(not (isinstance(d, dict) and "tests" in d))' \\
    "$RESULTS" 2>/dev/null; then
  # The grader itself failed: still give Gradescope a result to show, and the host a clue.
  echo "grade exited with status $status without writing $RESULTS" >&2
  printf '%s\\n' '{{"score": 0, "execution_time": 0, "output": "The autograder could not run. Please tell your instructor.", "tests": [], "extra_data": {{}}}}' \\
    > "$RESULTS"
fi
exit 0
"""

PYPROJECT = """\
# Written by `grade gradescope bundle`: the kit as its wheel lays it out (grader/kit/ holds the
# challenge files and the dataset manifest), without the reference solutions.
[build-system]
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"

[project]
name = "cnn-grader"
version = "{version}"
requires-python = "{requires_python}"
dependencies = [
{dependencies}
]

[project.scripts]
grade = "grader.cli:main"

[tool.setuptools.packages.find]
include = ["grader*"]

[tool.setuptools.package-data]
"*" = ["*"]
"""


def python_version() -> str:
    return f"{sys.version_info[0]}.{sys.version_info[1]}"


def tested_constraints(backend: str = BACKEND) -> str:
    """constraints.txt for this Python: the version of every package the kit needs, as installed here,
    where the bundle is built and (so the host's tests say) tested. The backend is pinned as its CPU
    build (tensorflow-cpu): Gradescope has no GPU."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins: dict[str, str] = {}
    todo = [Requirement(r) for r in (metadata.requires("cnn-grader") or [])] + [Requirement(backend)]
    while todo:
        requirement = todo.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        name = canonicalize_name(requirement.name)
        if name in pins:
            continue
        try:
            dist = metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError:
            continue  # optional here (another platform's dependency): pip resolves it freely
        pins[name] = dist.version
        todo += [Requirement(r) for r in (dist.requires or [])]
    pins.pop("cnn-grader", None)
    backend_name = canonicalize_name(backend)
    if backend_name in pins:
        pins[f"{backend_name}-cpu"] = pins.pop(backend_name)
    lines = [f"{name}=={version}" for name, version in sorted(pins.items())]
    return (
        f"# Written by `grade gradescope constraints` on Python {python_version()}: the versions the kit was "
        f"tested with there.\n" + "\n".join(lines) + "\n"
    )


def constraints_by_python() -> dict[str, str]:
    """{"3.10": text, ...}: the shipped files, and this environment's own versions for this Python."""
    found = {
        path.stem.removeprefix("python"): path.read_text() for path in sorted(SHIPPED_CONSTRAINTS.glob("python3.*.txt"))
    }
    found[python_version()] = tested_constraints()
    return found


def kit_project() -> list[tuple[str, bytes]]:
    """The kit as a source project (path in the project, content), from wherever `grader` is imported."""
    from importlib import metadata

    import grader

    package = Path(grader.__file__).resolve().parent
    files: list[tuple[str, bytes]] = []
    for path in sorted(package.rglob("*")):
        relative = path.relative_to(package)
        if not path.is_file() or "__pycache__" in relative.parts or path.suffix == ".pyc":
            continue
        if relative.parts[0] == "kit":
            continue  # an installed wheel's kit folder: added below from where config finds it
        files.append((f"grader/{relative.as_posix()}", path.read_bytes()))
    for part, patterns in KIT_DATA.items():
        folder = config.kit_dir(part)
        for pattern in patterns:
            for path in sorted(folder.glob(pattern)):
                files.append((f"grader/kit/{part}/{path.name}", path.read_bytes()))
    meta = metadata.metadata("cnn-grader")
    # The install's own requirements, without its extras: the backend is named by setup.sh.
    dependencies = [r for r in (metadata.requires("cnn-grader") or []) if "extra ==" not in r]
    pyproject = PYPROJECT.format(
        version=meta["Version"],
        # The metadata is an email Message, which has get(); typeshed declares it for Python 3.12 on only.
        requires_python=meta.get("Requires-Python") or ">=3.10",  # type: ignore[attr-defined]
        dependencies="\n".join(f"    {_toml_string(r)}," for r in dependencies),
    )
    files.append(("pyproject.toml", pyproject.encode()))
    return files


def _toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class Bundle:
    path: Path
    challenge: str
    profile: str
    files: int
    pythons: tuple[str, ...]  # the Pythons it has tested versions for


def _add(archive: zipfile.ZipFile, name: str, data: bytes, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))  # fixed: the same kit gives the same zip
    mode = 0o755 if executable else 0o644
    info.external_attr = (stat.S_IFREG | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def build_bundle(
    *, challenge: str, out_path: Path, profile: str = config.DEFAULT_PROFILE, spec_path: Path | None = None
) -> Bundle:
    """Write Gradescope's autograder zip for one challenge; SpecError if the spec or profile is wrong."""
    from grader.spec import load_spec

    spec = load_spec(spec_path if spec_path is not None else challenge)
    if getattr(spec, "kind", "model") == "model":
        spec.profile(profile)  # fail now, not on the learners' first submission
    dataset = getattr(spec, "dataset", None)  # challenges of kind "functions" need no data
    fetch_data = (
        f"# Download and verify the data now: grading a submission then needs no network.\n"
        f'"$AUTOGRADER/venv/bin/grade" data fetch {dataset}'
        if dataset
        else "# This challenge needs no dataset."
    )
    names = {
        "challenge": spec.name,
        "profile": profile,
        "kit": KIT_FOLDER_IN_BUNDLE,
        "fetch_data": fetch_data,
        "backend": f"{BACKEND}-cpu",
        "spec": SPEC_IN_BUNDLE,
        "constraints": CONSTRAINTS_FOLDER,
    }
    kit = kit_project()
    constraints = constraints_by_python()
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    assert spec.path is not None  # load_spec records the file it read
    with zipfile.ZipFile(tmp, "w") as archive:
        _add(archive, "setup.sh", SETUP_SH.format(**names).encode(), executable=True)
        _add(archive, "run_autograder", RUN_AUTOGRADER.format(**names).encode(), executable=True)
        _add(archive, SPEC_IN_BUNDLE, Path(spec.path).read_bytes())
        for version, text in sorted(constraints.items()):
            _add(archive, f"{CONSTRAINTS_FOLDER}/python{version}.txt", text.encode())
        for name, data in kit:
            _add(archive, f"{KIT_FOLDER_IN_BUNDLE}/{name}", data)
    os.replace(tmp, out_path)
    return Bundle(out_path, spec.name, profile, len(kit) + len(constraints) + 3, tuple(sorted(constraints)))
