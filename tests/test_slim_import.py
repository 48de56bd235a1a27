"""`grade check`'s Keras import (numpy backend) defers JAX and pyplot until used, and loses nothing.

Each case runs in a fresh interpreter: what is imported is a property of the whole process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from grader import config

BUILD = """
import json, sys
import numpy as np
{importer}
model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
                          keras.layers.MaxPooling2D(2), keras.layers.Flatten(),
                          keras.layers.Dense(10, activation="softmax")])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
config = keras.saving.serialize_keras_object(model)
keras.saving.deserialize_keras_object(config, safe_mode=True)
before = {{"jax": "jax._src" in sys.modules, "pyplot": "matplotlib.figure" in sys.modules}}
rng = np.random.default_rng(5)
model.set_weights([rng.normal(0, 0.3, w.shape).astype("float32") for w in model.get_weights()])
x = rng.random((3, 28, 28, 1)).astype("float32")
outputs = keras.ops.convert_to_numpy(model(x)).tolist()  # a convolution and a pooling: JAX's, now imported
fft = [keras.ops.convert_to_numpy(part).tolist() for part in keras.ops.fft((np.arange(4.0), np.zeros(4)))]
import matplotlib.pyplot as plt
from keras.src.visualization import plot_image_gallery
print(json.dumps({{"before": before, "outputs": outputs, "fft": fft, "jax_after": "jax._src" in sys.modules,
                  "keras_pyplot_is_pyplot": plot_image_gallery.plt.figure is plt.figure}}))
"""
SLIM = "from grader.keras_support import backend\nkeras = backend.import_keras()"
PLAIN = "import keras"


def run_numpy_keras(importer: str, **env: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", BUILD.format(importer=importer)],
        capture_output=True,
        text=True,
        cwd=config.REPO_ROOT,
        timeout=300,
        env={**os.environ, "KERAS_BACKEND": "numpy", **env},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_check_builds_and_describes_without_importing_jax_or_pyplot_and_computes_as_usual():
    slim, plain = run_numpy_keras(SLIM), run_numpy_keras(PLAIN)
    assert slim["before"] == {"jax": False, "pyplot": False}  # the model was built, compiled, serialised
    assert plain["before"] == {"jax": True, "pyplot": True}  # what every check paid before
    assert slim["outputs"] == plain["outputs"] and slim["fft"] == plain["fft"]
    assert slim["jax_after"] and slim["keras_pyplot_is_pyplot"]


def test_if_keras_needs_a_deferred_module_while_importing_it_is_imported_as_usual():
    # Pretend Keras' numpy backend were needed while importing: the deferred import gives up, and
    # the usual one (with the real JAX) runs in its place.
    importer = (
        "import grader.keras_support.slim_import as slim\n"
        "slim.ABSENT_WHILE_IMPORTING = slim.ABSENT_WHILE_IMPORTING + ('keras.src.backend.numpy.nn',)\n"
        "from grader.keras_support import backend\nkeras = backend.import_keras()"
    )
    fallback, plain = run_numpy_keras(importer), run_numpy_keras(PLAIN)
    assert fallback["before"]["jax"] is True
    assert fallback["outputs"] == plain["outputs"] and fallback["keras_pyplot_is_pyplot"]
