"""`grade kernel`: see a convolution kernel at work on a picture.

    filter_image(image_path=Path("cat.jpg"), preset="sharpen", out_path=Path("cat-sharpen.png"))

The image is read with Pillow. A colour image is filtered channel by channel (R, G and B each
convolved with the kernel, as an image editor's filter does), unless grayscale=True converts
it to one channel first. The kernel is applied with 'same' padding and stride 1, so the
output has the input's size; the values are rounded and clipped to 0..255. The input and the
output are written side by side, with a caption above each, into one PNG.

The convolution is the reference solution's conv2d (solutions/convolution.py, our own code,
imported here) or, with `implementation`, the learner's conv2d, which runs only in a child
process like every piece of learner code.

Module level stays light (no NumPy, no Pillow): the command line imports it for --help.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from grader import config

PRESETS: dict[str, tuple[tuple[float, ...], ...]] = {
    "identity": ((0, 0, 0), (0, 1, 0), (0, 0, 0)),  # changes nothing: a check of the machinery
    "blur": ((1 / 9, 1 / 9, 1 / 9), (1 / 9, 1 / 9, 1 / 9), (1 / 9, 1 / 9, 1 / 9)),  # the mean of 3x3
    "brighten": ((0, 0, 0), (0, 1.5, 0), (0, 0, 0)),  # every pixel x 1.5, clipped at 255
    "sharpen": ((0, -1, 0), (-1, 5, -1), (0, -1, 0)),  # the pixel minus its neighbours, added back
    "edge": ((-1, -1, -1), (-1, 8, -1), (-1, -1, -1)),  # zero on flat areas, bright on outlines
}
DEFAULT_MAX_SIZE = 512
DEFAULT_TIME_LIMIT_S = 120.0
CAPTION_HEIGHT = 20  # pixels above the two pictures, for their captions
GAP = 10  # pixels between the two pictures
REFERENCE = config.SOLUTIONS_DIR / "convolution.py"


class KernelError(Exception):
    """Bad input: a malformed kernel, an unreadable image, a file that is not there (exit 2)."""


class ImplementationError(Exception):
    """The learner's conv2d did not give a usable output (exit 1)."""

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.message, self.hint = message, hint


@dataclass(frozen=True)
class FilteredImage:
    out_path: Path
    kernel: Any  # the (k, k) float array used
    kernel_name: str  # a preset's name, or "custom"
    original: Any  # uint8, (H, W) or (H, W, 3): the input as filtered (after any scaling down)
    filtered: Any  # uint8, same shape
    input_at: tuple[int, int]  # (left, top) of the input inside the PNG
    output_at: tuple[int, int]  # (left, top) of the output inside the PNG
    scaled_from: tuple[int, int] | None  # the original (width, height) when it was scaled down
    implementation: str  # "reference" or the learner's file


# --------------------------------------------------------------------------- the kernel


def parse_kernel(text: str) -> Any:
    """'0 -1 0; -1 5 -1; 0 -1 0' -> a 3x3 float array. Rows split on ';', numbers on spaces or
    commas; fractions such as 1/9 are allowed. The kernel must be square with an odd side, so
    that it has a centre pixel to sit on."""
    import numpy as np

    rows_text = [row.strip() for row in text.strip().strip("[]").split(";")]
    if not text.strip() or not all(rows_text):
        raise KernelError(
            f"--kernel {text!r} has an empty row: write rows of numbers separated by ';', e.g. \"0 0 0; 0 1 0; 0 0 0\""
        )
    rows = []
    for number, row in enumerate(rows_text, start=1):
        values = []
        for item in row.replace(",", " ").split():
            try:
                values.append(float(Fraction(item)))
            except (ValueError, ZeroDivisionError):
                raise KernelError(
                    f"--kernel: {item!r} in row {number} is not a number (write numbers such as 2, -0.5 or 1/9)"
                ) from None
        rows.append(values)
    widths = {len(row) for row in rows}
    if len(widths) > 1:
        raise KernelError(
            f"--kernel: the rows have different lengths ({', '.join(str(len(r)) for r in rows)}); "
            f"every row needs as many numbers as there are rows"
        )
    kernel = np.array(rows, dtype=np.float64)
    check_kernel_shape(kernel)
    return kernel


def check_kernel_shape(kernel: Any) -> None:
    height, width = kernel.shape
    if height != width:
        raise KernelError(f"--kernel is {height}x{width}: it must be square (3x3, 5x5, ...)")
    if height % 2 == 0:
        raise KernelError(
            f"--kernel is {height}x{width}: it needs an odd size (1x1, 3x3, 5x5, ...) so that it has a centre pixel"
        )


# --------------------------------------------------------------------------- the image


def read_image(path: Path, *, grayscale: bool, max_size: int) -> tuple[Any, tuple[int, int] | None]:
    """(uint8 array (H, W) or (H, W, 3), the original size if it was scaled down)."""
    import numpy as np
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not path.is_file():
        raise KernelError(f"no such image file: {path}")
    try:
        with Image.open(path) as opened:
            image = ImageOps.exif_transpose(opened)  # photos taken sideways stand upright
            image.load()
    except UnidentifiedImageError:
        raise KernelError(f"cannot read {path} as an image (Pillow does not recognise its format)") from None
    except OSError as err:
        raise KernelError(f"cannot read {path} as an image: {err}") from None
    one_channel = grayscale or image.mode in ("1", "L", "LA", "I", "I;16", "F")
    image = image.convert("L" if one_channel else "RGB")  # alpha is dropped, palettes become colours
    scaled_from = None
    if max(image.size) > max_size:
        scaled_from = image.size
        image.thumbnail((max_size, max_size), Image.Resampling.LANCZOS)
    return np.asarray(image, dtype=np.uint8), scaled_from


def side_by_side(
    original: Any, filtered: Any, captions: tuple[str, str]
) -> tuple[Any, tuple[int, int], tuple[int, int]]:
    """One RGB picture: the captions above, the input left, the output right, a white gap between."""
    from PIL import Image, ImageDraw

    def rgb(array: Any) -> Image.Image:
        return Image.fromarray(array).convert("RGB")

    height, width = original.shape[:2]
    canvas = Image.new("RGB", (2 * width + GAP, CAPTION_HEIGHT + height), "white")
    input_at, output_at = (0, CAPTION_HEIGHT), (width + GAP, CAPTION_HEIGHT)
    canvas.paste(rgb(original), input_at)
    canvas.paste(rgb(filtered), output_at)
    draw = ImageDraw.Draw(canvas)
    for (left, _), caption in zip((input_at, output_at), captions, strict=True):
        draw.text((left + 2, 4), caption, fill="black")
    return canvas, input_at, output_at


# --------------------------------------------------------------------------- the convolution


def load_reference() -> Any:
    if (problem := config.missing_solution(REFERENCE)) is not None:
        raise KernelError(f"{problem}; or pass --implementation YOUR_FILE.py")
    spec = importlib.util.spec_from_file_location("convolution_reference", REFERENCE)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def convolve_channels(channels: list[Any], kernel: Any, implementation: Path | None, time_limit_s: float) -> list[Any]:
    """Each (H, W) channel convolved with 'same' padding, by the reference or by the learner's conv2d."""
    if implementation is None:
        conv2d = load_reference().conv2d
        return [conv2d(channel, kernel, stride=1, padding="same") for channel in channels]

    from grader.describe.sandbox.calls import Call, call_functions

    size = "x".join(str(n) for n in channels[0].shape)
    text = f"conv2d(image {size}, kernel {kernel.shape[0]}x{kernel.shape[1]}, stride=1, padding='same')"
    calls = [
        Call(f"channel{index}", "conv2d", (channel, kernel), {"stride": 1, "padding": "same"}, text)
        for index, channel in enumerate(channels)
    ]
    try:
        source = implementation.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ImplementationError(f"cannot read {implementation}: {err}", "give a UTF-8 Python file") from None
    run = call_functions(source, calls, time_budget_s=time_limit_s, call_time_limit_s=time_limit_s)
    results = []
    for call in calls:
        returned = run.returned.get(call.id)
        if returned is None:
            failure = run.failure
            raise ImplementationError(
                failure.message if failure else f"{text} was not run", failure.hint if failure else ""
            )
        if returned.value is None:
            raise ImplementationError(returned.error or f"{text} failed", returned.hint)
        if returned.value.shape != channels[0].shape:
            got = "x".join(str(n) for n in returned.value.shape)
            raise ImplementationError(
                f"{text} returned shape {got}, expected {size}",
                "'same' padding with stride 1 keeps the image's size: check same_padding()",
            )
        results.append(returned.value)
    return results


def filter_image(
    *,
    image_path: Path,
    kernel_text: str | None = None,
    preset: str | None = None,
    implementation: Path | None = None,
    out_path: Path | None = None,
    grayscale: bool = False,
    max_size: int = DEFAULT_MAX_SIZE,
    time_limit_s: float = DEFAULT_TIME_LIMIT_S,
) -> FilteredImage:
    """Filter one image with a kernel and write input and output side by side as a PNG."""
    import numpy as np

    if kernel_text is not None and preset is not None:
        raise KernelError("give either --kernel or --preset, not both")
    if kernel_text is None and preset is None:
        raise KernelError(f'choose a kernel: --kernel "0 -1 0; -1 5 -1; 0 -1 0" or --preset ({", ".join(PRESETS)})')
    if preset is not None and preset not in PRESETS:
        raise KernelError(f"unknown preset {preset!r}: use one of {', '.join(PRESETS)}")
    if kernel_text is not None:
        kernel = parse_kernel(kernel_text)
    else:
        assert preset is not None  # checked above: one of the two is given
        kernel = np.array(PRESETS[preset], dtype=np.float64)
    kernel_name = preset or "custom"
    if max_size < 1:
        raise KernelError(f"--max-size must be 1 or more, not {max_size}")
    if implementation is not None and (not implementation.is_file() or implementation.suffix != ".py"):
        raise KernelError(f"--implementation {implementation}: no such Python file (.py)")
    image_path = Path(image_path)
    out_path = Path(out_path) if out_path is not None else Path.cwd() / f"{image_path.stem}-{kernel_name}.png"
    if out_path.suffix.lower() != ".png":
        raise KernelError(f"--out {out_path}: the output is a PNG, so name it *.png")

    original, scaled_from = read_image(image_path, grayscale=grayscale, max_size=max_size)
    pixels = original.astype(np.float64)  # floats, so that a learner's np.zeros_like(image) cannot overflow
    channels = [pixels] if pixels.ndim == 2 else [pixels[:, :, c] for c in range(pixels.shape[2])]
    outputs = convolve_channels(channels, kernel, implementation, time_limit_s)
    stacked = outputs[0] if pixels.ndim == 2 else np.stack(outputs, axis=-1)
    stacked = np.nan_to_num(stacked, nan=0.0, posinf=255.0, neginf=0.0)  # a learner's NaN shows as black
    filtered = np.clip(np.rint(stacked), 0, 255).astype(np.uint8)

    who = "reference" if implementation is None else implementation.name
    captions = ("input", f"{kernel_name} kernel, {who} conv2d")
    canvas, input_at, output_at = side_by_side(original, filtered, captions)
    try:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        canvas.save(out_path, format="PNG")
    except OSError as err:
        raise KernelError(f"cannot write {out_path}: {err.strerror or err}") from None
    return FilteredImage(
        out_path,
        kernel,
        kernel_name,
        original,
        filtered,
        input_at,
        output_at,
        scaled_from,
        "reference" if implementation is None else str(implementation),
    )
