"""What load_dataset returns: a dataset's three splits as plain numpy arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SPLITS = ("train", "validation", "test")


@dataclass(frozen=True, eq=False)  # eq=False: comparing numpy arrays with == is elementwise
class Split:
    images: np.ndarray  # uint8, (N, 28, 28) grayscale or (N, 150, 150, 3) RGB
    labels: np.ndarray  # int64, (N,), class indices

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, n: int) -> Split:
        """The first n examples, always the same ones (all of them if n >= len)."""
        if n < 0:
            raise ValueError(f"take(n) needs n >= 0, got {n}")
        return Split(self.images[:n], self.labels[:n])


@dataclass(frozen=True, eq=False)
class Dataset:
    name: str
    class_names: tuple[str, ...]  # label i is class_names[i]
    train: Split
    validation: Split
    test: Split  # held out: the grader evaluates on it, submissions never see it

    def split(self, name: str) -> Split:
        """A split by name: "train", "validation" or "test"."""
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; the splits are {', '.join(SPLITS)}")
        return getattr(self, name)
