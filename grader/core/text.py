"""Learner-supplied text made safe to print and to report.

Every string that comes from a submission (its output, exception messages, layer names) goes
through `clean` before it reaches a terminal, result.json or report.html: control characters
(ANSI escapes that rewrite a terminal, carriage returns that hide a line, NULs) are removed,
newlines and tabs kept, and the length bounded. `redact` removes secrets from any text.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Any

# C0 controls except tab and newline, DEL, and C1 controls (0x80-0x9f, which include CSI).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# A whole ANSI escape sequence, so that no "[31m" is left behind once ESC is gone.
_ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|[@-Z\\-_])")
# Text-direction marks and overrides that disguise what is shown (Trojan Source), and the line
# and paragraph separators that some terminals and editors break lines at.
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def clean(value: Any, max_chars: int = 4000) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    text = _BIDI.sub("", _CONTROL.sub("", _ANSI.sub("", text)))
    if len(text) > max_chars:
        text = text[: max_chars - 1] + "…"
    return text


def clean_tree(value: Any) -> Any:
    """A JSON-like document with every string in it (keys included) cleaned, lengths kept: what
    result.json, a signed record and the reports are made from."""
    if isinstance(value, str):
        return clean(value, max_chars=len(value) + 1)
    if isinstance(value, dict):
        return {clean_tree(key) if isinstance(key, str) else key: clean_tree(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_tree(item) for item in value]
    return value


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return text


def keras_cause(exc: BaseException) -> str:
    """'ValueError: <the cause>' of a Keras error, which nests the real cause last
    ("... Exception encountered: <the cause>")."""
    text = _ANSI.sub("", str(exc)).strip()
    cause = text.rsplit("Exception encountered:", 1)[-1].strip()
    lines = [line.strip() for line in cause.splitlines() if line.strip()]
    # "Exception encountered when calling RandomFlip.call().", then the cause on a line of its own.
    if len(lines) > 1 and lines[0].startswith("Exception encountered when calling"):
        lines = lines[1:]
    return f"{type(exc).__name__}: {lines[0] if lines else ''}".rstrip(": ")


def secret_values() -> list[str]:
    """The grader's secrets in this process's environment (the HMAC key and the like)."""
    return [
        value
        for key, value in os.environ.items()
        if key.startswith("GRADER_") and any(word in key for word in ("KEY", "SECRET", "TOKEN"))
    ]


def learner_output(text: str, max_chars: int = 100_000) -> str:
    """A submission's output as it may be shown and stored: cleaned, bounded, secrets removed."""
    return redact(clean(text, max_chars), secret_values())
