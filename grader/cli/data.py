"""`grade data fetch|verify`: prepare and check the datasets. Thin over grader.data.fetch/verify.

Nothing heavy is imported at module level (numpy and Pillow load inside the commands), so
`grade --help` stays instant.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

EXIT_DATA_ERROR = 2
MNIST_NOTE = (
    "MNIST: keras.datasets.mnist.load_data() only accepts Keras' own mnist.npz, so it is not seeded; "
    "grader.data.load_mnist_like_keras() returns the same arrays offline (`grade docs data`)."
)


def _location_options(fn):
    fn = click.option(
        "--cache-dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="Cache folder (default: $GRADER_CACHE_DIR, else the user cache folder, ~/.cache/cnn-grader on Linux).",
    )(fn)
    fn = click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="Folder with the raw datasets, one sub-folder per dataset: fashion_mnist/, mnist/, "
        "cats_vs_dogs/ (also looked for: $GRADER_DATA_DIR).",
    )(fn)
    fn = click.argument("names", nargs=-1)(fn)
    return fn


def _report(results) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Datasets")
    for column in ("dataset", "source", "files verified", "train", "validation", "test (held out)", "seconds"):
        table.add_column(column, no_wrap=column != "source")
    for r in results:
        table.add_row(
            r.name,
            r.source,
            f"{r.files_verified:,}",
            *(f"{r.split_sizes[s]:,}" for s in ("train", "validation", "test")),
            f"{r.seconds:.1f}",
        )
    console = Console()
    if not console.is_terminal:
        console = Console(width=120)  # logs and CI: wide enough for the table
    console.print(table)
    for r in results:
        console.print(f"{r.name}: cache {r.cache_folder or '(not writable: not cached)'}", soft_wrap=True)
        if r.keras_cache:
            console.print(f"{r.name}: keras.datasets finds it in {r.keras_cache}", soft_wrap=True)
    if any(r.name == "mnist" for r in results) and any(r.keras_cache for r in results):
        console.print(MNIST_NOTE, soft_wrap=True)


def _call(action, **kwargs) -> None:
    """Run grader.data.<action>; a DataError becomes a message on stderr and exit code 2."""
    from grader import data

    try:
        results = getattr(data, action)(**kwargs)
    except data.DataError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(EXIT_DATA_ERROR)
    _report(results)


@click.group(name="data")
def data() -> None:
    """Prepare and check the datasets (fetch, verify)."""


@data.command(name="fetch")
@_location_options
@click.option("--no-download", is_flag=True, help="Fail instead of downloading what is not found locally.")
def fetch_command(names: tuple[str, ...], data_dir: Path | None, cache_dir: Path | None, no_download: bool) -> None:
    """Verify and cache NAMES (default: all datasets), and seed Keras' own cache for Fashion-MNIST."""
    _call(
        "fetch",
        names=list(names) or None,
        data_dir=data_dir,
        cache_dir=cache_dir,
        download=not no_download,
        progress=sys.stderr.isatty(),
        seed_keras=True,
    )


@data.command(name="verify")
@_location_options
def verify_command(names: tuple[str, ...], data_dir: Path | None, cache_dir: Path | None) -> None:
    """Re-check NAMES (default: all): every raw file's sha256 and the converted cache. Downloads nothing."""
    _call("verify", names=list(names) or None, data_dir=data_dir, cache_dir=cache_dir, progress=sys.stderr.isatty())
