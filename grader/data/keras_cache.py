"""Make learners' own `keras.datasets` calls work offline, honestly.

Fashion-MNIST: `keras.datasets.fashion_mnist.load_data()` (Keras 3) reads the four original
gzipped IDX files from `<KERAS_HOME>/datasets/fashion-mnist/` and checks no hash, so the
verified files are simply copied there.

MNIST: `keras.datasets.mnist.load_data()` reads `<KERAS_HOME>/datasets/mnist.npz` and passes
`get_file` a fixed sha256 (731c5ac6...); a local file with another hash is reported as
"incomplete or outdated" and downloaded again. That npz is not among the verified files, and
an npz rebuilt from the IDX files would not match its hash byte for byte (zip timestamps and
compression), so nothing is written for MNIST. `load_mnist_like_keras()` (grader/data/loading.py) returns the same
arrays, in the same layout, from the verified IDX files instead.
"""

from __future__ import annotations

from pathlib import Path

from grader.data import atomic, locations
from grader.data import progress as bars
from grader.data.checksums import mismatch
from grader.data.locations import PathLike
from grader.data.manifest import DatasetInfo, dataset_info
from grader.data.sources import find_raw


def keras_folder(name: str, keras_home: PathLike | None = None) -> Path | None:
    """Where keras.datasets looks for this dataset's files, or None if Keras has no such loader."""
    folder = locations.KERAS_DATASET_FOLDERS.get(name)
    return locations.keras_home(keras_home) / "datasets" / folder if folder else None


def _already_seeded(info: DatasetInfo, target: Path) -> bool:
    return all((target / f.path).is_file() and mismatch(target / f.path, f.sha256, f.size) is None for f in info.files)


def seed_keras_cache(
    *,
    data_dir: PathLike | None = None,
    cache_dir: PathLike | None = None,
    keras_home: PathLike | None = None,
    download: bool = True,
    progress: bool | None = None,
) -> Path:
    """Copy the verified Fashion-MNIST files to where `keras.datasets.fashion_mnist.load_data()`
    reads them ($KERAS_HOME, default ~/.keras). Returns that folder. Files already there and
    intact are left alone; others are replaced atomically."""
    info = dataset_info("fashion_mnist")
    target = keras_folder(info.name, keras_home)
    assert target is not None
    if _already_seeded(info, target):
        return target
    raw = find_raw(
        info, data_dir=data_dir, cache=locations.cache_dir(cache_dir), download=download, progress=bars.wanted(progress)
    )
    for expected in info.files:
        atomic.copy_file(raw.folder / expected.path, target / expected.path)
    return target
