"""Finding a dataset's raw files, verified: a user's folder, the cache's raw copy, or a download."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from grader.data import atomic, locations
from grader.data.checksums import check_folder
from grader.data.download import download_archive, download_files
from grader.data.errors import DataError, offline_help
from grader.data.locations import PathLike
from grader.data.manifest import DatasetInfo


@dataclass(frozen=True)
class RawSource:
    folder: Path  # the dataset's verified folder
    origin: str  # where it came from, in words ("$GRADER_DATA_DIR", "download", ...)
    files_verified: int


def find_raw(info: DatasetInfo, *, data_dir: PathLike | None, cache: Path, download: bool, progress: bool) -> RawSource:
    """The first place that has the dataset, verified file by file; else a verified download into
    the cache's raw copy. A folder that exists but fails verification is an error, not skipped:
    the user pointed at it, so quietly using something else would hide the problem."""
    looked = []
    for label, root in locations.data_dir_candidates(data_dir):
        folder = root / info.name
        if folder.is_dir():
            return RawSource(folder, label, check_folder(folder, info.expected(), info.name))
        looked.append(f"{label}: no folder {folder}")
    if not os.environ.get(locations.DATA_DIR_ENV):
        looked.append(f"${locations.DATA_DIR_ENV}: not set")

    copy = locations.raw_copy_dir(cache) / info.name
    if copy.is_dir():
        try:
            return RawSource(copy, "cache (raw copy)", check_folder(copy, info.expected(), info.name))
        except DataError:
            if not download:
                raise
            # Our own earlier download, since damaged: fetch it again (replaced only once verified).
    else:
        looked.append(f"the cache: no folder {copy}")

    if not download:
        raise DataError(
            f"{info.name}: no copy of the dataset found, and downloading is off. "
            f"Looked in: {'; '.join(looked)}. {offline_help()}"
        )
    return _download(info, copy, progress)


def _download(info: DatasetInfo, copy: Path, progress: bool) -> RawSource:
    with atomic.staging_dir(copy) as staging:
        if info.archive:
            origin = download_archive(info, staging, progress=progress)
        else:
            origin = download_files(info, staging, progress=progress)
        count = check_folder(staging, info.expected(), info.name)
        atomic.replace_dir(staging, copy)
    return RawSource(copy, f"download ({origin})", count)
