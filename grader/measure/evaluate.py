"""The grader's own measurements of a trained model, on data prepared the canonical way.

The child never labels anything for the grader: accuracy on the held-out test split, and on
the training and validation data for the overfitting gap, are all computed here from the
re-loaded model's raw outputs. The outputs come from the trusted trainer, which has the model
and Keras in memory already (`predict_outputs`, grader/train/evaluation.py); the labels never
leave the parent, which turns outputs into figures without importing Keras (`measure`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from grader import config
from grader.core.facts import Metrics
from grader.keras_support import backend


def canonical_inputs(images: np.ndarray, input_shape: tuple[int, ...], scale: float) -> np.ndarray:
    """What a correct preprocess() returns: the images reshaped and scaled to [0, 1]."""
    return images.astype("float32").reshape((-1, *input_shape)) / np.float32(scale)


def predict_outputs(model: Any, images: np.ndarray, input_shape: tuple[int, ...], scale: float) -> np.ndarray:
    """The model's raw outputs for raw `images`, in batches, in inference mode (no dropout, no
    augmentation). One predict call for everything: the backend compiles its step once."""
    x = canonical_inputs(images, input_shape, scale)
    outputs = model.predict(**backend.inference_inputs(x, batch_size=config.EVAL_BATCH_SIZE), verbose=0)
    return np.asarray(outputs, dtype="float32")  # float32 also where a nested model computed in bfloat16


def positive_probability(outputs: np.ndarray) -> np.ndarray:
    """A yes/no model's probability of class 1: its one sigmoid output, or the second of two
    softmax outputs (the same computation, grader/checks/normal_form.py)."""
    flat = outputs.reshape(len(outputs), -1)
    return flat[:, 1] if flat.shape[1] == 2 else flat[:, 0]


def predicted_labels(outputs: np.ndarray, task: str) -> np.ndarray:
    if task == "binary":
        return (positive_probability(outputs) >= 0.5).astype("int64")
    return outputs.reshape(len(outputs), -1).argmax(axis=1)


def accuracy(predicted: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(predicted == labels)) if len(labels) else float("nan")


def correct_of(predicted: np.ndarray, labels: np.ndarray) -> tuple[int, int]:
    """(how many images are right, of how many): what the checks compare."""
    return int(np.count_nonzero(predicted == labels)), int(len(labels))


@dataclass(frozen=True)
class Evaluation:
    metrics: Metrics
    test_predictions: np.ndarray
    confusion: list[list[int]]
    # Leaderboard mode only: accuracy on the private half of the test images. Every other test
    # figure here is then of the public half; this one goes to the host's database, never to a report.
    private_test_accuracy: float | None = None
    private_test_images: tuple[int, int] | None = None  # (correct, of how many) of the private half
    # For the HTML report (its most confident mistakes, its journey): the test images the figures
    # above are of, their labels and the model's raw outputs, in the order of test_predictions.
    test_images: np.ndarray | None = None
    test_labels: np.ndarray | None = None
    test_outputs: np.ndarray | None = None


def confusion_matrix(predicted: np.ndarray, labels: np.ndarray, num_classes: int) -> list[list[int]]:
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    return matrix.tolist()


def evaluated_images(splits: dict[str, tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """The raw images of every split, in the order `measure` expects their outputs."""
    return np.concatenate([images for images, _ in splits.values()])


def measure(
    outputs: np.ndarray,
    *,
    splits: dict[str, tuple[np.ndarray, np.ndarray]],
    task: str,
    num_classes: int,
    public_mask: np.ndarray | None = None,
) -> Evaluation:
    """Accuracy on 'test', 'train' and 'validation' (each a pair of raw images and labels) from the
    model's `outputs` for evaluated_images(splits).

    `public_mask` (leaderboard mode) marks the test images of the public half: see below.
    """
    names = list(splits)
    bounds = np.cumsum([0] + [len(splits[n][1]) for n in names])
    if len(outputs) != bounds[-1]:
        raise ValueError(f"{len(outputs)} outputs for {bounds[-1]} images")
    predicted_all = predicted_labels(outputs, task)
    predicted = {n: predicted_all[bounds[i] : bounds[i + 1]] for i, n in enumerate(names)}
    test_predicted, test_labels = predicted["test"], splits["test"][1]
    test_at = names.index("test")
    test_images, test_outputs = splits["test"][0], outputs[bounds[test_at] : bounds[test_at + 1]]
    private_test_accuracy = private_test_images = None
    if public_mask is not None:
        # The one place the private half is cut out: from here on every test figure (accuracy,
        # predictions, confusion matrix) is of the public half, so nothing built from this
        # Evaluation can reveal the private half, not even by subtracting the public from the whole.
        private_test_images = correct_of(test_predicted[~public_mask], test_labels[~public_mask])
        private_test_accuracy = accuracy(test_predicted[~public_mask], test_labels[~public_mask])
        test_predicted, test_labels = test_predicted[public_mask], test_labels[public_mask]
        test_images, test_outputs = test_images[public_mask], test_outputs[public_mask]
    metrics = Metrics(
        test_accuracy=accuracy(test_predicted, test_labels),
        train_accuracy=accuracy(predicted["train"], splits["train"][1]),
        validation_accuracy=accuracy(predicted["validation"], splits["validation"][1]),
        test_images=correct_of(test_predicted, test_labels),
        train_images=correct_of(predicted["train"], splits["train"][1]),
        validation_images=correct_of(predicted["validation"], splits["validation"][1]),
        test_half="public half" if public_mask is not None else "",
    )
    return Evaluation(
        metrics,
        test_predicted,
        confusion_matrix(test_predicted, test_labels, max(num_classes, 2)),
        private_test_accuracy,
        private_test_images=private_test_images,
        test_images=test_images,
        test_labels=test_labels,
        test_outputs=test_outputs,
    )


def evaluate(
    model: Any,
    *,
    splits: dict[str, tuple[np.ndarray, np.ndarray]],
    input_shape: tuple[int, ...],
    scale: float,
    task: str,
    num_classes: int,
    public_mask: np.ndarray | None = None,
) -> Evaluation:
    """predict_outputs, then measure, in one process (what the trainer and the parent do between them)."""
    outputs = predict_outputs(model, evaluated_images(splits), input_shape, scale)
    return measure(outputs, splits=splits, task=task, num_classes=num_classes, public_mask=public_mask)
