"""The parent's own measurements of a trained model, on data prepared the canonical way.

The child never labels anything for the parent: accuracy on the held-out test split, and on
the training and validation data for the overfitting gap, are all computed here from the
re-loaded model's predictions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from grader import config
from grader.facts import Metrics


def canonical_inputs(images: np.ndarray, input_shape: tuple[int, ...], scale: float) -> np.ndarray:
    """What a correct preprocess() returns: the images reshaped and scaled to [0, 1]."""
    return images.astype("float32").reshape((-1, *input_shape)) / np.float32(scale)


def predict_labels(model: Any, x: np.ndarray, task: str) -> tuple[np.ndarray, np.ndarray]:
    """(predicted labels, raw outputs) in batches, in inference mode (no dropout, no augmentation)."""
    outputs = np.asarray(model.predict(x, batch_size=config.EVAL_BATCH_SIZE, verbose=0))
    if task == "binary":
        return (outputs.reshape(len(x), -1)[:, 0] >= 0.5).astype("int64"), outputs
    return outputs.reshape(len(x), -1).argmax(axis=1), outputs


def accuracy(predicted: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(predicted == labels)) if len(labels) else float("nan")


@dataclass(frozen=True)
class Evaluation:
    metrics: Metrics
    test_predictions: np.ndarray
    confusion: list[list[int]]


def confusion_matrix(predicted: np.ndarray, labels: np.ndarray, num_classes: int) -> list[list[int]]:
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    return matrix.tolist()


def evaluate(model: Any, *, splits: dict[str, tuple[np.ndarray, np.ndarray]], input_shape: tuple[int, ...],
             scale: float, task: str, num_classes: int) -> Evaluation:
    """Accuracy on 'test', 'train' and 'validation' (each a pair of raw images and labels)."""
    # One predict call for all splits: the backend compiles its predict step once, not per split.
    names = list(splits)
    x = canonical_inputs(np.concatenate([splits[n][0] for n in names]), input_shape, scale)
    predicted_all, _ = predict_labels(model, x, task)
    bounds = np.cumsum([0] + [len(splits[n][1]) for n in names])
    predicted = {n: predicted_all[bounds[i]:bounds[i + 1]] for i, n in enumerate(names)}
    test_predicted = predicted["test"]
    metrics = Metrics(
        test_accuracy=accuracy(predicted["test"], splits["test"][1]),
        train_accuracy=accuracy(predicted["train"], splits["train"][1]),
        validation_accuracy=accuracy(predicted["validation"], splits["validation"][1]),
    )
    return Evaluation(metrics, test_predicted,
                      confusion_matrix(test_predicted, splits["test"][1], max(num_classes, 2)))
