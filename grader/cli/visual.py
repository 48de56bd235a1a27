"""`grade journey`: draw what a model's convolutions make of a few test images. Thin over
grader.report.visual.journey.draw_journey; numpy, Keras and matplotlib load inside the command only."""

from __future__ import annotations

import sys
from pathlib import Path

import click

EXIT_BAD_INPUT = 2


def _image_indices(ctx: click.Context, param: click.Parameter, value: str) -> tuple[int, ...]:
    try:
        indices = tuple(int(part) for part in value.split(",") if part.strip())
    except ValueError:
        raise click.BadParameter(f"{value!r}: give test image indices separated by commas, such as 0,23,28") from None
    if not indices:
        raise click.BadParameter("give at least one test image index, such as 0")
    return indices


@click.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--images",
    default="0,23,28",
    show_default=True,
    callback=_image_indices,
    help="Test images to follow: their indices in the test split, comma-separated.",
)
@click.option(
    "--filter",
    "filter_index",
    type=int,
    default=1,
    show_default=True,
    help="Which filter (channel) of each layer to show, counting from 0.",
)
@click.option(
    "--challenge",
    help="The challenge the model is for (needed for a .keras file; a run folder's result.json names it).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The PNG to write (default: journey.png in the run folder, or beside the .keras file).",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="GRADER_DATA_DIR",
    help="Folder with the raw datasets (default: the cache, then download).",
)
def journey(
    path: Path,
    images: tuple[int, ...],
    filter_index: int,
    challenge: str | None,
    out: Path | None,
    data_dir: Path | None,
) -> None:
    """Show test images passing through every convolution and pooling layer of a model.

    PATH is a run folder written by `grade submit` or a .keras file (then give --challenge).
    One row per image, one column per layer: each map is the chosen filter's output, and its
    axes give its size, so you see the image shrink into features.
    """
    from grader.keras_support import backend
    from grader.report.rows import shape_text
    from grader.report.visual.journey import JourneyError, draw_journey

    # A few images need no GPU: stay on the CPU, and keep the backend's start-up chatter quiet.
    backend.configure_process("cpu")
    try:
        written = draw_journey(
            path=path, challenge=challenge, images=images, filter_index=filter_index, out=out, data_dir=data_dir
        )
    except JourneyError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    steps = written.journey.steps
    input_size = shape_text(written.journey.images.shape[1:3])
    click.echo(" -> ".join([f"input {input_size}"] + [f"{s.name} {shape_text(s.shape)}" for s in steps]))
    click.echo(
        f"filter {filter_index} of {len(steps)} layers for test images "
        f"{', '.join(map(str, written.journey.image_indices))}: {written.path}"
    )
