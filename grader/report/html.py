"""The HTML report (`report.html` in a run folder): one self-contained page per graded submission.

It shows what the terminal report shows (verdict, checks, the model beside the expected one,
the measured figures) and the figures a terminal cannot: learning curves, the confusion
matrix, the most confident mistakes and the journey of test images through the convolutions.

Everything is embedded (images as data: URIs, no external file), and a Content-Security-Policy
forbids any network access. The page is rendered by Jinja2 with autoescaping on, because
check messages, the output and the traceback come from the learner's code; the only script
allowed to run is our own, named by its hash.

Drawing a figure may fail (a strange model, a plotting bug): the page then says so in its place
and the rest is still written. The report never changes a grade.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from grader.core.result import GradeResult
from grader.report.rows import check_rows, figures_text, layer_rows, verdict_text
from grader.report.visual.journey import DEFAULT_IMAGES

TEMPLATES_DIR = Path(__file__).parent / "templates"
TEMPLATE = "report.html.j2"
LOAD_SCRIPT = "report.js"
# Positions in the graded test images whose journey the report draws: `grade journey`'s default.
JOURNEY_POSITIONS = DEFAULT_IMAGES


@dataclass(frozen=True)
class EvaluatedModel:
    """What the parent holds after measuring a trained model: the report draws from this only.

    `evaluation` (grader.measure.evaluate.Evaluation) keeps the test images it measured, their labels,
    and the model's outputs and predicted labels, all in the same order. `journey` holds the
    steps (grader.report.visual.journey.JourneyStep) the trainer computed for the test images at
    JOURNEY_POSITIONS; when it is None, `journey_error` says why.
    """

    evaluation: Any
    journey: tuple[Any, ...] | None
    journey_error: str = ""


@dataclass(frozen=True)
class FigureBlock:
    uri: str | None  # a data: URI of the PNG; None when there is nothing to draw or drawing failed
    note: str = ""  # why there is no figure, shown in its place


@dataclass(frozen=True)
class Thumbnail:
    uri: str
    predicted: str
    true: str
    confidence: str


def draw(make: Callable[[], Any], missing: str) -> FigureBlock:
    """Draw one figure; never raise: a failure becomes a note where the figure would be."""
    from grader.report.plots import data_uri, png_bytes

    try:
        figure = make()
        if figure is None:
            return FigureBlock(None, missing)
        return FigureBlock(data_uri(png_bytes(figure)))
    except Exception as err:  # a report must never stop grading
        return FigureBlock(None, f"Could not draw this figure ({type(err).__name__}: {err}).")


def _class_name(names: list[str], label: int) -> str:
    return names[label] if 0 <= label < len(names) else str(label)


def _confidence_text(value: float) -> str:
    return f"{value:.0%}" if 0.0 <= value <= 1.0 else f"score {value:.3g}"


def mistake_thumbnails(evaluation: Any, class_names: list[str], task: str) -> list[Thumbnail]:
    from grader.report.mistakes import confident_mistakes
    from grader.report.plots import data_uri, image_png

    mistakes = confident_mistakes(evaluation.test_outputs, evaluation.test_predictions, evaluation.test_labels, task)
    return [
        Thumbnail(
            data_uri(image_png(evaluation.test_images[m.position])),
            _class_name(class_names, m.predicted),
            _class_name(class_names, m.true),
            _confidence_text(m.confidence),
        )
        for m in mistakes
    ]


def _journey_block(evaluated: EvaluatedModel, class_names: list[str]) -> FigureBlock:
    from grader.report.plots import journey_figure
    from grader.report.visual.journey import DEFAULT_FILTER, Journey

    evaluation, steps = evaluated.evaluation, evaluated.journey
    if steps is None:
        return FigureBlock(None, f"Could not draw this figure ({evaluated.journey_error}).")

    def make() -> Any:
        positions = [p for p in JOURNEY_POSITIONS if p < len(evaluation.test_labels)]
        journey = Journey(
            tuple(positions),
            evaluation.test_images[positions],
            tuple(_class_name(class_names, int(evaluation.test_labels[p])) for p in positions),
            DEFAULT_FILTER,
            tuple(steps),
        )
        return journey_figure(journey)

    return draw(make, "")


def report_context(
    result: GradeResult,
    *,
    task: str = "multiclass",
    max_gap: float | None = None,
    evaluated: EvaluatedModel | None = None,
) -> dict[str, Any]:
    """Everything the template shows, computed here so the template only lays it out."""
    from grader.report.plots import confusion_matrix_figure, learning_curves_figure

    class_names = list(result.class_names)
    not_trained = "Nothing to draw: the model was not trained and evaluated (see the checks above)."
    curves = draw(
        lambda: learning_curves_figure(result.history, max_gap=max_gap),
        "No learning curves: training did not finish an epoch.",
    )
    matrix = result.confusion_matrix
    confusion = (
        draw(lambda: confusion_matrix_figure(matrix, class_names), "") if matrix else FigureBlock(None, not_trained)
    )
    mistakes: list[Thumbnail] = []
    mistakes_note = not_trained
    journey = FigureBlock(None, not_trained)
    if evaluated is not None and getattr(evaluated.evaluation, "test_outputs", None) is not None:
        try:
            mistakes = mistake_thumbnails(evaluated.evaluation, class_names, task)
            mistakes_note = "" if mistakes else "No mistakes: every test image was classified correctly."
        except Exception as err:  # a report must never stop grading
            mistakes_note = f"Could not pick the mistakes ({type(err).__name__}: {err})."
        journey = _journey_block(evaluated, class_names)
    gap = result.metrics.get("gap")
    return {
        "result": result,
        # The file's name only: the page goes to the learner, the host's folders stay with the host.
        "submission_name": Path(result.submission_path).name,
        "verdict_text": verdict_text(result),
        "figures_text": figures_text(result),
        "checks": check_rows(result),
        "layer_rows": layer_rows(result) if result.model_summary else [],
        "gap": gap,
        "max_gap": max_gap,
        "gap_too_wide": gap is not None and max_gap is not None and gap > max_gap,
        "curves": curves,
        "confusion": confusion,
        "mistakes": mistakes,
        "mistakes_note": mistakes_note,
        "journey": journey,
        "journey_positions": ", ".join(str(p) for p in JOURNEY_POSITIONS),
    }


def _environment() -> jinja2.Environment:
    # autoescape=True for every template: select_autoescape() goes by the file name, and
    # "report.html.j2" does not end in ".html".
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_report(
    result: GradeResult,
    *,
    task: str = "multiclass",
    max_gap: float | None = None,
    evaluated: EvaluatedModel | None = None,
) -> str:
    script = (TEMPLATES_DIR / LOAD_SCRIPT).read_text()
    # The policy lets this one script run (by its hash) and nothing else: no other script,
    # no request to any server, images from data: URIs only.
    script_hash = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    policy = (
        f"default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'sha256-{script_hash}'; "
        "base-uri 'none'; form-action 'none'"
    )
    context = report_context(result, task=task, max_gap=max_gap, evaluated=evaluated)
    return _environment().get_template(TEMPLATE).render(**context, script=Markup(script), policy=policy)


def write_report(
    path: Path,
    result: GradeResult,
    *,
    task: str = "multiclass",
    max_gap: float | None = None,
    evaluated: EvaluatedModel | None = None,
) -> Path:
    """Render the report and write it atomically (a reader never sees half a page)."""
    html = render_report(result, task=task, max_gap=max_gap, evaluated=evaluated)
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)
    return path
