"""Benchmark: what the cats_dogs reference's augmentation layers cost, on this backend and device.

On a GPU the four random layers of solutions/cats_dogs.py, not its convolutions, set the pace of
training (docs/measurements.md, "Cats vs dogs on a GPU"). This script measures, after a warm-up:

- one epoch as the courses run it (100 steps of 20 photos, then 500 validated), of the
  reference with its augmentation layers and of the same model without them, alternating,
  medians of --repeats epochs each; the ratio is with / without;
- each augmentation layer alone: one call in training mode on a batch of 20 photos (eager).

Random pixels stand in for photos (the cost does not depend on them), so it needs no dataset:

    KERAS_BACKEND=jax python bench/augmentation_cost.py [--out bench/results.md]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]
from submit_vs_plain import append_row  # noqa: E402

from grader.keras_support.backend import gpu_names  # noqa: E402

BATCH, TRAIN, VALIDATION = 20, 2000, 500


def reference_module():
    spec = importlib.util.spec_from_file_location("cats_dogs_reference", REPO / "solutions" / "cats_dogs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def warmed_up_model(module, *, augmented: bool, x: np.ndarray, y: np.ndarray):
    import keras

    keras.utils.set_random_seed(1)
    layers = module.augmentation_layers
    if not augmented:
        module.augmentation_layers = lambda: []
    try:
        model = module.build_model()
    finally:
        module.augmentation_layers = layers
    model.fit(x[: 10 * BATCH], y[: 10 * BATCH], validation_data=(x[:BATCH], y[:BATCH]), batch_size=BATCH, verbose=0)
    return model


def epoch_seconds(model, x: np.ndarray, y: np.ndarray) -> float:
    started = time.perf_counter()
    model.fit(x, y, validation_data=(x[:VALIDATION], y[:VALIDATION]), batch_size=BATCH, epochs=1, verbose=0)
    return time.perf_counter() - started


def layer_milliseconds(layer, batch) -> float:
    import keras

    layer(batch, training=True)
    started = time.perf_counter()
    for _ in range(50):
        out = layer(batch, training=True)
    keras.ops.convert_to_numpy(out)  # waits for the device
    return 1000 * (time.perf_counter() - started) / 50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="epochs timed per model (the median counts)")
    parser.add_argument("--out", type=Path, help="append the figures to this Markdown file")
    args = parser.parse_args()
    import keras

    module = reference_module()
    rng = np.random.default_rng(0)
    x = module.preprocess(rng.integers(0, 256, (TRAIN, 150, 150, 3), dtype=np.uint8))
    y = rng.integers(0, 2, (TRAIN, 1)).astype("float32")
    models = {augmented: warmed_up_model(module, augmented=augmented, x=x, y=y) for augmented in (True, False)}
    seconds: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(args.repeats):  # alternating, so that a noisy moment hits both
        for augmented, model in models.items():
            seconds[augmented].append(epoch_seconds(model, x, y))
    with_augmentation, without = (statistics.median(seconds[a]) for a in (True, False))
    batch = keras.ops.convert_to_tensor(x[:BATCH])
    layers = {type(layer).__name__: layer_milliseconds(layer, batch) for layer in module.augmentation_layers()}
    device = ", ".join(gpu_names()) or "cpu"
    row = (
        f"| {time.strftime('%Y-%m-%d')} | {keras.backend.backend()} | {device} | {with_augmentation:.2f} | "
        f"{without:.2f} | **{with_augmentation / without:.1f}** | "
        + ", ".join(f"{name} {ms:.1f}" for name, ms in layers.items())
        + " |\n"
    )
    print(row, end="")
    append_row(args.out, row)


if __name__ == "__main__":
    main()
