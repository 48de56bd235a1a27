"""Verified raw files -> the three splits as uint8 images and int64 labels."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import numpy as np

from grader.data import progress as bars
from grader.data.dataset import SPLITS, Split
from grader.data.errors import DataError
from grader.data.idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx
from grader.data.jpeg import read_jpegs
from grader.data.manifest import DatasetInfo, IdxSplit

# Part of every converted cache's stamp: change it whenever conversion would give other arrays.
CONVERTER = "1: IDX as stored; JPEG -> RGB -> Pillow bilinear resize"


def convert(info: DatasetInfo, folder: Path, *, progress: bool) -> dict[str, Split]:
    if info.format == "idx":
        return _convert_idx(info, folder)
    return _convert_jpeg_folders(info, folder, progress)


def _convert_idx(info: DatasetInfo, folder: Path) -> dict[str, Split]:
    arrays: dict[str, np.ndarray] = {}

    def array(name: str, magic: int) -> np.ndarray:
        if name not in arrays:
            arrays[name] = read_idx(folder / name, magic=magic)
        return arrays[name]

    splits = {}
    for split in SPLITS:
        layout = info.splits[split]
        assert isinstance(layout, IdxSplit)
        images, labels = array(layout.images, IMAGES_MAGIC), array(layout.labels, LABELS_MAGIC)
        if images.shape[1:] != info.image_shape:
            raise DataError(
                f"{info.name}: {folder / layout.images} holds images of shape {images.shape[1:]}, "
                f"expected {info.image_shape}"
            )
        if len(images) != len(labels):
            raise DataError(
                f"{info.name}: {layout.images} has {len(images):,} images but {layout.labels} "
                f"has {len(labels):,} labels"
            )
        if not 0 <= layout.start < layout.stop <= len(labels):
            raise DataError(
                f"{info.name}: split {split} wants examples {layout.start}..{layout.stop - 1}, "
                f"the files hold {len(labels):,}"
            )
        if labels.size and labels.max() >= len(info.class_names):
            raise DataError(
                f"{info.name}: {layout.labels} has label {labels.max()}, "
                f"but there are only {len(info.class_names)} classes"
            )
        part = slice(layout.start, layout.stop)
        splits[split] = Split(images[part].copy(), labels[part].astype(np.int64))  # copies: owned, writable
    return splits


def _convert_jpeg_folders(info: DatasetInfo, folder: Path, progress: bool) -> dict[str, Split]:
    files = {split: info.split_files(split) for split in SPLITS}
    shape = cast(tuple[int, int], info.image_shape[:2])  # photos: (height, width, 3)
    total = sum(len(f) for f in files.values())
    splits = {}
    with bars.bar(f"decoding {info.name} photos", total, progress) as advance:
        for split in SPLITS:
            images = read_jpegs([folder / path for path, _ in files[split]], shape, advance)
            labels = np.array([label for _, label in files[split]], dtype=np.int64)
            splits[split] = Split(images, labels)
    return splits
