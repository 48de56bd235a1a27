"""The fast subset on JAX: check mode and a tiny profile give TensorFlow's verdicts, and nothing
under JAX imports TensorFlow (no start-up noise in a learner's output, no TF in the trainer).

Each grading runs in a fresh `python` with KERAS_BACKEND=jax (Keras picks its backend once per
process), and is compared with the same grading on the default backend, in this process.
Skipped where JAX is not installed (`pip install "cnn-grader[jax]"`; the dev extra has it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from grader import config
from grader.describe.sandbox import isolation as iso
from grader.keras_support import backend
from grader.pipeline import grade
from tests.grading import fashion_submission, tiny_spec

pytest.importorskip("jax")
pytestmark = pytest.mark.skipif(not iso.choose().isolated, reason="no sandbox available on this machine")

# Printed by the submission itself, from inside the sandbox, after it has built its model.
PROBE = textwrap.dedent("""
    _built = build_model
    def build_model():
        import sys
        model = _built()
        print("TENSORFLOW-IMPORTED:", "tensorflow" in sys.modules, flush=True)
        return model
""")


def grade_on_jax(tmp_path: Path, **options) -> tuple[dict, str, bool]:
    """(result.json, the command's stderr, whether the grading process itself imported TensorFlow)."""
    script = textwrap.dedent("""
        import json, sys
        from pathlib import Path
        from grader.pipeline import grade
        result = grade(**{k: (Path(v) if k in ("path", "spec_path", "out_dir") else v)
                          for k, v in json.loads(sys.argv[1]).items()})
        print(json.dumps({"result": result.to_dict(), "tensorflow": "tensorflow" in sys.modules}))
    """)
    env = {**os.environ, "KERAS_BACKEND": "jax", backend.CHECK_BACKEND_ENV: "chosen"}
    arguments = json.dumps({k: str(v) if isinstance(v, Path) else v for k, v in options.items()})
    done = subprocess.run(
        [sys.executable, "-c", script, arguments], capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    document = json.loads(done.stdout.strip().splitlines()[-1])
    return document["result"], done.stderr, document["tensorflow"]


def checks(document_or_result) -> list[tuple[str, float, bool]]:
    items = (
        document_or_result["checks"]
        if isinstance(document_or_result, dict)
        else [c.to_dict() for c in document_or_result.checks]
    )
    return [(c["id"], c["points"], c["passed"], c["message"]) for c in items]


@pytest.mark.parametrize("challenge", ["fashion", "cats_dogs"])
def test_check_mode_on_jax_gives_the_tensorflow_verdict(challenge, tmp_path, shared_cache, monkeypatch):
    monkeypatch.setenv(backend.CHECK_BACKEND_ENV, "chosen")  # each check on its own backend, not the fast one
    solution = config.SOLUTIONS_DIR / f"{challenge}.py"
    on_tf = grade(path=solution, train=False, out_dir=tmp_path / "tf", device="cpu")
    on_jax, stderr, parent_imported_tf = grade_on_jax(
        tmp_path, path=solution, train=False, out_dir=tmp_path / "jax", device="cpu"
    )
    assert on_tf.backend == "tensorflow" and on_jax["backend"] == "jax"
    assert on_jax["verdict"] == on_tf.verdict == "passed"
    assert checks(on_jax) == checks(on_tf)
    assert not parent_imported_tf
    assert "tensorflow" not in stderr.lower() and "onednn" not in stderr.lower(), stderr[-2000:]


def test_a_wrong_output_head_fails_the_same_way_on_jax(tmp_path, shared_cache):
    """Dense(1, sigmoid) on 10 classes: refused before training everywhere (JAX once 'trained' it)."""
    path = fashion_submission(
        tmp_path, 'keras.layers.Dense(10, activation="softmax")', 'keras.layers.Dense(1, activation="sigmoid")'
    )
    spec = tiny_spec(tmp_path, "fashion")
    on_tf = grade(path=path, spec_path=spec, profile="tiny", out_dir=tmp_path / "tf", device="cpu")
    on_jax, _, _ = grade_on_jax(
        tmp_path, path=path, spec_path=spec, profile="tiny", out_dir=tmp_path / "jax", device="cpu"
    )
    assert on_jax["verdict"] == on_tf.verdict == "failed"
    assert checks(on_jax) == checks(on_tf)
    assert on_jax["history"] == {} and on_tf.history == {}  # neither trained


def test_a_tiny_submit_on_jax_trains_without_tensorflow_anywhere(tmp_path, shared_cache):
    path = fashion_submission(tmp_path)
    path.write_text(path.read_text() + PROBE)
    spec = tiny_spec(tmp_path, "fashion")
    on_jax, stderr, parent_imported_tf = grade_on_jax(
        tmp_path, path=path, spec_path=spec, profile="tiny", out_dir=tmp_path / "jax", device="cpu"
    )
    assert on_jax["verdict"] == "passed", on_jax["checks"]
    assert on_jax["backend"] == "jax" and len(on_jax["history"]["loss"]) == 1
    assert "jax" in on_jax["versions"] and "tensorflow" not in on_jax["versions"]  # the trainer's own imports
    assert "TENSORFLOW-IMPORTED: False" in on_jax["output"], on_jax["output"][-2000:]  # the sandboxed child
    assert not parent_imported_tf
    assert "tensorflow" not in stderr.lower(), stderr[-2000:]


# ----------------------------------------------------------------------------- the fast check backend


@pytest.mark.parametrize("challenge", ["fashion", "cnn", "cats_dogs"])
def test_a_fast_check_tells_what_a_check_on_the_chosen_backend_tells(challenge, tmp_path, shared_cache, monkeypatch):
    solution = config.SOLUTIONS_DIR / f"{challenge}.py"
    fast = grade(path=solution, train=False, out_dir=tmp_path / "fast", device="cpu")
    monkeypatch.setenv(backend.CHECK_BACKEND_ENV, "chosen")
    chosen = grade(path=solution, train=False, out_dir=tmp_path / "chosen", device="cpu")
    assert fast.backend == backend.FAST_CHECK_BACKEND and chosen.backend == "tensorflow"
    assert fast.verdict == chosen.verdict == "passed"
    assert checks(fast) == checks(chosen)
    assert fast.model_summary == chosen.model_summary and fast.layer_table == chosen.layer_table


def test_a_file_that_imports_a_backend_or_trains_on_import_is_checked_on_the_chosen_backend(tmp_path, shared_cache):
    solution = (config.SOLUTIONS_DIR / "fashion.py").read_text()
    assert backend.check_backend(solution) == backend.FAST_CHECK_BACKEND
    assert backend.check_backend("import tensorflow as tf\n" + solution) == "tensorflow"
    assert backend.check_backend("from jax import numpy\n" + solution) == "tensorflow"
    assert (
        backend.check_backend("import importlib\ntf = importlib.import_module('tensorflow')\n" + solution)
        == "tensorflow"
    )
    assert backend.check_backend("exec('import tensorflow')\n" + solution) == "tensorflow"
    assert backend.check_backend(solution + "\nmodel = build_model()\nmodel.fit(x, y)\n") == "tensorflow"
    for guarded in (
        "\nif __name__ == '__main__':\n    build_model().fit(x, y)\n",
        "\ndef train():\n    build_model().fit(x, y)\n",
    ):
        assert backend.check_backend(solution + guarded) == backend.FAST_CHECK_BACKEND

    # build_model() trains its model before returning it, itself or through a helper: the numpy
    # backend cannot, and `grade submit` (where the trainer trains afresh) would not fail for it.
    def in_build_model(line: str) -> str:  # solutions/fashion.py's build_model() is its last function
        head, tail = solution.rsplit("    return model\n", 1)
        return f"{head}    {line}\n    return model\n{tail}"

    assert backend.check_backend(in_build_model("model.fit(x, y)")) == "tensorflow"
    assert (
        backend.check_backend(in_build_model("warm_up(model)") + "\ndef warm_up(m):\n    m.fit(x, y)\n") == "tensorflow"
    )
    assert backend.check_backend(in_build_model("model.summary()")) == backend.FAST_CHECK_BACKEND

    # tf.nn.relu as an activation (a course's spelling): checked on TensorFlow, and it passes there.
    path = fashion_submission(
        tmp_path, 'keras.layers.Dense(128, activation="relu")', "keras.layers.Dense(128, activation=tf.nn.relu)"
    )
    path.write_text("import tensorflow as tf\n" + path.read_text())
    result = grade(path=path, train=False, out_dir=tmp_path / "tf_nn", device="cpu")
    assert result.backend == "tensorflow"
    assert result.verdict == "passed", [c.message for c in result.checks if not c.passed]


def test_a_wrong_check_backend_setting_is_not_graded(tmp_path, monkeypatch):
    monkeypatch.setenv(backend.CHECK_BACKEND_ENV, "fastest")
    result = grade(path=config.SOLUTIONS_DIR / "fashion.py", train=False, out_dir=tmp_path / "run", device="cpu")
    assert result.verdict == "not_graded" and "use fast (the default) or chosen" in result.error


# ----------------------------------------------------------------------------- a submit's child

# Printed by the submission from inside the sandbox: the backend its code runs on.
BACKEND_PROBE = textwrap.dedent("""
    _built_model = build_model
    def build_model():
        import keras
        print("CHILD-BACKEND:", keras.backend.backend(), flush=True)
        return _built_model()
""")


def test_a_submits_child_gets_the_fast_backend_only_where_preprocess_is_plain_numpy():
    solution = (config.SOLUTIONS_DIR / "fashion.py").read_text()
    assert backend.describe_backend(solution) == backend.FAST_CHECK_BACKEND
    plain = {
        "a constant and a helper": "import numpy as np\nSCALE = np.float32(255)\n"
        "def scale(x):\n    return x / SCALE\n"
        "def preprocess(x):\n    return scale(x.reshape(-1, 28, 28, 1))\n",
        "math": "import math\ndef preprocess(x):\n    return x / math.pow(2, 8)\n",
    }
    keras_or_unsure = {
        "keras.ops": "import keras\ndef preprocess(x):\n    return keras.ops.cast(x, 'float32') / 255\n",
        "a layer made at module level": "from keras import layers\nrescale = layers.Rescaling(1 / 255)\n"
        "def preprocess(x):\n    return rescale(x)\n",
        "a helper that calls Keras": "from keras import ops\ndef scale(x):\n    return ops.divide(x, 255)\n"
        "def preprocess(x):\n    return scale(x)\n",
        "an import inside": "def preprocess(x):\n    from keras import ops\n    return ops.divide(x, 255)\n",
        "eval": "import keras\ndef preprocess(x):\n    return eval('keras.ops.divide(x, 255)')\n",
        "a class": "class Scale:\n    pass\ndef preprocess(x):\n    return Scale()(x)\n",
        "no preprocess at all": "def build_model():\n    pass\n",
    }
    for name, source in plain.items():
        assert backend.describe_backend(source) == backend.FAST_CHECK_BACKEND, name
    for name, source in keras_or_unsure.items():
        assert backend.describe_backend(source) == "tensorflow", name
    assert backend.describe_backend("import tensorflow as tf\n" + solution) == "tensorflow"  # check_backend's rules


def test_a_submit_described_on_the_fast_backend_trains_bitwise_the_same(tmp_path, shared_cache, monkeypatch):
    path = fashion_submission(tmp_path)
    path.write_text(path.read_text() + BACKEND_PROBE)
    spec = tiny_spec(tmp_path, "fashion", epochs=2)
    fast = grade(path=path, spec_path=spec, profile="tiny", out_dir=tmp_path / "fast", device="cpu")
    monkeypatch.setenv(backend.CHECK_BACKEND_ENV, "chosen")
    chosen = grade(path=path, spec_path=spec, profile="tiny", out_dir=tmp_path / "chosen", device="cpu")
    assert "CHILD-BACKEND: numpy" in fast.output and "CHILD-BACKEND: tensorflow" in chosen.output
    assert fast.backend == chosen.backend == "tensorflow"  # both trained on the chosen backend
    assert fast.metrics == chosen.metrics and fast.history == chosen.history
    assert fast.confusion_matrix == chosen.confusion_matrix
    assert [c for c in checks(fast) if c[0] != "training"] == [c for c in checks(chosen) if c[0] != "training"]
