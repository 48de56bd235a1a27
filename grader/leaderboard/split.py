"""Kaggle-style public and private halves of a challenge's held-out test images.

The split is deterministic (the same for every submission, on every host, with every NumPy
version): each image's place is decided by a hash of the challenge name and the image's
position among the test images graded, and each class is halved on its own, so both halves
keep the class balance of the whole. The halves are of the images a profile grades (its
`test_limit`), so within one challenge and profile every submission meets the same halves.
"""

from __future__ import annotations

import hashlib

import numpy as np


def _rank_key(challenge: str, position: int) -> bytes:
    # A hash rather than a seeded NumPy generator: NumPy does not promise the same random stream
    # across versions, and the halves must never move once a leaderboard is running.
    return hashlib.blake2b(f"{challenge}\x00{position}".encode(), digest_size=8).digest()


def public_test_mask(labels: np.ndarray, challenge: str) -> np.ndarray:
    """True for the images in the public half. Each class is halved; an odd one out goes public."""
    labels = np.asarray(labels)
    mask = np.zeros(len(labels), dtype=bool)
    for value in np.unique(labels):
        members = np.flatnonzero(labels == value)
        shuffled = sorted(members.tolist(), key=lambda position: _rank_key(challenge, position))
        mask[shuffled[: (len(shuffled) + 1) // 2]] = True
    return mask
