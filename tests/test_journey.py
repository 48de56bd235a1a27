"""The journey of images through the convolutions: activations checked against a direct numpy
computation, the figure's grid and pixels, and `grade journey` on good and bad input.

No training: small models with known (seeded random) weights, real test images."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from grader.cli import main
from grader.keras_support import backend
from grader.report.visual.journey import JourneyError, compute_journey

keras = backend.import_keras()
FASHION_SHAPE = (28, 28, 1)


# --------------------------------------------------------------------------- models and numpy


def seeded_weights(model: keras.Model, seed: int = 7) -> None:
    """Random but known weights, biases included (Keras starts biases at 0, which hides bias bugs)."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in model.get_weights()])


def fashion_model(names=("first_filters", "shrink", "second_filters", "average")) -> keras.Model:
    """Two conv/pool stages of different kinds, with names that say nothing about the layer type."""
    model = keras.Sequential(
        [
            keras.Input(FASHION_SHAPE),
            keras.layers.Conv2D(3, 3, activation="relu", name=names[0]),
            keras.layers.MaxPooling2D(2, name=names[1]),
            keras.layers.Conv2D(2, 3, padding="same", name=names[2]),
            keras.layers.AveragePooling2D(2, name=names[3]),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    seeded_weights(model)
    return model


def conv2d(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray, padding: str = "valid") -> np.ndarray:
    """x (H, W, C), kernel (k, k, C, F): the cross-correlation Keras' Conv2D computes, in float64."""
    k = kernel.shape[0]
    if padding == "same":
        x = np.pad(x, ((k // 2, k // 2), (k // 2, k // 2), (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(0, 1))  # (H', W', C, k, k)
    return np.einsum("ijcab,abcf->ijf", windows.astype(np.float64), kernel.astype(np.float64)) + bias


def pool2d(x: np.ndarray, reduce) -> np.ndarray:
    h, w = x.shape[0] // 2, x.shape[1] // 2
    return reduce(x[: 2 * h, : 2 * w].reshape(h, 2, w, 2, -1), axis=(1, 3))


def numpy_journey(model: keras.Model, image: np.ndarray) -> list[np.ndarray]:
    """Every conv/pool output of fashion_model() for one raw image, computed directly."""
    (k1, b1), (k2, b2) = [layer.get_weights() for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    x = image.reshape(FASHION_SHAPE).astype(np.float64) / 255.0
    first = np.maximum(conv2d(x, k1, b1), 0.0)
    pooled = pool2d(first, np.max)
    second = conv2d(pooled, k2, b2, padding="same")
    return [first, pooled, second, pool2d(second, np.mean)]


@pytest.fixture(scope="module")
def fashion_test(data_dir):
    from grader.data import load_dataset

    return load_dataset("fashion_mnist", data_dir=data_dir).test


# --------------------------------------------------------------------------- activations


@pytest.mark.parametrize("filter_index", [0, 1])
def test_activations_match_a_direct_computation(fashion_test, filter_index):
    model = fashion_model()
    indices = [0, 23, 28]
    journey = compute_journey(
        model,
        fashion_test.images[indices],
        image_indices=indices,
        labels=["a", "b", "c"],
        input_shape=FASHION_SHAPE,
        scale=255.0,
        filter_index=filter_index,
    )
    # Found by class, not by name: these layers are called nothing like "conv2d".
    assert [(s.name, s.type) for s in journey.steps] == [
        ("first_filters", "Conv2D"),
        ("shrink", "MaxPooling2D"),
        ("second_filters", "Conv2D"),
        ("average", "AveragePooling2D"),
    ]
    # The sizes shrink: valid 3x3 convolution -2, pooling halves (rounding down), 'same' keeps.
    assert [s.shape for s in journey.steps] == [(26, 26, 3), (13, 13, 3), (13, 13, 2), (6, 6, 2)]
    for row, index in enumerate(indices):
        expected = numpy_journey(model, fashion_test.images[index])
        for step, direct in zip(journey.steps, expected, strict=True):
            assert step.maps.shape == (3, *direct.shape[:2])
            np.testing.assert_allclose(step.maps[row], direct[..., filter_index], rtol=1e-4, atol=1e-5)
    # Not all zeros (a dead filter would make the comparison above meaningless).
    assert all(np.abs(s.maps).max() > 0.01 for s in journey.steps)


def test_the_first_convolution_by_hand(fashion_test):
    """The first convolution written out as the sum it is, pixel by pixel, for a trouser image."""
    model = fashion_model()
    kernel, bias = model.layers[0].get_weights()
    journey = compute_journey(
        model,
        fashion_test.images[[5]],
        image_indices=[5],
        labels=["x"],
        input_shape=FASHION_SHAPE,
        scale=255.0,
        filter_index=1,
    )
    x = fashion_test.images[5].astype(np.float64) / 255.0
    by_hand = np.zeros((26, 26))
    for i in range(26):
        for j in range(26):
            total = bias[1] + sum(x[i + a, j + b] * kernel[a, b, 0, 1] for a in range(3) for b in range(3))
            by_hand[i, j] = max(total, 0.0)
    # The map is far from symmetric, so a transposed or mirrored map could not pass.
    assert np.abs(by_hand - by_hand.T).max() > 0.1 and np.abs(by_hand - by_hand[:, ::-1]).max() > 0.1
    np.testing.assert_allclose(journey.steps[0].maps[0], by_hand, rtol=1e-4, atol=1e-5)
    # Max pooling: each pooled pixel is the largest of its 2x2 block of the convolution's output.
    assert journey.steps[1].maps[0, 6, 4] == pytest.approx(by_hand[12:14, 8:10].max(), rel=1e-5)


def test_layers_inside_a_nested_sequential_are_followed(fashion_test):
    """A conv stack wrapped in its own Sequential gives the same maps as the flat model."""
    flat = fashion_model()
    stack = keras.Sequential(
        [
            keras.Input(FASHION_SHAPE),
            *[keras.layers.deserialize(keras.layers.serialize(layer)) for layer in flat.layers[:4]],
        ]
    )
    nested = keras.Sequential(
        [keras.Input(FASHION_SHAPE), stack, keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")]
    )
    nested.set_weights(flat.get_weights())
    images = fashion_test.images[[0, 1]]
    kwargs = dict(image_indices=[0, 1], labels=["a", "b"], input_shape=FASHION_SHAPE, scale=255.0, filter_index=1)
    expected = compute_journey(flat, images, **kwargs)
    found = compute_journey(nested, images, **kwargs)
    assert [s.type for s in found.steps] == [s.type for s in expected.steps]
    for got, want in zip(found.steps, expected.steps, strict=True):
        np.testing.assert_allclose(got.maps, want.maps, rtol=1e-5, atol=1e-6)


def test_augmentation_is_off_and_rgb_photos_work():
    """A cats-vs-dogs style model: augmentation layers first, RGB 150x150 photos."""
    model = keras.Sequential(
        [
            keras.Input((150, 150, 3)),
            keras.layers.RandomFlip("horizontal"),
            keras.layers.RandomRotation(0.1),
            keras.layers.RandomZoom(0.2),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    seeded_weights(model, seed=3)
    photos = np.random.default_rng(0).integers(0, 256, (2, 150, 150, 3), dtype=np.uint8)
    journey = compute_journey(
        model,
        photos,
        image_indices=[0, 1],
        labels=["cat", "dog"],
        input_shape=(150, 150, 3),
        scale=255.0,
        filter_index=3,
    )
    assert [s.shape for s in journey.steps] == [(148, 148, 4), (74, 74, 4)]
    kernel, bias = model.layers[3].get_weights()
    # Unchanged photos: had a flip, rotation or zoom been applied, these would differ.
    direct = np.maximum(conv2d(photos[1] / 255.0, kernel, bias), 0.0)[..., 3]
    np.testing.assert_allclose(journey.steps[0].maps[1], direct, rtol=1e-4, atol=1e-5)


def test_filter_out_of_range_names_the_layer(fashion_test):
    common = dict(image_indices=[0], labels=["a"], input_shape=FASHION_SHAPE, scale=255.0)
    with pytest.raises(JourneyError, match=r"first_filters \(Conv2D\) has 3 filters, numbered 0 to 2"):
        compute_journey(fashion_model(), fashion_test.images[[0]], filter_index=3, **common)
    # Filter 2 exists in the first convolution but not in the second, which has 2.
    with pytest.raises(JourneyError, match=r"second_filters \(Conv2D\) has 2 filters"):
        compute_journey(fashion_model(), fashion_test.images[[0]], filter_index=2, **common)
    with pytest.raises(JourneyError, match="numbered from 0"):
        compute_journey(fashion_model(), fashion_test.images[[0]], filter_index=-1, **common)


def test_a_model_without_convolutions_is_refused(fashion_test):
    dense = keras.Sequential([keras.Input(FASHION_SHAPE), keras.layers.Flatten(), keras.layers.Dense(10)])
    with pytest.raises(JourneyError, match="no convolution or pooling layers"):
        compute_journey(
            dense, fashion_test.images[[0]], image_indices=[0], labels=["a"], input_shape=FASHION_SHAPE, scale=255.0
        )


# --------------------------------------------------------------------------- the figure


def test_figure_grid_size_and_pixels(fashion_test):
    """One row per image, the input plus one column per layer; the pixels show the maps' values."""
    from matplotlib import colormaps

    from grader.report.plots import journey_figure, png_bytes

    model = fashion_model()
    indices = [0, 23, 28]
    journey = compute_journey(
        model,
        fashion_test.images[indices],
        image_indices=indices,
        labels=["a", "b", "c"],
        input_shape=FASHION_SHAPE,
        scale=255.0,
        filter_index=0,
    )
    figure = journey_figure(journey)
    assert len(figure.axes) == 3 * (1 + 4)
    png = png_bytes(figure)
    picture = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    width, height = figure.get_size_inches() * figure.dpi
    assert picture.shape[:2] == (round(height), round(width))
    # The axes' tick labels give each map's size: 28 for the input, then 26, 13, 13, 6.
    sizes = [int(ax.get_xticks()[-1]) for ax in figure.axes[:5]]
    assert sizes == [28, 26, 13, 13, 6]
    # Cell (i, j) of the second image's first convolution, drawn where matplotlib put it, has
    # the colour of its numpy-computed value on a scale from that map's minimum to maximum.
    direct = numpy_journey(model, fashion_test.images[23])[0][..., 0]
    ax = figure.axes[5 + 1]  # second row, first layer
    low, high = direct.min(), direct.max()
    brightest = np.unravel_index(direct.argmax(), direct.shape)
    # Pixels on the sneaker (rows 7 to 20), where the map is not the same when transposed.
    for i, j in [(8, 14), (15, 3), (12, 20), (17, 24), brightest]:
        x, y = ax.transData.transform((j + 0.5, i + 0.5))
        shown = picture[round(picture.shape[0] - y), round(x)]
        expected = np.round(np.array(colormaps["viridis"]((direct[i, j] - low) / (high - low))[:3]) * 255)
        assert np.abs(shown - expected).max() <= 3, (i, j, shown, expected)


# --------------------------------------------------------------------------- grade journey


@pytest.fixture()
def saved_model(tmp_path) -> Path:
    path = tmp_path / "my_model.keras"
    fashion_model().save(path)
    return path


def test_grade_journey_on_a_model_file(saved_model, tmp_path, data_dir):
    out = tmp_path / "figures" / "journey.png"
    outcome = CliRunner().invoke(
        main,
        [
            "journey",
            str(saved_model),
            "--challenge",
            "cnn",
            "--images",
            "3,4",
            "--filter",
            "1",
            "--out",
            str(out),
            "--data-dir",
            str(data_dir),
        ],
    )
    assert outcome.exit_code == 0, outcome.output
    assert (
        "input 28x28 -> first_filters 26x26x3 -> shrink 13x13x3 -> second_filters 13x13x2 -> average 6x6x2"
        in outcome.output
    )
    picture = Image.open(out)
    assert picture.format == "PNG" and picture.width > 400 and picture.height > 200


def test_grade_journey_default_output_beside_the_model(saved_model, data_dir):
    outcome = CliRunner().invoke(
        main, ["journey", str(saved_model), "--challenge", "fashion", "--data-dir", str(data_dir)]
    )
    assert outcome.exit_code == 0, outcome.output
    assert (saved_model.parent / "my_model-journey.png").is_file()
    assert "test images 0, 23, 28" in outcome.output


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["{missing}"], "no such file or folder"),
        (["{model}"], "which challenge is my_model.keras for? Pass --challenge NAME"),
        (["{model}", "--challenge", "nonsense"], "unknown challenge 'nonsense'"),
        (["{model}", "--challenge", "fashion", "--images", "10000"], "no test image 10000"),
        (["{model}", "--challenge", "fashion", "--filter", "5"], "has 3 filters, numbered 0 to 2"),
        (["{model}", "--challenge", "cats_dogs"], "the model takes inputs of shape (28, 28, 1)"),
        (["{model}", "--challenge", "fashion", "--images", "1,x"], "give test image indices separated by commas"),
        (["{folder}"], "holds no model.keras"),
        (["{dense}", "--challenge", "fashion"], "no convolution or pooling layers"),
    ],
)
def test_grade_journey_bad_input(saved_model, tmp_path, data_dir, arguments, message):
    dense = tmp_path / "dense.keras"
    keras.Sequential([keras.Input(FASHION_SHAPE), keras.layers.Flatten(), keras.layers.Dense(10)]).save(dense)
    paths = {"missing": tmp_path / "nowhere" / "model.keras", "model": saved_model, "folder": tmp_path, "dense": dense}
    arguments = [a.format(**paths) for a in arguments] + ["--data-dir", str(data_dir)]
    outcome = CliRunner().invoke(main, ["journey", *arguments])
    assert outcome.exit_code == 2, outcome.output
    assert message in outcome.output


# --------------------------------------------------------------------------- other backends


@pytest.mark.parametrize("other_backend", ["jax", "torch"])
def test_same_maps_under_another_backend(other_backend, saved_model, tmp_path, data_dir):
    """The journey uses Keras' API only: another backend computes the same maps from the same model."""
    if find_spec(other_backend) is None:
        pytest.skip(f"{other_backend} is not installed: cannot run Keras on the {other_backend} backend here")
    script = (
        "import sys, numpy as np\n"
        "from grader.data import load_dataset\n"
        "from grader.keras_support.inspect_model import load_model\n"
        "from grader.report.visual.journey import compute_journey\n"
        f"test = load_dataset('fashion_mnist', data_dir={str(data_dir)!r}).test\n"
        f"j = compute_journey(load_model({str(saved_model)!r}), test.images[[0, 23]], image_indices=[0, 23],\n"
        "                    labels=['a', 'b'], input_shape=(28, 28, 1), scale=255.0, filter_index=1)\n"
        f"np.savez({str(tmp_path / 'maps.npz')!r}, *[s.maps for s in j.steps])\n"
    )
    env = {**os.environ, "KERAS_BACKEND": other_backend}
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=300)
    from grader.data import load_dataset
    from grader.keras_support.inspect_model import load_model

    test = load_dataset("fashion_mnist", data_dir=data_dir).test
    here = compute_journey(
        load_model(saved_model),
        test.images[[0, 23]],
        image_indices=[0, 23],
        labels=["a", "b"],
        input_shape=FASHION_SHAPE,
        scale=255.0,
        filter_index=1,
    )
    there = np.load(tmp_path / "maps.npz")
    for index, step in enumerate(here.steps):
        np.testing.assert_allclose(there[f"arr_{index}"], step.maps, rtol=1e-4, atol=1e-5)
