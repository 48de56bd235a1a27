"""Where data is looked for, cached and seeded: every default of the data layer, in one place.

Raw files are looked for, in this order, in: the `data_dir` argument, `$GRADER_DATA_DIR`, the
cache's raw copy (`<cache>/raw`), and only then downloaded (into that raw copy). Each of these
folders holds one sub-folder per dataset, laid out like ../shared/datasets.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from grader.config import kit_dir

DATASETS_DIR = kit_dir("datasets")  # the manifest and checksums (shipped in the package too)
MANIFEST_PATH = DATASETS_DIR / "manifest.toml"


def _user_cache() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("cnn-grader", appauthor=False))


DEFAULT_CACHE_DIR = _user_cache()  # ~/.cache/cnn-grader on Linux: never inside the package

DATA_DIR_ENV = "GRADER_DATA_DIR"
CACHE_DIR_ENV = "GRADER_CACHE_DIR"
KERAS_HOME_ENV = "KERAS_HOME"

PathLike = str | os.PathLike[str]


def _absolute(path: PathLike) -> Path:
    return Path(path).expanduser().absolute()


def cache_dir(explicit: PathLike | None = None) -> Path:
    """The cache root: the argument, else $GRADER_CACHE_DIR, else the user's cache folder."""
    if explicit is not None:
        return _absolute(explicit)
    if os.environ.get(CACHE_DIR_ENV):
        return _absolute(os.environ[CACHE_DIR_ENV])
    return DEFAULT_CACHE_DIR


def data_dir_candidates(explicit: PathLike | None = None) -> list[tuple[str, Path]]:
    """(label, folder) of the user-provided data folders, in lookup order."""
    candidates = []
    if explicit is not None:
        candidates.append(("--data-dir", _absolute(explicit)))
    if os.environ.get(DATA_DIR_ENV):
        path = _absolute(os.environ[DATA_DIR_ENV])
        if all(path != known for _, known in candidates):
            candidates.append((f"${DATA_DIR_ENV}", path))
    return candidates


def raw_copy_dir(cache: Path) -> Path:
    """Downloaded raw files (one folder per dataset)."""
    return cache / "raw"


def converted_dir(cache: Path, dataset: str) -> Path:
    """A dataset's splits as .npy files plus their stamp."""
    return cache / "converted" / dataset


def keras_home(explicit: PathLike | None = None) -> Path:
    """Keras' own folder, resolved the way Keras 3 does (keras/src/backend/config.py and
    keras/src/utils/file_utils.py: $KERAS_HOME, else ~/.keras; /tmp/.keras where that is not writable)."""
    if explicit is not None:
        home = _absolute(explicit)
    elif os.environ.get(KERAS_HOME_ENV):
        home = _absolute(os.environ[KERAS_HOME_ENV])
    else:
        home = Path.home() / ".keras"
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError:
        pass
    if not os.access(home, os.W_OK):
        home = Path("/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir()) / ".keras"
    return home


# keras.datasets.<name>.load_data() reads <keras home>/datasets/<folder>/<the original file names>.
KERAS_DATASET_FOLDERS = {"fashion_mnist": "fashion-mnist"}
