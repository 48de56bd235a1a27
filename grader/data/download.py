"""Downloads from the manifest's URLs into a staging folder; the caller verifies and moves them in place."""

from __future__ import annotations

import http.client
import os
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from grader.data import progress as bars
from grader.data.checksums import mismatch
from grader.data.errors import DataError, offline_help
from grader.data.manifest import DatasetInfo

TIMEOUT_S = 60
CHUNK = 1 << 20
# A server that is busy or a connection that drops is tried again, after 1 s, then 2 s; a
# missing file or a refused request is not (another mirror may have it).
ATTEMPTS = 3
RETRY_WAIT_S = 1.0


def _transient(err: BaseException) -> bool:
    """Worth another try: a timeout, a dropped connection, a busy server (5xx, 429)."""
    if isinstance(err, urllib.error.HTTPError):
        return err.code >= 500 or err.code == 429
    if isinstance(err, urllib.error.URLError):
        return isinstance(err.reason, (TimeoutError, ConnectionError))
    return isinstance(err, (TimeoutError, ConnectionError, http.client.IncompleteRead))


def _fetch(url: str, target: Path, progress: bool) -> None:
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response, open(target, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        with bars.bar(url.rsplit("/", 1)[-1], total, progress, in_bytes=True) as advance:
            while block := response.read(CHUNK):
                out.write(block)
                advance(len(block))


def download(url: str, target: Path, *, progress: bool) -> None:
    """Stream url into target, trying a transient failure again; DataError (with the URL and the
    reason) if that fails."""
    retrying = Retrying(
        stop=stop_after_attempt(ATTEMPTS),
        wait=wait_exponential(multiplier=RETRY_WAIT_S),
        retry=retry_if_exception(_transient),
        reraise=True,
    )
    try:
        retrying(_fetch, url, target, progress)
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as err:
        target.unlink(missing_ok=True)
        reason = getattr(err, "reason", None) or err
        tries = retrying.statistics.get("attempt_number", 1)
        raise DataError(f"could not download {url}: {reason}" + (f" ({tries} tries)" if tries > 1 else "")) from None


def download_files(info: DatasetInfo, staging: Path, *, progress: bool) -> str:
    """Each file of an idx dataset from the first mirror that serves the right bytes; the mirrors used."""
    used = set()
    for expected in info.files:
        target = staging / expected.path
        partial = target.with_name(target.name + ".part")
        failures = []
        for base in info.mirrors:
            url = base + expected.path
            try:
                download(url, partial, progress=progress)
            except DataError as err:
                failures.append(str(err))
                continue
            problem = mismatch(partial, expected.sha256, expected.size)
            if problem:
                failures.append(f"{url} {problem}")
                partial.unlink()
                continue
            os.replace(partial, target)
            used.add(base)
            break
        else:
            raise DataError(
                f"{info.name}: no mirror served {expected.path} intact: " + "; ".join(failures) + ". " + offline_help()
            )
    return ", ".join(sorted(used))


def download_archive(info: DatasetInfo, staging: Path, *, progress: bool) -> str:
    """Unpack the dataset's files from its zip into staging (the zip itself has no published
    checksum: the caller verifies every extracted file). Other members of the zip are ignored."""
    assert info.archive
    archive = staging / ".archive.zip"
    try:
        download(info.archive, archive, progress=progress)
    except DataError as err:
        raise DataError(f"{info.name}: {err}. {offline_help()}") from None
    try:
        with zipfile.ZipFile(archive) as bundle:
            # Member names start with the zip's own top folder (cats_and_dogs_filtered/...); match
            # them with or without it. Targets come from the manifest, never from member names.
            members: dict[str, str] = {}
            for member in bundle.namelist():
                members.setdefault(member, member)
                members.setdefault(member.split("/", 1)[-1], member)
            missing = [f.path for f in info.files if f.path not in members]
            if missing:
                raise DataError(
                    f"{info.name}: {info.archive} lacks {len(missing)} expected files, e.g. "
                    f"{', '.join(missing[:3])}. {offline_help()}"
                )
            for expected in info.files:
                target = staging / expected.path
                target.parent.mkdir(parents=True, exist_ok=True)
                with bundle.open(members[expected.path]) as source, open(target, "wb") as out:
                    while block := source.read(CHUNK):
                        out.write(block)
    except (zipfile.BadZipFile, OSError) as err:
        raise DataError(f"{info.name}: {info.archive} is not a readable zip ({err}). {offline_help()}") from None
    finally:
        archive.unlink(missing_ok=True)
    return info.archive
