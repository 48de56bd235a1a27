"""Parsing bytes a submission wrote (or a learner uploaded) with bounds, before any allocation.

Every parser failure here is a `ParseRefused` (a ValueError) with a message that says what was
wrong; never a RecursionError from a document nested 200,000 deep, never a MemoryError from an
array header that claims 256 TiB.
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np

MAX_JSON_DEPTH = 64  # a child's result, a notebook, a config: all far shallower


class ParseRefused(ValueError):
    """The bytes are not what they should be, or claim more than the bounds allow."""


def json_depth_exceeds(document: Any, limit: int) -> bool:
    """Whether `document` nests deeper than `limit` (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > limit:
                return True
            items = value.values() if isinstance(value, dict) else value
            stack.extend((item, depth + 1) for item in items if isinstance(item, (dict, list)))
    return False


def loads_json(data: bytes | str, what: str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """JSON from untrusted bytes: malformed, too deep or not text is a ParseRefused."""
    try:
        document = json.loads(data)
    except RecursionError:
        raise ParseRefused(f"{what} is nested too deeply to be read") from None
    except ValueError as err:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ParseRefused(f"{what} is not valid JSON: {err}") from None
    if json_depth_exceeds(document, max_depth):
        raise ParseRefused(f"{what} is nested more than {max_depth} levels deep")
    return document


def load_npy(data: bytes, what: str) -> np.ndarray:
    """A numeric .npy array from untrusted bytes: the header is checked against the bytes that are
    really there (shape times item size) before NumPy allocates anything; no pickles, no objects."""
    stream = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version in ((2, 0), (3, 0)):
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            raise ParseRefused(f"{what} is a .npy file of an unknown version {version}")
    except ParseRefused:
        raise
    except (ValueError, OSError, EOFError, TypeError, SyntaxError) as err:
        raise ParseRefused(f"{what} is not a NumPy array ({err})") from None
    if dtype.hasobject or dtype.kind not in "biuf" or dtype.subdtype is not None or dtype.names:
        raise ParseRefused(f"{what} does not hold plain numbers (dtype {dtype})")
    if not all(isinstance(d, int) and d >= 0 for d in shape):
        raise ParseRefused(f"{what} has a malformed shape {shape!r}")
    count = 1
    for dim in shape:
        count *= dim
    payload = len(data) - stream.tell()
    if count * dtype.itemsize != payload:
        raise ParseRefused(
            f"{what} claims shape {shape} ({count * dtype.itemsize:,} bytes) but holds {payload:,} bytes"
        )
    array = np.frombuffer(data, dtype=dtype, count=count, offset=stream.tell())
    return array.reshape(shape, order="F" if fortran_order else "C").copy()
