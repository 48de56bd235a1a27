"""sha256 checks of raw files, with messages that say which file is wrong and how."""

from __future__ import annotations

import hashlib
from pathlib import Path

from grader.data.errors import DataError, offline_help

# The first bytes of common file types: to say what a wrong file actually is.
_SIGNATURES = {
    b"\xff\xd8\xff": "a JPEG",
    b"\x89PNG": "a PNG image",
    b"GIF8": "a GIF image",
    b"BM": "a BMP image",
    b"\x1f\x8b": "a gzip file",
    b"PK\x03\x04": "a zip file",
    b"<": "an HTML/XML page",
}
_EXPECTED_KIND = {".jpg": "a JPEG", ".jpeg": "a JPEG", ".gz": "a gzip file"}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def read_sha256sums(path: Path) -> dict[str, str]:
    """A `sha256sum` listing ("<hex>  <relative path>" per line) as {path: sha256}."""
    entries = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        digest, _, name = line.partition(" ")
        name = name.strip().lstrip("*")  # "*" marks binary mode in sha256sum output
        if len(digest) != 64 or not name:
            raise DataError(f"{path}, line {number}: not a sha256sum line: {line!r}")
        entries[name] = digest.lower()
    return entries


def describe(path: Path) -> str:
    """What a file looks like from its first bytes ("a PNG image", "an empty file", ...)."""
    with open(path, "rb") as handle:
        head = handle.read(8)
    if not head:
        return "an empty file"
    return next((kind for signature, kind in _SIGNATURES.items() if head.startswith(signature)), "unrecognised data")


def mismatch(path: Path, sha256: str, size: int | None) -> str | None:
    """None if path has the expected size (when known) and sha256; else what is wrong with it."""
    actual_size = path.stat().st_size
    actual = sha256_file(path)
    if actual == sha256 and (size is None or actual_size == size):
        return None
    if size is not None and actual_size < size:
        problem = f"is truncated: {actual_size:,} of {size:,} bytes (an interrupted download or copy?)"
    else:
        expected_kind = _EXPECTED_KIND.get(path.suffix.lower())
        kind = describe(path)
        problem = "is damaged or not the expected file"
        if expected_kind and kind != expected_kind:
            problem += f" (it should be {expected_kind} but is {kind})"
    expected_size = f", {size:,} bytes" if size is not None else ""
    return f"{problem}. Expected sha256 {sha256}{expected_size}; actual sha256 {actual}, {actual_size:,} bytes."


def check_file(path: Path, sha256: str, size: int | None, dataset: str) -> None:
    """Raise DataError, naming the file and both hashes, unless it is exactly the expected file."""
    problem = mismatch(path, sha256, size)
    if problem:
        raise DataError(f"{dataset}: {path} {problem} Replace it with the original file. " + offline_help())


def check_folder(folder: Path, expected: dict[str, tuple[str, int | None]], dataset: str) -> int:
    """Check every expected file (relative path -> (sha256, size)) in folder; the number checked."""
    missing = [name for name in expected if not (folder / name).is_file()]
    if missing:
        absent_dirs = sorted({str(Path(name).parent) for name in missing if not (folder / name).parent.is_dir()})
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        plural = "s" if len(absent_dirs) > 1 else ""
        where = f" (missing folder{plural}: {', '.join(absent_dirs)})" if absent_dirs else ""
        raise DataError(
            f"{dataset}: {folder} is incomplete: {len(missing)} of {len(expected)} files are missing"
            f"{where}: {shown}. " + offline_help()
        )
    for name, (sha256, size) in expected.items():
        check_file(folder / name, sha256, size, dataset)
    return len(expected)
