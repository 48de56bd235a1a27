"""The public entry points: load a dataset, prepare the cache (fetch), re-check everything (verify)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grader.data import locations
from grader.data import progress as bars
from grader.data.cache import read_converted, write_converted
from grader.data.convert import convert
from grader.data.dataset import SPLITS, Dataset
from grader.data.keras_cache import seed_keras_cache
from grader.data.locations import PathLike
from grader.data.manifest import DatasetInfo, dataset_info, load_manifest
from grader.data.sources import find_raw


@dataclass(frozen=True)
class FetchResult:
    """What fetch() or verify() did for one dataset."""

    name: str
    source: str  # "converted cache", or where the verified raw files were found
    files_verified: int  # raw files whose sha256 was checked this time (0 when the cache answered)
    split_sizes: dict[str, int]
    cache_folder: Path | None  # the converted cache (None if it could not be written)
    keras_cache: Path | None  # where keras.datasets now finds this dataset, if it was seeded
    seconds: float


def _prepare(
    info: DatasetInfo,
    *,
    data_dir: PathLike | None,
    cache_dir: PathLike | None,
    download: bool,
    progress: bool | None,
    recheck_sources: bool,
) -> tuple[Dataset, str, int, Path | None]:
    """The dataset from the converted cache, or from verified raw files (then cached).
    With recheck_sources, the raw files are found and verified even when the cache is intact."""
    cache = locations.cache_dir(cache_dir)
    show = bars.wanted(progress)
    splits = read_converted(info, cache)
    folder: Path | None  # None: the cache was not writable
    source, verified, folder = "converted cache", 0, locations.converted_dir(cache, info.name)
    if splits is None or recheck_sources:
        raw = find_raw(info, data_dir=data_dir, cache=cache, download=download, progress=show)
        source, verified = raw.origin, raw.files_verified
        if splits is None:
            splits = convert(info, raw.folder, progress=show)  # everything is checked before the first write
            folder = write_converted(info, cache, splits)
    dataset = Dataset(info.name, info.class_names, *(splits[s] for s in SPLITS))
    return dataset, source, verified, folder


def load_dataset(
    name: str,
    *,
    data_dir: PathLike | None = None,
    cache_dir: PathLike | None = None,
    download: bool = True,
    progress: bool | None = None,
) -> Dataset:
    """A dataset's train, validation and test splits, verified against the manifest.

    Served from the converted cache when it is intact; otherwise the raw files are looked for in
    data_dir, $GRADER_DATA_DIR, the cache's raw copy, and finally downloaded (if download), then
    verified, converted and cached. Raises DataError, with what to do, when that fails.
    progress: rich progress bars on stderr for downloads and photo decoding (default: none).
    """
    return load_from_info(
        dataset_info(name), data_dir=data_dir, cache_dir=cache_dir, download=download, progress=progress
    )


def load_from_info(
    info: DatasetInfo,
    *,
    data_dir: PathLike | None = None,
    cache_dir: PathLike | None = None,
    download: bool = True,
    progress: bool | None = None,
) -> Dataset:
    """load_dataset() for a dataset described by a DatasetInfo (manifest.load_manifest(path)), such
    as a small test manifest, rather than by name in datasets/manifest.toml."""
    return _prepare(
        info, data_dir=data_dir, cache_dir=cache_dir, download=download, progress=progress, recheck_sources=False
    )[0]


def _run(
    names: list[str] | None,
    *,
    recheck_sources: bool,
    seed_keras: bool,
    keras_home: PathLike | None,
    data_dir: PathLike | None,
    cache_dir: PathLike | None,
    download: bool,
    progress: bool | None,
) -> list[FetchResult]:
    infos = [dataset_info(n) for n in names] if names else list(load_manifest().values())
    results = []
    for info in infos:
        start = time.perf_counter()
        dataset, source, verified, folder = _prepare(
            info,
            data_dir=data_dir,
            cache_dir=cache_dir,
            download=download,
            progress=progress,
            recheck_sources=recheck_sources,
        )
        seeded = None
        if seed_keras and info.name in locations.KERAS_DATASET_FOLDERS:
            seeded = seed_keras_cache(
                data_dir=data_dir, cache_dir=cache_dir, keras_home=keras_home, download=download, progress=progress
            )
        sizes = {s: len(dataset.split(s)) for s in SPLITS}
        results.append(
            FetchResult(info.name, source, verified, sizes, folder, seeded, round(time.perf_counter() - start, 3))
        )
    return results


def fetch(
    names: list[str] | None = None,
    *,
    data_dir: PathLike | None = None,
    cache_dir: PathLike | None = None,
    download: bool = True,
    progress: bool | None = None,
    seed_keras: bool = False,
    keras_home: PathLike | None = None,
) -> list[FetchResult]:
    """Prepare the converted cache for each named dataset (default: all in the manifest), finding,
    verifying and (if download) downloading raw files only where the cache is missing or stale.
    seed_keras: also copy Fashion-MNIST where keras.datasets.fashion_mnist.load_data() finds it."""
    return _run(
        names,
        recheck_sources=False,
        seed_keras=seed_keras,
        keras_home=keras_home,
        data_dir=data_dir,
        cache_dir=cache_dir,
        download=download,
        progress=progress,
    )


def verify(
    names: list[str] | None = None,
    *,
    data_dir: PathLike | None = None,
    cache_dir: PathLike | None = None,
    progress: bool | None = None,
) -> list[FetchResult]:
    """Like fetch(download=False), but the raw files are always found and re-hashed, even when the
    converted cache is intact (which is re-hashed too, and rebuilt if it is not)."""
    return _run(
        names,
        recheck_sources=True,
        seed_keras=False,
        keras_home=None,
        data_dir=data_dir,
        cache_dir=cache_dir,
        download=False,
        progress=progress,
    )


ArrayPair = tuple[np.ndarray, np.ndarray]


def load_mnist_like_keras(
    *,
    data_dir: PathLike | None = None,
    cache_dir: PathLike | None = None,
    download: bool = True,
    progress: bool | None = None,
) -> tuple[ArrayPair, ArrayPair]:
    """`(x_train, y_train), (x_test, y_test)` as `keras.datasets.mnist.load_data()` returns them:
    the 60,000 official training images in file order, the 10,000 test images, uint8 throughout."""
    data = load_dataset("mnist", data_dir=data_dir, cache_dir=cache_dir, download=download, progress=progress)
    # The official training file is our train split (its first 50,000) followed by validation (its last 10,000).
    x_train = np.concatenate([data.train.images, data.validation.images])
    y_train = np.concatenate([data.train.labels, data.validation.labels]).astype(np.uint8)
    return (x_train, y_train), (data.test.images, data.test.labels.astype(np.uint8))
