"""The test images a model got wrong most confidently: what the report's 'mistakes' grid shows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grader.measure.evaluate import positive_probability

MISTAKES_SHOWN = 12


@dataclass(frozen=True)
class Mistake:
    position: int  # index into the evaluated test images
    predicted: int
    true: int
    confidence: float  # the model's output for the class it (wrongly) chose


def confidence_of_prediction(outputs: np.ndarray, predicted: np.ndarray, task: str) -> np.ndarray:
    """How strongly the model backed each prediction: the output for the chosen class.

    Binary models have one output, the probability of class 1, so a prediction of 0 was
    backed by 1 - p.
    """
    outputs = np.asarray(outputs, dtype=np.float64).reshape(len(predicted), -1)
    if task == "binary":
        p = positive_probability(outputs)
        return np.where(predicted == 1, p, 1.0 - p)
    return outputs[np.arange(len(predicted)), predicted]


def confident_mistakes(
    outputs: np.ndarray, predicted: np.ndarray, labels: np.ndarray, task: str, limit: int = MISTAKES_SHOWN
) -> list[Mistake]:
    """The wrong predictions with the highest confidence first (ties: the earlier image first).

    `predicted` are the labels the grader scored with, so the grid shows exactly the errors the
    confusion matrix counts.
    """
    predicted = np.asarray(predicted)
    labels = np.asarray(labels)
    confidence = confidence_of_prediction(outputs, predicted, task)
    wrong = np.flatnonzero(predicted != labels)
    order = wrong[np.argsort(-confidence[wrong], kind="stable")][:limit]
    return [Mistake(int(i), int(predicted[i]), int(labels[i]), float(confidence[i])) for i in order]
