"""The IDX files of (Fashion-)MNIST, gunzipped and parsed directly with numpy."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from grader.data.errors import DataError

# Magic number = 0x00 0x00 <type 0x08: unsigned byte> <number of dimensions>.
IMAGES_MAGIC = 2051  # 0x00000803: uint8, 3 dimensions (count, rows, columns)
LABELS_MAGIC = 2049  # 0x00000801: uint8, 1 dimension (count)
_KIND = {IMAGES_MAGIC: "images", LABELS_MAGIC: "labels"}


def _gunzip(path: Path) -> bytes:
    try:
        with gzip.open(path, "rb") as handle:
            return handle.read()
    except EOFError:
        raise DataError(
            f"{path} is a truncated gzip file: it ends before the end of its compressed "
            "stream (an interrupted download or copy?)"
        ) from None
    except gzip.BadGzipFile as err:
        raise DataError(f"{path} is not a gzip file ({err})") from None
    except (OSError, zlib.error) as err:
        raise DataError(f"{path} holds damaged gzip data ({err})") from None


def read_idx(path: Path, *, magic: int) -> np.ndarray:
    """The uint8 array in a gzipped IDX file, after checking that its header has the expected
    magic number and that its dimensions account for every byte."""
    raw = _gunzip(path)
    if len(raw) < 4:
        raise DataError(f"{path}: {len(raw)} bytes after gunzip, too short for an IDX header")
    found = int.from_bytes(raw[:4], "big")
    if found != magic:
        what = f"IDX {_KIND[found]}" if found in _KIND else "not an IDX file of unsigned bytes"
        raise DataError(
            f"{path}: bad IDX header: magic number {found} ({what}), expected {magic} (IDX {_KIND.get(magic, '?')})"
        )
    ndim = raw[3]
    offset = 4 + 4 * ndim
    if len(raw) < offset:
        raise DataError(f"{path}: the IDX header is cut short ({len(raw)} bytes, needs {offset})")
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    count = int(np.prod(dims))
    if len(raw) - offset != count:
        raise DataError(
            f"{path}: the IDX header promises {count:,} bytes of shape {dims}, the file holds {len(raw) - offset:,}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(dims)
