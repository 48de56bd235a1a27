"""The report's figures, drawn with matplotlib's Agg renderer, returned as PNG bytes or data URIs.

Figures are built as `matplotlib.figure.Figure` objects with an Agg canvas of their own, never
through pyplot: no display is needed, no global state is touched, and nothing here depends on
which matplotlib backend the host configured.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.ticker import MaxNLocator

if TYPE_CHECKING:  # grader.report.visual.journey draws with this module: the type only, no import cycle
    from grader.report.visual.journey import Journey

DPI = 100
TRAIN_COLOR = "#1f77b4"
VALIDATION_COLOR = "#ff7f0e"
GAP_OK_COLOR = "#555555"
GAP_TOO_WIDE_COLOR = "#d62728"
# Keras names the accuracy metric after what the learner passed to compile(metrics=[...]).
ACCURACY_KEYS = ("accuracy", "acc", "binary_accuracy", "sparse_categorical_accuracy", "categorical_accuracy")
# The journey's narrowest column, as a fraction of the input's width: tiny maps (7x7 out of
# 150x150) would otherwise get a sliver too thin to see. The axes still give the true size.
JOURNEY_MIN_COLUMN = 0.45
JOURNEY_INPUT_INCHES = 2.0


def new_figure(width: float, height: float, **kwargs: Any) -> Figure:
    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained", **kwargs)
    FigureCanvasAgg(figure)
    return figure


def png_bytes(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=figure.dpi)
    return buffer.getvalue()


def data_uri(png: bytes) -> str:
    """A PNG as a data: URI, so the HTML page needs no other file and no network."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def image_png(image: np.ndarray) -> bytes:
    """One raw dataset image (uint8, grayscale or RGB) as a PNG, pixel for pixel."""
    from matplotlib.image import imsave

    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    buffer = io.BytesIO()
    if image.ndim == 2:
        imsave(buffer, image, cmap="gray", vmin=0, vmax=255, format="png")
    else:
        imsave(buffer, image, format="png")
    return buffer.getvalue()


# --------------------------------------------------------------------------- learning curves


def _values(history: dict[str, list[Any]], key: str) -> np.ndarray | None:
    if key not in history:
        return None
    return np.array([np.nan if v is None else float(v) for v in history[key]], dtype=float)


def accuracy_key(history: dict[str, list[Any]]) -> str | None:
    return next((key for key in ACCURACY_KEYS if key in history), None)


def last_epoch_gap(history: dict[str, list[Any]]) -> tuple[int, float, float] | None:
    """(epoch, training accuracy, validation accuracy) of the last epoch that has both, 1-based."""
    key = accuracy_key(history)
    train, validation = _values(history, key or ""), _values(history, f"val_{key}")
    if train is None or validation is None:
        return None
    both = np.flatnonzero(np.isfinite(train[: len(validation)]) & np.isfinite(validation[: len(train)]))
    if not len(both):
        return None
    last = int(both[-1])
    return last + 1, float(train[last]), float(validation[last])


def learning_curves_figure(history: dict[str, list[Any]], *, max_gap: float | None = None) -> Figure | None:
    """Loss and accuracy per epoch, training and validation; the last epoch's gap marked. None: no epochs."""
    key = accuracy_key(history)
    panels = [("loss", "Loss")] + ([(key, "Accuracy")] if key else [])
    if not any(len(history.get(name, [])) for name, _ in panels):
        return None
    figure = new_figure(5.0 * len(panels), 3.6)
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    for ax, (name, title) in zip(axes, panels, strict=True):
        for series, label, color, style in (
            (name, "training", TRAIN_COLOR, "o-"),
            (f"val_{name}", "validation", VALIDATION_COLOR, "s--"),
        ):
            values = _values(history, series)
            if values is not None and len(values):
                ax.plot(np.arange(1, len(values) + 1), values, style, color=color, label=label, markersize=4)
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    if key:
        _mark_gap(axes[1], history, key, max_gap)
    for ax in axes:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best", fontsize=8)
    return figure


def _mark_gap(ax: Any, history: dict[str, list[Any]], key: str, max_gap: float | None) -> None:
    """Shade training minus validation accuracy, and label its size at the last epoch."""
    train, validation = _values(history, key), _values(history, f"val_{key}")
    marked = last_epoch_gap(history)
    if train is None or validation is None or marked is None:
        return
    n = min(len(train), len(validation))
    epochs = np.arange(1, n + 1)
    epoch, at_train, at_validation = marked
    gap = at_train - at_validation
    too_wide = max_gap is not None and gap > max_gap
    color = GAP_TOO_WIDE_COLOR if too_wide else GAP_OK_COLOR
    ax.fill_between(epochs, train[:n], validation[:n], color=color, alpha=0.12, label="gap")
    ax.annotate(
        "",
        xy=(epoch, at_validation),
        xytext=(epoch, at_train),
        arrowprops={"arrowstyle": "<->", "color": color, "lw": 1.5},
    )
    limit = f" (limit {max_gap:.2f})" if max_gap is not None else ""
    ax.annotate(
        f"gap {gap:+.3f}{limit}",
        xy=(epoch, (at_train + at_validation) / 2),
        xytext=(-8, 0),
        textcoords="offset points",
        ha="right",
        va="center",
        color=color,
        fontsize=9,
        fontweight="bold" if too_wide else "normal",
    )


# --------------------------------------------------------------------------- confusion matrix


def confusion_matrix_figure(matrix: Sequence[Sequence[int]], class_names: Sequence[str]) -> Figure:
    """Counts of (true class, predicted class) on the test images, the diagonal being the right answers."""
    counts = np.asarray(matrix, dtype=np.int64)
    n = len(counts)
    names = list(class_names)[:n] + [str(i) for i in range(len(class_names), n)]
    size = max(3.8, 0.6 * n + 2.4)
    figure = new_figure(size + 0.6, size)
    ax = figure.subplots()
    ax.imshow(counts, cmap="Blues", interpolation="nearest")
    threshold = counts.max() / 2 if counts.size else 0
    for (row, column), count in np.ndenumerate(counts):
        ax.text(
            column,
            row,
            f"{count}",
            ha="center",
            va="center",
            fontsize=8 if n > 5 else 11,
            color="white" if count > threshold else "black",
        )
    ax.set_xticks(range(n), names, rotation=40, ha="right", fontsize=8)
    ax.set_yticks(range(n), names, fontsize=8)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(f"Confusion matrix ({int(counts.sum()):,} test images)")
    return figure


# --------------------------------------------------------------------------- the journey


def journey_figure(journey: Journey) -> Figure:
    """One row per image, one column per layer (the input first); each map's axes give its size.

    Column widths follow the maps' widths (down to JOURNEY_MIN_COLUMN), so the shrinking is
    seen as well as read off the axes. Each map is coloured from its own minimum to maximum.
    """
    input_height, input_width = journey.images.shape[1:3]
    widths = [input_width] + [step.shape[1] for step in journey.steps]
    ratios = [max(w, JOURNEY_MIN_COLUMN * input_width) for w in widths]
    inches_per_unit = JOURNEY_INPUT_INCHES / input_width
    rows = len(journey.image_indices)
    figure = new_figure(sum(ratios) * inches_per_unit + 1.2, rows * (JOURNEY_INPUT_INCHES + 0.1) + 1.0)
    # A margin on the right: the last column's title may be wider than its small map.
    # new_figure lays out with layout="constrained": its engine is a ConstrainedLayoutEngine.
    cast(ConstrainedLayoutEngine, figure.get_layout_engine()).set(rect=(0, 0, 0.97, 1))
    grid = figure.add_gridspec(rows, len(widths), width_ratios=ratios)
    figure.suptitle(
        f"Filter {journey.filter_index} through every convolution and pooling layer (brighter: a stronger response)",
        fontsize=10,
    )
    for row in range(rows):
        ax = figure.add_subplot(grid[row, 0])
        image = journey.images[row]
        gray = image.ndim == 2 or image.shape[-1] == 1
        ax.imshow(
            image.reshape(image.shape[:2]) if gray else image,
            cmap="gray" if gray else None,
            vmin=0,
            vmax=255,
            interpolation="nearest",
            extent=(0, input_width, input_height, 0),
        )
        _size_axes(ax, input_height, input_width)
        ax.set_ylabel(f"test #{journey.image_indices[row]}\n{journey.labels[row]}", fontsize=8)
        if row == 0:
            ax.set_title(f"input\n{input_height}x{input_width}", fontsize=8)
        for column, step in enumerate(journey.steps, start=1):
            height, width = step.maps.shape[1:3]
            ax = figure.add_subplot(grid[row, column])
            ax.imshow(step.maps[row], cmap="viridis", interpolation="nearest", extent=(0, width, height, 0))
            _size_axes(ax, height, width)
            if row == 0:
                ax.set_title(f"{step.name}\n{height}x{width}", fontsize=7)
    return figure


def _size_axes(ax: Any, height: int, width: int) -> None:
    """Ticks at 0 and at the map's width and height: the axes read off the size in pixels."""
    ax.set_xticks([0, width])
    ax.set_yticks([0, height])
    ax.tick_params(labelsize=7, length=2, pad=1)
