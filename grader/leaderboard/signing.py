"""Proof that a record was made by a grading host: HMAC-SHA256 with the host's secret key.

What is signed is a canonical encoding of the record without its signature (keys sorted, no
whitespace, UTF-8), so the signature does not depend on how the file was indented. The
signature also names the key by a fingerprint, which lets a rejection say "signed with another
key" rather than just "does not match"; the fingerprint is a one-way hash and reveals nothing
about the key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path
from typing import Any

from grader.leaderboard.errors import LeaderboardError
from grader.leaderboard.records import SIGNATURE_FIELD

KEY_ENV = "GRADER_SECRET_KEY"
ALGORITHM = "hmac-sha256"
MIN_KEY_BYTES = 16  # shorter secrets can be guessed


def canonical_bytes(record: dict[str, Any]) -> bytes:
    unsigned = {k: v for k, v in record.items() if k != SIGNATURE_FIELD}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode(
        "utf-8"
    )


def key_fingerprint(key: bytes) -> str:
    # Domain-separated, so the fingerprint is not the HMAC of anything a record could contain.
    return hashlib.sha256(b"cnn-grader key fingerprint\x00" + key).hexdigest()[:16]


def load_key(key_file: Path | None = None) -> bytes:
    """The host's secret key: from --key-file, else from $GRADER_SECRET_KEY."""
    if key_file is not None:
        try:
            key = Path(key_file).read_bytes().strip()
        except OSError as err:
            raise LeaderboardError(f"cannot read the key file {key_file}: {err.strerror}") from None
        source = f"the key file {key_file}"
    else:
        key = os.environ.get(KEY_ENV, "").strip().encode("utf-8")
        if not key:
            raise LeaderboardError(
                f"no secret key: set {KEY_ENV} or pass --key-file FILE (the same key on every "
                "grading host; for example: python -c 'import secrets; "
                "print(secrets.token_hex(32))' > host.key)"
            )
        source = f"${KEY_ENV}"
    if len(key) < MIN_KEY_BYTES:
        raise LeaderboardError(
            f"the secret key in {source} is too short ({len(key)} bytes): use at least "
            f"{MIN_KEY_BYTES} random bytes, for example secrets.token_hex(32)"
        )
    return key


def sign(record: dict[str, Any], key: bytes) -> dict[str, Any]:
    """A copy of the record with its signature."""
    digest = hmac.new(key, canonical_bytes(record), hashlib.sha256).hexdigest()
    return {
        **{k: v for k, v in record.items() if k != SIGNATURE_FIELD},
        SIGNATURE_FIELD: {"algorithm": ALGORITHM, "key": key_fingerprint(key), "value": digest},
    }


def verify(record: Any, key: bytes, where: str) -> dict[str, Any]:
    """The record without its signature, if `key` signed exactly this content; LeaderboardError otherwise."""
    if not isinstance(record, dict):
        raise LeaderboardError(f"{where}: not a leaderboard record (a JSON object was expected)")
    signature = record.get(SIGNATURE_FIELD)
    if signature is None:
        raise LeaderboardError(
            f"{where}: unsigned: only results signed by a grading host are accepted "
            "(grade submit --learner ID --sign on a host that has the secret key)"
        )
    if not (
        isinstance(signature, dict)
        and signature.get("algorithm") == ALGORITHM
        and isinstance(signature.get("value"), str)
        and isinstance(signature.get("key"), str)
    ):
        raise LeaderboardError(f"{where}: the signature is malformed (expected {ALGORITHM} with key and value)")
    try:
        expected = hmac.new(key, canonical_bytes(record), hashlib.sha256).hexdigest()
    except ValueError as err:  # NaN or infinity: never produced by a grader
        raise LeaderboardError(f"{where}: the record holds a value no grader writes ({err})") from None
    if hmac.compare_digest(expected, signature["value"]):
        return {k: v for k, v in record.items() if k != SIGNATURE_FIELD}
    if not hmac.compare_digest(signature["key"], key_fingerprint(key)):
        raise LeaderboardError(
            f"{where}: signed with another key (fingerprint {signature['key']}; this host's key "
            f"is {key_fingerprint(key)}): only results signed with this host's secret key are "
            "accepted"
        )
    raise LeaderboardError(
        f"{where}: the signature does not match the content: the record was altered after it was signed"
    )
