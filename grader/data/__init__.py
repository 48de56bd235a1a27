"""The datasets: found, verified against datasets/manifest.toml, converted once, cached.

    from grader.data import load_dataset
    data = load_dataset("fashion_mnist")
    data.train.images   # uint8 (50000, 28, 28); data.train.labels: int64 (50000,)

How data is found, verified and cached: docs/data.md.
"""

from grader.data.dataset import Dataset, Split
from grader.data.errors import DataError
from grader.data.keras_cache import seed_keras_cache
from grader.data.loading import FetchResult, fetch, load_dataset, load_mnist_like_keras, verify

__all__ = [
    "DataError",
    "Dataset",
    "FetchResult",
    "Split",
    "fetch",
    "load_dataset",
    "load_mnist_like_keras",
    "seed_keras_cache",
    "verify",
]
