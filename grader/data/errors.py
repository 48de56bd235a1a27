"""The one exception the data layer raises, and the advice every data message ends with."""

from __future__ import annotations


class DataError(Exception):
    """Missing, damaged or unknown data. The message says what is wrong and what to do about it."""


def offline_help() -> str:
    """How to provide the data without a download (appended to messages about missing or bad files)."""
    from grader.data.locations import DATA_DIR_ENV

    return (
        f"To provide the data offline, set {DATA_DIR_ENV} to a folder with one sub-folder per dataset "
        "(fashion_mnist/, mnist/, cats_vs_dogs/), or run `grade data fetch --data-dir DIR`. See `grade docs data`."
    )
