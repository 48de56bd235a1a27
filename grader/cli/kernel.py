"""`grade kernel`: filter a picture with a convolution kernel and see the result beside it."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from grader.report.visual.kernel_image import DEFAULT_MAX_SIZE, DEFAULT_TIME_LIMIT_S, PRESETS


@click.command()
@click.argument("image", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--kernel",
    "kernel_text",
    metavar="ROWS",
    help='The kernel: rows separated by ";", numbers by spaces, e.g. "0 -1 0; -1 5 -1; 0 -1 0" '
    "(fractions such as 1/9 allowed). Square, odd size.",
)
@click.option("--preset", type=click.Choice(list(PRESETS)), help="A ready-made kernel instead of --kernel.")
@click.option(
    "--implementation",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Your convolution.py: its conv2d() does the filtering, in a separate process. "
    "Default: the reference solution.",
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The PNG to write (default: IMAGE-PRESET.png in the current folder).",
)
@click.option(
    "--grayscale",
    is_flag=True,
    help="Convert a colour image to grayscale first. Without it, R, G and B are filtered one by one.",
)
@click.option(
    "--max-size",
    type=int,
    default=DEFAULT_MAX_SIZE,
    show_default=True,
    help="Scale larger images down to this many pixels on their longest side first: conv2d loops in Python.",
)
@click.option(
    "--time-limit",
    "time_limit_s",
    type=float,
    default=DEFAULT_TIME_LIMIT_S,
    show_default=True,
    help="Seconds your conv2d may take (with --implementation).",
)
def kernel(image: Path, kernel_text, preset, implementation, out_path, grayscale, max_size, time_limit_s) -> None:
    """Filter IMAGE with a kernel ('same' padding, stride 1) and write input and output side by side.

    Values are rounded and clipped to 0..255. Exit code: 0 written, 1 your conv2d failed,
    2 bad input (kernel, image, options).
    """
    from grader.report.visual.kernel_image import ImplementationError, KernelError, filter_image

    try:
        done = filter_image(
            image_path=image,
            kernel_text=kernel_text,
            preset=preset,
            implementation=implementation,
            out_path=out_path,
            grayscale=grayscale,
            max_size=max_size,
            time_limit_s=time_limit_s,
        )
    except KernelError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(2)
    except ImplementationError as err:
        click.echo(f"your conv2d failed: {err.message}", err=True)
        if err.hint:
            click.echo(f"hint: {err.hint}", err=True)
        sys.exit(1)
    if done.scaled_from is not None:
        width, height = done.scaled_from
        click.echo(
            f"scaled {width}x{height} down to {done.original.shape[1]}x{done.original.shape[0]} (--max-size {max_size})"
        )
    rows = "; ".join(" ".join(f"{value:g}" for value in row) for row in done.kernel)
    click.echo(
        f"{done.kernel_name} [{rows}] with {'the reference' if implementation is None else 'your'} "
        f"conv2d -> {done.out_path}"
    )
