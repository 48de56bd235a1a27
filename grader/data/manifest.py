"""datasets/manifest.toml read into plain records: files, checksums, classes and split layout."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from grader.data import locations
from grader.data.checksums import read_sha256sums
from grader.data.dataset import SPLITS
from grader.data.errors import DataError

FORMATS = ("idx", "jpeg_folders")


@dataclass(frozen=True)
class ExpectedFile:
    path: str  # relative to the dataset's folder, "/"-separated
    sha256: str
    size: int | None = None  # bytes, where the manifest records it


@dataclass(frozen=True)
class IdxSplit:
    """Examples [start, stop) of an images file and its labels file."""

    images: str
    labels: str
    start: int
    stop: int


@dataclass(frozen=True)
class FolderSplit:
    """Photos <folder>/<class folder>/<class name>.<i>.jpg for i = first..last."""

    folder: str
    first: int
    last: int


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    title: str
    format: str  # one of FORMATS
    class_names: tuple[str, ...]
    image_shape: tuple[int, ...]  # (28, 28) or (150, 150, 3)
    files: tuple[ExpectedFile, ...]
    splits: dict[str, IdxSplit | FolderSplit] = field(hash=False)
    mirrors: tuple[str, ...] = ()  # idx: base URLs, tried in order
    archive: str | None = None  # jpeg_folders: one zip holding every file
    class_folders: tuple[str, ...] = ()
    licence: str = ""
    homepage: str = ""

    def expected(self) -> dict[str, tuple[str, int | None]]:
        return {f.path: (f.sha256, f.size) for f in self.files}

    def split_files(self, split: str) -> list[tuple[str, int]]:
        """(file, label) of each photo of a jpeg_folders split, ordered by index with the classes
        interleaved (cat.0, dog.0, cat.1, ...), so any prefix is balanced."""
        layout = self.splits[split]
        assert isinstance(layout, FolderSplit)
        return [
            (f"{layout.folder}/{folder}/{name}.{index}.jpg", label)
            for index in range(layout.first, layout.last + 1)
            for label, (folder, name) in enumerate(zip(self.class_folders, self.class_names, strict=True))
        ]

    def download_hint(self) -> str:
        if self.archive:
            return self.archive
        return ", ".join(self.mirrors) or "(no URL in the manifest)"


def _split(name: str, dataset: str, table: dict[str, Any], fmt: str) -> IdxSplit | FolderSplit:
    try:
        if fmt == "idx":
            return IdxSplit(table["images"], table["labels"], int(table["start"]), int(table["stop"]))
        return FolderSplit(table["folder"], int(table["first"]), int(table["last"]))
    except (KeyError, TypeError, ValueError) as err:
        raise DataError(f"manifest: dataset {dataset!r}, split {name!r} lacks or mistypes {err}") from None


def _dataset(name: str, table: dict[str, Any], manifest_dir: Path) -> DatasetInfo:
    fmt = table.get("format")
    if fmt not in FORMATS:
        raise DataError(f"manifest: dataset {name!r} has format {fmt!r}; known formats: {', '.join(FORMATS)}")
    files = [ExpectedFile(f["name"], f["sha256"].lower(), f.get("bytes")) for f in table.get("files", [])]
    if "checksums" in table:
        listing = read_sha256sums(manifest_dir / table["checksums"])
        files += [ExpectedFile(path, digest) for path, digest in listing.items()]
    if sorted(table.get("splits", {})) != sorted(SPLITS):
        raise DataError(f"manifest: dataset {name!r} must define exactly the splits {', '.join(SPLITS)}")
    info = DatasetInfo(
        name=name,
        title=table.get("title", name),
        format=fmt,
        class_names=tuple(table["class_names"]),
        image_shape=tuple(table["image_shape"]),
        files=tuple(files),
        splits={s: _split(s, name, table["splits"][s], fmt) for s in SPLITS},
        mirrors=tuple(table.get("mirrors", ())),
        archive=table.get("archive"),
        class_folders=tuple(table.get("class_folders", ())),
        licence=table.get("licence", ""),
        homepage=table.get("homepage", ""),
    )
    _check_consistent(info)
    return info


def _check_consistent(info: DatasetInfo) -> None:
    """Every split must draw only on files the manifest can verify."""
    known = {f.path for f in info.files}
    for split in SPLITS:
        layout = info.splits[split]
        wanted = (
            [layout.images, layout.labels]
            if isinstance(layout, IdxSplit)
            else [path for path, _ in info.split_files(split)]
        )
        unknown = [path for path in wanted if path not in known]
        if unknown:
            raise DataError(
                f"manifest: split {split!r} of {info.name!r} uses files without a checksum: {', '.join(unknown[:3])}"
            )


def load_manifest(path: Path | None = None) -> dict[str, DatasetInfo]:
    """Every dataset in the manifest (default: datasets/manifest.toml), by name."""
    path = path or locations.MANIFEST_PATH
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise DataError(f"cannot read the dataset manifest {path}: {err}") from None
    return {name: _dataset(name, table, path.parent) for name, table in raw.get("datasets", {}).items()}


def dataset_info(name: str, manifest_path: Path | None = None) -> DatasetInfo:
    datasets = load_manifest(manifest_path)
    if name not in datasets:
        raise DataError(
            f"unknown dataset {name!r}; the known datasets are {', '.join(sorted(datasets))} "
            f"(from {manifest_path or locations.MANIFEST_PATH})"
        )
    return datasets[name]
