"""The trusted side stays trusted (docs/security.md, "The trusted side"):

- no learner byte on a trusted process's import path, and no signing key in its environment;
- the sandbox never holds host root: an unprivileged host uid, a read-only /proc/sys, the
  seccomp filter; the temp folder's mode is never changed;
- weights only from the seed; sizes bounded before any training;
- what the sandbox writes is parsed with bounds; learner text is cleaned everywhere;
- the callback probe cannot be recognised, answered partly, or passed with a fixed target.

The end-to-end attacks of each class are in tests/hostile/ (tests/test_hostile.py).
"""

from __future__ import annotations

import json
import os
import random
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from grader.checks.submission import ProbePlan, callback_probe_from, callback_probe_plans, check_callback
from grader.core import bounded, launch
from grader.core.facts import CallbackProbe
from grader.core.text import clean, clean_tree
from grader.describe.sandbox import isolation as iso
from grader.describe.sandbox import syscalls
from grader.describe.sandbox.box import Box
from grader.spec import CallbackSpec, load_spec
from grader.train.modelconfig import ConfigRejected, validate
from tests.grading import SUBMISSIONS, tiny_model_description

REPO = Path(__file__).resolve().parent.parent
GRADE = Path(sys.executable).parent / "grade"
# Modules a trusted process imports after it starts: a learner's file of that name must never run.
SHADOWED = ("json", "tempfile", "zipfile", "traceback", "secrets", "hashlib", "sqlite3", "numpy", "keras", "runpy")


def _plant(folder: Path, marker: Path) -> None:
    for name in SHADOWED:
        (folder / f"{name}.py").write_text(
            f"import os\nwith open({str(marker)!r}, 'a') as _f:\n    _f.write('{name} ' + str(os.getpid()) + '\\n')\n"
            "raise ImportError('a shadowing module')\n"
        )


# --------------------------------------------------------------------------- trusted processes


def test_a_trusted_process_has_no_working_folder_on_its_path_and_no_secret(tmp_path, monkeypatch):
    marker = tmp_path / "imported.txt"
    folder = tmp_path / "learner"
    folder.mkdir()
    _plant(folder, marker)
    monkeypatch.setenv("GRADER_SECRET_KEY", "a-host-secret-key-0123456789")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "another-secret")
    monkeypatch.setenv("PYTHONPATH", str(folder))
    monkeypatch.setenv("PYTHONSTARTUP", str(folder / "json.py"))
    env = launch.trusted_environment()
    assert not {"GRADER_SECRET_KEY", "AWS_SECRET_ACCESS_KEY", "PYTHONPATH", "PYTHONSTARTUP"} & set(env)
    # `python -m site` prints sys.path; the bootstrap itself imports runpy, which is planted too.
    done = subprocess.run(
        launch.python_command("site"), cwd=folder, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert not marker.exists(), marker.read_text()
    path_lines = [line.strip().strip("',") for line in done.stdout.splitlines() if line.startswith("    ")]
    assert path_lines and str(folder) not in path_lines and "" not in path_lines, done.stdout


@pytest.mark.slow
def test_a_check_beside_shadowing_modules_never_imports_them(tmp_path):
    """`grade check fashion.py` run from the learner's folder: the parent, the sandbox's child
    and the trusted trainer all start there, and none imports json.py, numpy.py or keras.py."""
    marker = tmp_path / "imported.txt"
    folder = tmp_path / "learner"
    folder.mkdir()
    (folder / "fashion.py").write_text((SUBMISSIONS / "fashion_ok.py").read_text())
    _plant(folder, marker)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["GRADER_SECRET_KEY"] = "a-host-secret-key-0123456789"
    for command in (
        [str(GRADE), "check", "fashion.py", "--json"],
        [sys.executable, "-m", "grader.cli", "check", "fashion.py", "--json"],
    ):
        done = subprocess.run(
            command,
            cwd=folder,
            env={**env, "PYTHONPATH": str(REPO)} if "-m" in command else env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert not marker.exists(), marker.read_text()
        result = json.loads(done.stdout)
        assert result["verdict"] == "passed", (result.get("error"), done.stderr[-2000:])


# --------------------------------------------------------------------------- a root host

needs_root_and_bwrap = pytest.mark.skipif(
    os.geteuid() != 0 or iso.choose().level != "namespaces", reason="needs root and a working bubblewrap"
)


def _in_sandbox(code: str) -> str:
    box = Box()
    try:
        sandboxed = iso.start(
            [sys.executable, "-c", code],
            isolation=iso.Isolation("namespaces"),
            work=box.work,
            inputs=box.inputs,
            extra_env={},
            limits=iso.Limits(memory_mb=2048, processes=32),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            output, _ = sandboxed.process.communicate(timeout=60)
        finally:
            sandboxed.close()
        return output.decode(errors="replace")
    finally:
        box.remove()


@needs_root_and_bwrap
def test_as_root_the_sandbox_is_an_unprivileged_host_uid_that_cannot_configure_the_host():
    tmp_before = os.stat("/tmp")
    output = _in_sandbox("""
import ctypes, os, time
writable = []
for top in ("/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/sys"):
    paths = [top] if os.path.isfile(top) else [os.path.join(d, f) for d, _, fs in os.walk(top) for f in fs]
    for path in paths:
        try:
            os.close(os.open(path, os.O_WRONLY))  # opened only: nothing is written
            writable.append(path)
        except OSError:
            pass
libc = ctypes.CDLL(None, use_errno=True)
print("writable", len(writable), writable[:3])
print("ptrace", libc.ptrace(16, 1, 0, 0), ctypes.get_errno())
print("keyctl", libc.syscall(250, 0, -3, 0, 0), ctypes.get_errno())
print("bpf", libc.syscall(321, 0, 0, 0), ctypes.get_errno())
print("marker", flush=True)
time.sleep(2)
""")
    assert "writable 0 []" in output, output
    for call in ("ptrace", "keyctl", "bpf"):
        assert f"{call} -1 1" in output, output  # EPERM: refused by the seccomp filter
    after = os.stat("/tmp")
    assert (after.st_mode, after.st_uid) == (tmp_before.st_mode, tmp_before.st_uid)


@needs_root_and_bwrap
def test_as_root_the_sandbox_processes_run_as_a_leased_uid_on_the_host():
    box = Box()
    try:
        sandboxed = iso.start(
            [sys.executable, "-c", "import time; time.sleep(5)"],
            isolation=iso.Isolation("namespaces"),
            work=box.work,
            inputs=box.inputs,
            extra_env={},
            limits=iso.Limits(memory_mb=2048, processes=32),
        )
        try:
            import time

            time.sleep(1.5)
            children = [
                int(p) for p in os.listdir("/proc") if p.isdigit() and _is_descendant(int(p), sandboxed.process.pid)
            ]
            uids = {os.stat(f"/proc/{pid}").st_uid for pid in children + [sandboxed.process.pid]}
        finally:
            sandboxed.close()
    finally:
        box.remove()
    assert uids and all(iso.FALLBACK_UID_BASE <= uid < iso.FALLBACK_UID_BASE + iso.FALLBACK_UID_COUNT for uid in uids)


def _is_descendant(pid: int, ancestor: int) -> bool:
    from tests import procfs

    while pid > 1:
        pid = procfs.parent(pid) or 0
        if pid == ancestor:
            return True
    return False


def test_the_seccomp_filter_is_built_by_libseccomp_and_names_what_a_grading_never_needs():
    works, why = syscalls.available()
    if not works:
        pytest.skip(why)
    program = syscalls.program()
    assert len(program) % 8 == 0 and len(program) > 8 * len(syscalls.DENIED) // 2  # BPF instructions, 8 bytes each
    for name in ("ptrace", "keyctl", "add_key", "bpf", "perf_event_open", "userfaultfd", "mount", "init_module"):
        assert name in syscalls.DENIED


def test_removing_a_box_twice_never_touches_the_folder_above():
    import shutil
    import tempfile

    parent = Path(tempfile.mkdtemp(prefix="grader-test-temp-", dir="/tmp"))  # a temp folder every user may pass
    os.chmod(parent, 0o1777)
    before = os.stat(parent).st_mode
    original = tempfile.tempdir
    tempfile.tempdir = str(parent)
    try:
        box = Box()
        assert box.root.parent == parent
        locked = box.work / "locked"
        locked.mkdir()
        (locked / "file").write_text("x")
        os.chmod(locked, 0o500)
        box.remove()
        box.remove()
        other = Box()  # a box removed behind its back: the error handler must not reach the parent
        shutil.rmtree(other.root)
        other.remove()
        after = os.stat(parent).st_mode
    finally:
        tempfile.tempdir = original
        shutil.rmtree(parent, ignore_errors=True)
    assert not box.root.exists()
    assert after == before and stat.S_IMODE(before) == 0o1777


def test_a_box_left_by_a_killed_grader_is_swept_by_the_next_one():
    import tempfile

    from grader.describe.sandbox.box import sweep_stale_boxes

    parent = Path(tempfile.mkdtemp(prefix="grader-test-sweep-", dir="/tmp"))
    os.chmod(parent, 0o1777)  # as root, boxes are made only where their sandbox's uid may pass
    try:
        original = tempfile.tempdir
        tempfile.tempdir = str(parent)
        try:
            alive, dead = Box(), Box()
        finally:
            tempfile.tempdir = original
        dead._lock.close()  # what the kernel does when the grader that held it is killed
        sweep_stale_boxes(parent)
        assert alive.root.exists() and not dead.root.exists()
        alive.remove()
    finally:
        import shutil

        shutil.rmtree(parent, ignore_errors=True)


# --------------------------------------------------------------------------- weights only from the seed


def _description() -> dict:
    description = tiny_model_description()
    return json.loads(json.dumps({"config": description.config, "compile": description.compile}))


def _with_initializer(value) -> dict:
    described = _description()
    layer = next(layer for layer in described["config"]["config"]["layers"] if layer["class_name"] == "Dense")
    layer["config"]["kernel_initializer"] = {
        "module": "keras.initializers",
        "class_name": "Constant",
        "config": {"value": value},
        "registered_name": None,
    }
    return described


@pytest.mark.parametrize(
    "payload",
    [
        [[0.1, 0.2], [0.3, 0.4]],  # a weight array as lists
        {"class_name": "__numpy__", "config": {"value": [0.1] * 40, "dtype": "float32"}},  # as Keras saves an array
        [0.5] * 40,  # a long flat list
    ],
)
def test_weights_cannot_travel_through_an_initializer(payload):
    with pytest.raises(ConfigRejected) as refused:
        validate(_with_initializer(payload))
    assert "seed" in refused.value.hint


def test_a_scalar_constant_and_seeded_initializers_are_accepted_and_the_seed_is_the_graders():
    assert validate(_with_initializer(0.1))
    described = _description()
    layer = next(layer for layer in described["config"]["config"]["layers"] if layer["class_name"] == "Dense")
    layer["config"]["kernel_initializer"] = {
        "module": "keras.initializers",
        "class_name": "GlorotUniform",
        "config": {"seed": 1234},
        "registered_name": None,
    }
    checked = validate(described)
    dense = next(layer for layer in checked.config["config"]["layers"] if layer["class_name"] == "Dense")
    assert dense["config"]["kernel_initializer"]["config"]["seed"] is None


def test_no_list_of_numbers_longer_than_a_setting_anywhere_in_a_config():
    described = _description()
    layer = next(layer for layer in described["config"]["config"]["layers"] if layer["class_name"] == "Dense")
    layer["config"]["smuggled"] = [[float(i) for i in range(8)] for _ in range(8)]
    with pytest.raises(ConfigRejected, match="more than 32 numbers"):
        validate(described)


def test_weights_equal_under_two_seeds_are_caught_unless_constant_or_identity():
    from grader.train.trainer import weights_not_from_the_seed

    class Weight:
        def __init__(self, value, path):
            self.value, self.path = np.asarray(value, dtype="float32"), path

        def __array__(self, dtype=None, copy=None):
            return self.value

    class Model:
        def __init__(self, *weights):
            self.weights = list(weights)

    rng = np.random.default_rng(0)
    trained = rng.normal(size=(4, 3))
    seeded = (Weight(rng.normal(size=(4, 3)), "dense/kernel"), Weight(rng.normal(size=(4, 3)), "dense/kernel"))
    same = [Weight(np.zeros(3), "dense/bias"), Weight(np.eye(3) * 2, "dense_1/kernel")]
    assert weights_not_from_the_seed(Model(seeded[0], *same), Model(seeded[1], *same)) is None
    planted = Weight(trained, "dense_2/kernel")
    assert weights_not_from_the_seed(Model(seeded[0], planted), Model(seeded[1], planted)) == "dense_2/kernel"


# --------------------------------------------------------------------------- sizes


def test_default_size_bounds_are_a_generous_multiple_of_the_reference():
    for name in ("fashion", "cnn", "cats_dogs"):
        spec = load_spec(name)
        reference = sum(layer.params or 0 for layer in spec.architecture.main.layers)
        assert spec.max_params >= 16 * reference and spec.max_params >= 10_000_000
        assert spec.max_activations >= 4_000_000


def test_a_model_over_the_bounds_is_refused_naming_the_layer():
    from grader.core.facts import LayerFacts, ModelFacts
    from grader.train.trainer import TrainingFailed, check_size

    facts = ModelFacts(
        input_shape=(28, 28, 1),
        output_shape=(10,),
        layers=(
            LayerFacts("UpSampling2D", "up_sampling2d", (11200, 11200, 1), 0),
            LayerFacts("Dense", "dense", (10,), 10_000_001),
        ),
        total_params=10_000_001,
        compiled=True,
    )
    with pytest.raises(TrainingFailed) as refused:
        check_size(facts, max_params=10_000_000, max_activations=4_000_000)
    assert "up_sampling2d" in refused.value.message and "125,440,000" in refused.value.message
    with pytest.raises(TrainingFailed) as refused:
        check_size(facts, max_params=10_000_000, max_activations=None)
    assert "'dense'" in refused.value.message and "10,000,001" in refused.value.message


# --------------------------------------------------------------------------- bounded parsing


def test_an_npy_header_that_claims_more_than_its_bytes_is_refused_before_allocation():
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (17592186044416, 4), }".ljust(117) + "\n"
    forged = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + b"\0" * 64
    with pytest.raises(bounded.ParseRefused, match="claims shape"):
        bounded.load_npy(forged, "probe_out.npy")
    import io

    honest = io.BytesIO()
    np.save(honest, np.arange(12, dtype="float32").reshape(3, 4))
    assert bounded.load_npy(honest.getvalue(), "x.npy").tolist() == np.arange(12).reshape(3, 4).tolist()
    objects = io.BytesIO()
    np.save(objects, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(bounded.ParseRefused, match="plain numbers"):
        bounded.load_npy(objects.getvalue(), "x.npy")


def test_json_nested_200000_deep_is_a_clear_refusal():
    with pytest.raises(bounded.ParseRefused, match="nested"):
        bounded.loads_json("[" * 200_000 + "]" * 200_000, "child_result.json")
    with pytest.raises(bounded.ParseRefused, match="nested more than"):
        bounded.loads_json("[" * 100 + "]" * 100, "child_result.json")
    assert bounded.loads_json('{"a": [1, {"b": 2}]}', "x") == {"a": [1, {"b": 2}]}


def test_a_notebook_nested_150000_deep_is_not_graded_with_a_reason(tmp_path):
    from grader.submission.files import NotGraded, read_submission

    notebook = tmp_path / "fashion.ipynb"
    notebook.write_text('{"cells": ' + "[" * 150_000 + "]" * 150_000 + "}")
    with pytest.raises(NotGraded, match="nested"):
        read_submission(notebook)


# --------------------------------------------------------------------------- clean text


def test_every_string_of_a_result_is_cleaned_keys_included():
    dirty = {"name\x1b[31m": ["ok\x1b[2J\u202e", {"deep": "a\x00b\u2066c\u200fd"}], "n": 3}
    assert clean_tree(dirty) == {"name": ["ok", {"deep": "abcd"}], "n": 3}
    assert clean("[bold green]PASSED[/]") == "[bold green]PASSED[/]"  # markup is shown as text (rich Text)


# --------------------------------------------------------------------------- the callback probe


def _answers(plans, decide):
    return {"count": 1, "stops": [[decide(plan.target, log) for log in plan.logs] for plan in plans], "error": None}


def test_probe_logs_look_like_fits_and_change_every_grading():
    first, second = callback_probe_plans(0.9), callback_probe_plans(0.9)
    assert first[0].accuracies != second[0].accuracies
    for plan in first:
        assert len(plan.logs) >= 5
        assert {"accuracy", "loss", "val_accuracy", "val_loss"} == set(plan.logs[0])
        assert any(a < plan.target for a in plan.accuracies) and any(a >= plan.target for a in plan.accuracies)
        assert list(plan.accuracies) == sorted(plan.accuracies)  # a rising curve, as training gives
        assert any(round(a, 4) != a for a in plan.accuracies)  # float32 values, not round decimals
    assert first[1].target < 0.9 and all(a < 0.9 for a in first[1].accuracies)


@pytest.mark.parametrize("seed", range(20))
def test_a_correct_callback_passes_every_probe_and_a_fixed_target_never_does(seed):
    spec = CallbackSpec()
    plans = callback_probe_plans(0.9, random.Random(seed))
    right = callback_probe_from(_answers(plans, lambda target, log: log["accuracy"] >= target), plans)
    assert check_callback(spec, 0.9, right, None).passed
    fixed = callback_probe_from(_answers(plans, lambda target, log: log["accuracy"] >= 0.9), plans)
    result = check_callback(spec, 0.9, fixed, None)
    assert not result.passed and "does not use the target" in result.message


def test_an_answer_missing_for_any_epoch_earns_nothing():
    spec = CallbackSpec()
    plans = callback_probe_plans(0.9, random.Random(1))
    for doc in (
        {"count": 1, "stops": [], "error": None},
        {"count": 1, "stops": [[True]], "error": None},
        {"count": 1, "stops": [[a["accuracy"] >= 0.9 for a in plans[0].logs][:-1], []], "error": None},
    ):
        probe = callback_probe_from(doc, plans)
        assert not probe.complete and not check_callback(spec, 0.9, probe, None).passed


def test_the_parent_pairs_answers_with_its_own_accuracies_never_the_childs():
    plans = (
        ProbePlan(
            0.9,
            (
                {"accuracy": 0.5, "loss": 1.0, "val_accuracy": 0.5, "val_loss": 1.0},
                {"accuracy": 0.95, "loss": 0.1, "val_accuracy": 0.9, "val_loss": 0.2},
            ),
        ),
        ProbePlan(
            0.8,
            (
                {"accuracy": 0.7, "loss": 1.0, "val_accuracy": 0.6, "val_loss": 1.0},
                {"accuracy": 0.85, "loss": 0.1, "val_accuracy": 0.8, "val_loss": 0.2},
            ),
        ),
    )
    probe = callback_probe_from(
        {"count": 1, "stops": [[False, True], [False, True]], "responses": [[0.99, True]], "error": None}, plans
    )
    assert probe.responses == ((0.5, False), (0.95, True)) and probe.second_responses == ((0.7, False), (0.85, True))
    assert isinstance(probe, CallbackProbe) and probe.complete


@pytest.mark.slow
@pytest.mark.skipif(not iso.choose().isolated, reason="a batch records only isolated gradings")
def test_a_batch_run_inside_the_course_folder_never_imports_a_learners_module(tmp_path):
    """`grade batch .` inside the course folder: the driver, its workers and their trainers start
    there; a learner folder named like a package (json/ with an __init__.py) and loose modules
    beside the learners' folders are never imported, and the workers never see the key."""
    from tests.grading import tiny_spec

    marker = tmp_path / "imported.txt"
    course = tmp_path / "course"
    for learner in ("alice", "json"):
        (course / learner).mkdir(parents=True)
        (course / learner / "fashion.py").write_text((SUBMISSIONS / "fashion_ok.py").read_text())
    _plant(course, marker)
    (course / "json" / "__init__.py").write_text((course / "json.py").read_text())
    spec = tiny_spec(tmp_path, "fashion")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["GRADER_SECRET_KEY"] = "a-host-secret-key-0123456789abcdef"
    done = subprocess.run(
        [
            str(GRADE),
            "batch",
            ".",
            "--spec",
            str(spec),
            "--profile",
            "tiny",
            "--device",
            "cpu",
            "--db",
            str(tmp_path / "board.sqlite"),
            "--out",
            str(tmp_path / "out"),
            "--sign",
        ],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert not marker.exists(), marker.read_text()
    assert done.returncode in (0, 1), done.stdout[-3000:] + done.stderr[-3000:]
    book = (tmp_path / "out" / "gradebook.csv").read_text()
    assert "alice" in book and "json" in book
