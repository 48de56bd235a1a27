"""JPEG photos decoded with Pillow into uint8 RGB arrays of one fixed size."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from grader.data.errors import DataError


def read_jpeg(path: Path, shape: tuple[int, int]) -> np.ndarray:
    """One photo as a (height, width, 3) uint8 array: converted to RGB, resized bilinearly."""
    height, width = shape
    try:
        with Image.open(path) as image:
            if image.format != "JPEG":
                raise DataError(
                    f"{path} is not a JPEG image: Pillow reads it as {image.format}. "
                    "Replace it with the original photo."
                )
            rgb = image.convert("RGB").resize((width, height), Image.Resampling.BILINEAR)
    except UnidentifiedImageError:
        raise DataError(
            f"{path} is not a JPEG image (not an image format Pillow can read). Replace it with the original photo."
        ) from None
    except OSError as err:  # e.g. a truncated JPEG
        raise DataError(f"{path} could not be decoded as a JPEG: {err}. Replace it with the original photo.") from None
    return np.asarray(rgb, dtype=np.uint8)


def read_jpegs(
    paths: list[Path], shape: tuple[int, int], on_done: Callable[[int], None] = lambda n: None
) -> np.ndarray:
    """All photos, in order, as one (N, height, width, 3) array. Pillow decodes and resizes
    without holding the GIL, so threads use every core."""
    out = np.empty((len(paths), *shape, 3), dtype=np.uint8)
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        for index, array in enumerate(pool.map(lambda p: read_jpeg(p, shape), paths)):
            out[index] = array
            on_done(1)
    return out
