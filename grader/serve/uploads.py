"""What an upload must be before it is queued: a .py or .ipynb file, small enough, UTF-8, and for
a notebook, JSON with cells. The web page, the API and `grade submit --to` share these checks.

The uploaded name is only ever shown: it is reduced to a short, harmless display name and never
becomes a path (the file is stored in the database by submission id). What the code in it does
is the sandbox's business; what arrives here is refused only when it cannot be graded at all.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from grader.serve.database import Refused
from grader.serve.store import display_filename

SUFFIXES = (".py", ".ipynb")


@dataclass(frozen=True)
class Upload:
    """An upload that may be queued: its display name, suffix and bytes."""

    filename: str
    suffix: str
    content: bytes


def suffix_of(uploaded: str) -> str:
    name = (uploaded or "").lower()
    return next((suffix for suffix in SUFFIXES if name.endswith(suffix)), "")


def check_upload(uploaded_name: str, content: bytes, *, max_bytes: int, size: int | None = None) -> Upload:
    """The upload, checked; Refused with a message that says what to do otherwise.

    `size`: the uploaded file's whole size, when `content` holds only its first max_bytes + 1 bytes."""
    suffix = suffix_of(uploaded_name)
    if not suffix:
        raise Refused("Upload a Python file (.py) or a Jupyter notebook (.ipynb).", 415)
    if len(content) > max_bytes:
        size = max(size or 0, len(content))  # rounded up: a file over the limit never reads as equal to it
        raise Refused(
            f"The file is {math.ceil(size / 1000)} KB; this challenge takes files of at most "
            f"{max_bytes / 1000:.0f} KB. Remove saved outputs or data from it and upload again.",
            413,
        )
    if not content.strip():
        raise Refused("The file is empty: upload the file with your solution in it.", 422)
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as err:
        raise Refused(
            f"The file is not UTF-8 text (byte {err.start} cannot be read): save it as UTF-8 in your "
            f"editor and upload again.",
            422,
        ) from None
    if "\x00" in text:
        raise Refused("The file holds a NUL byte, so it is not a source file: upload your .py or .ipynb.", 422)
    if suffix == ".ipynb":
        notebook_problem(text)
    return Upload(display_filename(uploaded_name), suffix, content)


def notebook_problem(text: str) -> None:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as err:
        raise Refused(
            f"The notebook is not valid JSON ({err.msg}, line {err.lineno}): save it again from Jupyter, "
            f"or upload the code as a .py file.",
            422,
        ) from None
    if not isinstance(document, dict) or not isinstance(document.get("cells"), list):
        raise Refused("The notebook has no cells: save it again from Jupyter, or upload the code as a .py file.", 422)
