"""The converted cache: each split as uint8 .npy files plus a JSON stamp.

The stamp records what the arrays were made from (the sha256 of every source file, the split
layout, the converter) and the sha256 and size of every .npy. A load re-hashes the .npy files
(about 0.1 s for Fashion-MNIST) and uses them only if everything matches, so a stale or damaged
cache is rebuilt instead of trusted. Writes go to a staging folder that is renamed into place.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from grader.data import atomic, locations
from grader.data.convert import CONVERTER
from grader.data.dataset import SPLITS, Split
from grader.data.manifest import DatasetInfo

STAMP = "stamp.json"
CACHE_FORMAT = 1
_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def recipe(info: DatasetInfo) -> dict[str, Any]:
    """Everything the converted arrays depend on; a cache made from another recipe is stale."""
    return {
        "converter": CONVERTER,
        "format": info.format,
        "image_shape": list(info.image_shape),
        "class_names": list(info.class_names),
        "splits": {name: asdict(layout) for name, layout in info.splits.items()},
        "sources": {f.path: f.sha256 for f in info.files},
    }


def _array_files(split: str) -> tuple[str, str]:
    return f"{split}_images.npy", f"{split}_labels.npy"


def _load_npy(path: Path, sha256: str, size: int) -> np.ndarray | None:
    """The array in path if the file has exactly the recorded size and sha256 (one read)."""
    try:
        if path.stat().st_size != size:
            return None
        with open(path, "rb") as handle:
            reader = _HEADER_READERS.get(np.lib.format.read_magic(handle))
            if reader is None:
                return None
            shape, fortran_order, dtype = reader(handle)
            offset = handle.tell()
            handle.seek(0)
            buffer = bytearray(size)
            handle.readinto(buffer)
    except (OSError, ValueError):
        return None
    if fortran_order or dtype.hasobject or hashlib.sha256(buffer).hexdigest() != sha256:
        return None
    # A view of the bytearray: no second copy, and writable like np.load's result.
    return np.frombuffer(buffer, dtype=dtype, count=int(np.prod(shape)), offset=offset).reshape(shape)


def read_converted(info: DatasetInfo, cache: Path) -> dict[str, Split] | None:
    """The cached splits, if the cache holds them intact for the current manifest; else None."""
    folder = locations.converted_dir(cache, info.name)
    try:
        stamp = json.loads((folder / STAMP).read_text())
    except (OSError, ValueError):
        return None
    if stamp.get("cache_format") != CACHE_FORMAT or stamp.get("recipe") != recipe(info):
        return None
    splits = {}
    for split in SPLITS:
        arrays = []
        for name in _array_files(split):
            record = stamp.get("arrays", {}).get(name, {})
            array = _load_npy(folder / name, record.get("sha256", ""), record.get("bytes", -1))
            if array is None:
                return None
            arrays.append(array)
        splits[split] = Split(*arrays)
    return splits


def write_converted(info: DatasetInfo, cache: Path, splits: dict[str, Split]) -> Path | None:
    """Store the splits (atomically); the folder, or None if the cache is not writable."""
    folder = locations.converted_dir(cache, info.name)
    try:
        with atomic.staging_dir(folder) as staging:
            records = {}
            for split in SPLITS:
                for name, array in zip(_array_files(split), (splits[split].images, splits[split].labels), strict=True):
                    np.save(staging / name, np.ascontiguousarray(array), allow_pickle=False)
                    data = (staging / name).read_bytes()
                    records[name] = {
                        "sha256": hashlib.sha256(data).hexdigest(),
                        "bytes": len(data),
                        "shape": list(array.shape),
                        "dtype": str(array.dtype),
                    }
            stamp = {
                "cache_format": CACHE_FORMAT,
                "dataset": info.name,
                "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "recipe": recipe(info),
                "arrays": records,
            }
            (staging / STAMP).write_text(json.dumps(stamp, indent=1))
            atomic.replace_dir(staging, folder)
    except OSError as err:
        # The data is verified and in memory; only the next load's speed suffers.
        warnings.warn(f"could not write the converted cache {folder}: {err}", stacklevel=3)
        return None
    return folder
