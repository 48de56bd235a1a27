"""`grade kernel`: the PNG it writes, checked pixel by pixel against a direct NumPy computation.

The direct computation here is independent of the grader's code: zero-pad by k // 2 (odd
square kernels, stride 1), multiply every window by the kernel, sum, round, clip to 0..255.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from numpy.lib.stride_tricks import sliding_window_view
from PIL import Image

from grader import config
from grader.cli import main as cli
from grader.report.visual.kernel_image import CAPTION_HEIGHT, GAP

PHOTO = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "cats_vs_dogs" / "train" / "cats" / "cat.0.jpg"
SHARPEN = np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=float)
EDGE = np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], dtype=float)


def direct_same_convolution(channel: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """'same' convolution of one channel, stride 1, odd square kernel; rounded and clipped like the tool."""
    half = kernel.shape[0] // 2
    padded = np.pad(channel.astype(float), half)
    windows = sliding_window_view(padded, kernel.shape)
    return np.clip(np.rint(np.einsum("ijkl,kl->ij", windows, kernel)), 0, 255).astype(np.uint8)


def run_kernel(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["kernel", *args])
    return result.exit_code, result.output


def read_png(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        assert image.format == "PNG"
        return np.asarray(image.convert("RGB"))


def halves(png: np.ndarray, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The input and output pictures inside the side-by-side PNG."""
    body = png[CAPTION_HEIGHT : CAPTION_HEIGHT + height]
    return body[:, :width], body[:, width + GAP : 2 * width + GAP]


@pytest.fixture
def gray_image(tmp_path) -> tuple[Path, np.ndarray]:
    pixels = (np.arange(7 * 9).reshape(7, 9) * 4 % 256).astype(np.uint8)
    pixels[3, 4] = 250  # a bright dot: sharpening pushes it past 255, so the clip shows
    path = tmp_path / "gray.png"
    Image.fromarray(pixels, mode="L").save(path)
    return path, pixels


def test_sharpen_a_gray_image(tmp_path, gray_image):
    path, pixels = gray_image
    out = tmp_path / "out.png"
    code, output = run_kernel(str(path), "--preset", "sharpen", "--out", str(out))
    assert code == 0, output
    png = read_png(out)
    assert png.shape == (CAPTION_HEIGHT + 7, 2 * 9 + GAP, 3)
    left, right = halves(png, 7, 9)
    assert np.array_equal(left, np.repeat(pixels[:, :, None], 3, axis=2))
    assert np.array_equal(right[:, :, 0], direct_same_convolution(pixels, SHARPEN))
    assert np.array_equal(right[:, :, 0], right[:, :, 2])  # gray stays gray
    p = pixels.astype(int)
    # A few pixels by hand: the corner sees zeros outside the image; the dot is clipped at 255.
    assert right[0, 0, 0] == np.clip(5 * p[0, 0] - p[0, 1] - p[1, 0], 0, 255)
    assert right[2, 6, 0] == np.clip(5 * p[2, 6] - p[1, 6] - p[3, 6] - p[2, 5] - p[2, 7], 0, 255)
    assert right[3, 4, 0] == 255


def test_a_custom_kernel_on_a_colour_image_filters_each_channel(tmp_path):
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, size=(6, 5, 3), dtype=np.uint8)
    path = tmp_path / "colour.png"
    Image.fromarray(pixels, mode="RGB").save(path)
    out = tmp_path / "bright.png"
    code, output = run_kernel(str(path), "--kernel", "0 0 0; 0 3/2 0; 0 0 0", "--out", str(out))
    assert code == 0, output
    _, right = halves(read_png(out), 6, 5)
    assert np.array_equal(right, np.clip(np.rint(pixels * 1.5), 0, 255).astype(np.uint8))
    blur_out = tmp_path / "blur.png"
    assert run_kernel(str(path), "--preset", "blur", "--out", str(blur_out))[0] == 0
    _, blurred = halves(read_png(blur_out), 6, 5)
    box = np.full((3, 3), 1 / 9)
    for channel in range(3):
        assert np.array_equal(blurred[:, :, channel], direct_same_convolution(pixels[:, :, channel], box))
    # --grayscale: one channel (Pillow's luminance), filtered once, shown gray.
    gray_out = tmp_path / "gray.png"
    assert run_kernel(str(path), "--preset", "identity", "--grayscale", "--out", str(gray_out))[0] == 0
    left, right = halves(read_png(gray_out), 6, 5)
    luminance = np.asarray(Image.fromarray(pixels).convert("L"))
    assert np.array_equal(left[:, :, 0], luminance) and np.array_equal(right[:, :, 1], luminance)


def test_edge_on_a_real_photo(tmp_path):
    if not PHOTO.is_file():
        pytest.skip(f"the photo {PHOTO} is not here")
    with Image.open(PHOTO) as image:
        pixels = np.asarray(image.convert("RGB"))
    height, width = pixels.shape[:2]
    assert max(height, width) <= 512  # not scaled down: the PNG holds the photo's own pixels
    out = tmp_path / "cat-edge.png"
    code, output = run_kernel(str(PHOTO), "--preset", "edge", "--out", str(out))
    assert code == 0, output
    png = read_png(out)
    assert png.shape == (CAPTION_HEIGHT + height, 2 * width + GAP, 3)
    left, right = halves(png, height, width)
    assert np.array_equal(left, pixels)
    for row, col in [(0, 0), (height - 1, width - 1), (100, 200), (height // 2, width // 2), (17, width - 1)]:
        window = np.pad(pixels.astype(float), ((1, 1), (1, 1), (0, 0)))[row : row + 3, col : col + 3]
        for channel in range(3):
            value = np.clip(np.rint(np.sum(window[:, :, channel] * EDGE)), 0, 255)
            assert right[row, col, channel] == value, (row, col, channel)
    expected_red = direct_same_convolution(pixels[:, :, 0], EDGE)
    assert np.array_equal(right[:, :, 0], expected_red)
    assert (expected_red > 0).any() and (expected_red == 0).any()  # an edge image: not blank, not saturated


def test_big_images_are_scaled_down_first(tmp_path):
    path = tmp_path / "big.png"
    Image.fromarray(np.full((30, 40), 128, np.uint8), mode="L").save(path)
    out = tmp_path / "small.png"
    code, output = run_kernel(str(path), "--preset", "identity", "--max-size", "20", "--out", str(out))
    assert code == 0 and "scaled 40x30 down to 20x15" in output
    assert read_png(out).shape == (CAPTION_HEIGHT + 15, 2 * 20 + GAP, 3)


def test_the_learners_conv2d_runs_in_a_child_and_gives_the_same_picture(tmp_path, gray_image):
    path, pixels = gray_image
    mine = tmp_path / "mine" / "convolution.py"
    mine.parent.mkdir()
    mine.write_text((config.SOLUTIONS_DIR / "convolution.py").read_text())
    out = tmp_path / "mine.png"
    code, output = run_kernel(str(path), "--preset", "sharpen", "--implementation", str(mine), "--out", str(out))
    assert code == 0 and "with your conv2d" in output, output
    _, right = halves(read_png(out), 7, 9)
    assert np.array_equal(right[:, :, 0], direct_same_convolution(pixels, SHARPEN))


def test_an_unfinished_conv2d_says_which_todo(tmp_path, gray_image):
    path, _ = gray_image
    skeleton = tmp_path / "convolution.py"
    skeleton.write_text((config.CHALLENGES_DIR / "convolution.py").read_text())
    out = tmp_path / "never.png"
    code, output = run_kernel(str(path), "--preset", "edge", "--implementation", str(skeleton), "--out", str(out))
    assert code == 1
    assert "TODO 2 is not done yet" in output and "same_padding()" in output  # 'same' padding comes first
    assert not out.exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--kernel", "1 2 3; 4 x 6; 7 8 9"], "'x' in row 2 is not a number"),
        (["--kernel", "1 2 3; 4 5 6"], "is 2x3: it must be square"),
        (["--kernel", "1 1; 1 1"], "is 2x2: it needs an odd size"),
        (["--kernel", "1 2 3; 4 5; 7 8 9"], "the rows have different lengths (3, 2, 3)"),
        (["--kernel", "1 2 3;; 7 8 9"], "has an empty row"),
        (["--kernel", "1/0"], "'1/0' in row 1 is not a number"),
        (["--kernel", "1", "--preset", "blur"], "either --kernel or --preset, not both"),
        ([], "choose a kernel"),
    ],
)
def test_a_bad_kernel_exits_2_with_a_clear_message(tmp_path, gray_image, args, message):
    path, _ = gray_image
    code, output = run_kernel(str(path), *args, "--out", str(tmp_path / "x.png"))
    assert code == 2 and message in output, output
    assert not (tmp_path / "x.png").exists()


def test_an_unreadable_image_exits_2(tmp_path):
    not_an_image = tmp_path / "notes.jpg"
    not_an_image.write_text("not a picture")
    code, output = run_kernel(str(not_an_image), "--preset", "blur")
    assert code == 2 and f"cannot read {not_an_image} as an image" in output
    code, output = run_kernel(str(tmp_path / "missing.jpg"), "--preset", "blur")
    assert code == 2 and "no such image file" in output
