"""Gradescope: a grading result as Gradescope's `results.json`, and the autograder zip.

The fields follow Gradescope's autograder specification; docs/gradescope.md lists the ones
used and docs/gradescope.schema.json is the JSON Schema the tests validate against.

Both functions here work on the result *document* (GradeResult.to_dict(), or a result.json
read back), so `grade submit --format gradescope` and `grade gradescope export` share them.
"""

from __future__ import annotations

import json
import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader import config

RESULTS_FILE = "results.json"
# Learners see every test with its message and hint as soon as it is graded: the hints are the
# point of the kit, and nothing in a check's output gives the held-out data away.
TEST_VISIBILITY = "visible"

# What the bundle ships of the kit: an editable install needs the package and the files that
# live beside it (challenge specs and skeletons, the dataset manifest and checksums).
KIT_FILES = ("pyproject.toml", "README.md")
KIT_FOLDERS = {"grader": ("*",), "challenges": ("*.toml", "*.py"),
               "datasets": ("*.toml", "*.sha256", "*.md")}
KIT_FOLDER_IN_BUNDLE = "cnn-grader"
SPEC_IN_BUNDLE = "spec.toml"


def _test_output(check: dict[str, Any]) -> str:
    hint = check.get("hint") or ""
    return check["message"] + (f"\nHint: {hint}" if hint else "")


def gradescope_results(result: dict[str, Any]) -> dict[str, Any]:
    """Gradescope's results.json for one result document."""
    error = result.get("error")
    if error is not None:
        summary = f"Not graded: {error}"
    else:
        word = "Passed" if result["verdict"] == "passed" else "Not passed yet"
        summary = f"{word}: {result['score']:g} of {result['max_score']:g} points ({result['challenge']}, " \
                  f"profile {result['profile']})."
    tests = []
    for number, check in enumerate(result.get("checks", []), start=1):
        tests.append({
            "name": check["title"] + (" (bonus)" if check.get("bonus") else ""),
            "number": str(number),
            "score": check["points"],
            "max_score": check["max_points"],
            "status": "passed" if check["passed"] else "failed",
            "output": _test_output(check),
            "visibility": TEST_VISIBILITY,
        })
    doc: dict[str, Any] = {
        "score": result["score"] if error is None else 0.0,
        "execution_time": round(float(result.get("durations", {}).get("total", 0.0))),
        "output": summary,
        "tests": tests,
        "extra_data": {key: result.get(key) for key in ("challenge", "profile", "verdict", "submission_sha256",
                                                         "grader_version")},
    }
    metrics = result.get("metrics") or {}
    if "test_accuracy" in metrics and "gap" in metrics:
        doc["leaderboard"] = [
            {"name": "Accuracy", "value": round(float(metrics["test_accuracy"]), 4)},
            {"name": "Gap", "value": round(float(metrics["gap"]), 4), "order": "asc"},
        ]
    return doc


def write_results(result: dict[str, Any], path: Path) -> Path:
    """Write results.json for `result` to `path`: a .json file, or else a folder to put results.json in."""
    path = Path(path)
    if path.is_dir() or path.suffix != ".json":
        path = path / RESULTS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(gradescope_results(result), indent=2, allow_nan=False))
    tmp.replace(path)
    return path


# --------------------------------------------------------------------------- the autograder zip

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root and with network access, while it builds the autograder
# image. Written by `grade gradescope bundle` for the challenge {challenge}.
set -euo pipefail
SOURCE=/autograder/source

apt-get update -qq
# bubblewrap: the sandbox. Gradescope's Docker blocks user namespaces, so grading falls back to
# running each submission as an unprivileged uid (docs/security.md): the system Python keeps
# the runtime readable by that uid.
apt-get install -y -qq python3 python3-venv python3-pip bubblewrap >/dev/null
python3 -m venv /autograder/venv
/autograder/venv/bin/python -m pip install --quiet --upgrade pip
# The versions the kit was tested with (constraints.txt, written by `grade gradescope bundle` from
# the environment that built it), and TensorFlow's CPU build: Gradescope has no GPU.
/autograder/venv/bin/python -m pip install --quiet -c "$SOURCE/constraints.txt" "$SOURCE/{kit}" {backend}
# The data cache (held-out split included) lives where run_autograder looks for it, root's alone:
# the uid fallback hides files by permissions.
export GRADER_CACHE_DIR=/autograder/data-cache
mkdir -p "$GRADER_CACHE_DIR" && chmod 700 "$GRADER_CACHE_DIR"
{fetch_data}
chmod -R go-rwx "$GRADER_CACHE_DIR"
mkdir -p /autograder/results && chmod 755 /autograder/results
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
if ! "$PYTHON" -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(not (isinstance(d, dict) and "tests" in d))' \
    "$RESULTS" 2>/dev/null; then
  # The grader itself failed: still give Gradescope a result to show, and the host a clue.
  echo "grade exited with status $status without writing $RESULTS" >&2
  printf '%s\\n' '{{"score": 0, "execution_time": 0, "output": "The autograder could not run. Please tell your instructor.", "tests": [], "extra_data": {{}}}}' \\
    > "$RESULTS"
fi
exit 0
"""


def tested_constraints(backend: str = "tensorflow") -> tuple[str, str]:
    """(constraints.txt, the backend requirement): the version of every package the kit needs, as
    installed here, where the bundle is built and (so the host's tests say) tested. The backend is
    pinned as its CPU build (tensorflow-cpu), since Gradescope has no GPU."""
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
    backend_pin = f"{backend}-cpu=={pins.pop(canonicalize_name(backend))}" if canonicalize_name(backend) in pins \
        else backend
    lines = [f"{name}=={version}" for name, version in sorted(pins.items()) if name != "cnn-grader"]
    return "# Written by `grade gradescope bundle`: the versions it was built and tested with.\n" + \
        "\n".join(lines) + "\n", backend_pin


@dataclass(frozen=True)
class Bundle:
    path: Path
    challenge: str
    profile: str
    files: int


def kit_files(kit_root: Path) -> list[Path]:
    """The kit's files (relative to kit_root) that an editable install in the bundle needs."""
    files = [Path(name) for name in KIT_FILES if (kit_root / name).is_file()]
    for folder, patterns in KIT_FOLDERS.items():
        for pattern in patterns:
            for path in (kit_root / folder).rglob(pattern):
                relative = path.relative_to(kit_root)
                if path.is_file() and not _machine_specific(relative):
                    files.append(relative)
    return sorted(set(files))


def _machine_specific(relative: Path) -> bool:
    """Compiled files and caches: rebuilt where the kit runs (an old datasets/cache holds gigabytes)."""
    return "__pycache__" in relative.parts or relative.suffix == ".pyc" or relative.parts[:2] == ("datasets", "cache")


def _add(archive: zipfile.ZipFile, name: str, data: bytes, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))  # fixed: the same kit gives the same zip
    mode = 0o755 if executable else 0o644
    info.external_attr = (stat.S_IFREG | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def build_bundle(*, challenge: str, out_path: Path, profile: str = config.DEFAULT_PROFILE,
                 spec_path: Path | None = None, kit_root: Path = config.REPO_ROOT) -> Bundle:
    """Write Gradescope's autograder zip for one challenge; SpecError if the spec or profile is wrong."""
    from grader.spec import SpecError, load_spec

    if not (Path(kit_root) / "pyproject.toml").is_file():
        raise SpecError(f"the bundle is built from a checkout of the kit, and {kit_root} is not one: "
                        "run `grade gradescope bundle` in a clone of the repository")
    spec = load_spec(spec_path if spec_path is not None else challenge)
    if getattr(spec, "kind", "model") == "model":
        spec.profile(profile)  # fail now, not on the learners' first submission
    dataset = getattr(spec, "dataset", None)  # challenges of kind "functions" need no data
    fetch_data = (f"# Download and verify the data now: grading a submission then needs no network.\n"
                  f"/autograder/venv/bin/grade data fetch {dataset}" if dataset else
                  "# This challenge needs no dataset.")
    spec_file = Path(spec.path)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    constraints, backend_pin = tested_constraints()
    names = {"challenge": spec.name, "profile": profile, "kit": KIT_FOLDER_IN_BUNDLE, "fetch_data": fetch_data,
             "backend": f'"{backend_pin}"',
             "spec": SPEC_IN_BUNDLE}
    files = kit_files(Path(kit_root))
    tmp = out_path.with_name(out_path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w") as archive:
        _add(archive, "setup.sh", SETUP_SH.format(**names).encode(), executable=True)
        _add(archive, "run_autograder", RUN_AUTOGRADER.format(**names).encode(), executable=True)
        _add(archive, SPEC_IN_BUNDLE, spec_file.read_bytes())
        _add(archive, "constraints.txt", constraints.encode())
        for relative in files:
            _add(archive, f"{KIT_FOLDER_IN_BUNDLE}/{relative.as_posix()}", (Path(kit_root) / relative).read_bytes())
    os.replace(tmp, out_path)
    return Bundle(out_path, spec.name, profile, len(files) + 4)
