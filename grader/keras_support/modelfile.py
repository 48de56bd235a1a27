"""A .keras file is hostile input: checked as a file, as an archive and as a config before Keras loads it.

    model = load_checked(path)      # raises ModelFileError with what was wrong

Before any Keras deserialisation: a regular file opened without following links (no FIFO,
no symlink), at most MAX_FILE_BYTES; a zip archive of known members only, each within
MAX_MEMBER_BYTES uncompressed and a sane compression ratio (a zip bomb is refused from its
directory, without inflating anything); config.json parsed as data and checked against the
allow-list of grader/train/modelconfig.py. Only then does Keras load it, with
safe_mode=True, and it checks the weight shapes against the config as it does.

Keras cannot read back some configs it writes itself (RandomShear(0.2) is saved as the range
[-0.2, 0.2], which its constructor refuses). The copy Keras loads carries the config as
`modelconfig.repair` spells it, the same repair the trainer's build applies: a model that was
built for training always loads back.
"""

from __future__ import annotations

import io
import json
import warnings
import zipfile
from pathlib import Path
from typing import Any

from grader.core.text import keras_cause
from grader.describe.sandbox.box import BoxFileError, read_bounded
from grader.train.modelconfig import ConfigRejected, repair, validate

MB = 1024 * 1024
MAX_FILE_BYTES = 512 * MB
MAX_MEMBER_BYTES = 1024 * MB
MAX_CONFIG_BYTES = 4 * MB
MAX_RATIO = 200  # uncompressed / compressed: zeros compress ~1000x, real weights ~1.1x
MEMBERS = {"config.json", "metadata.json", "model.weights.h5", "model.weights.npz", "assets/"}


class ModelFileError(Exception):
    """The file is not a .keras model the grader will load."""


def read_checked(path: Path) -> tuple[bytes, dict[str, Any]]:
    """(the file's bytes, its config) once file, archive and config have passed."""
    path = Path(path)
    try:
        data = read_bounded(path.parent, path.name, MAX_FILE_BYTES)
    except BoxFileError as err:
        raise ModelFileError(str(err)) from None
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise ModelFileError(f"{path.name} is not a .keras archive") from None
    with archive:
        for member in archive.infolist():
            if member.filename not in MEMBERS and not member.filename.startswith("assets/"):
                raise ModelFileError(f"{path.name} holds an unexpected member {member.filename!r}")
            if member.file_size > MAX_MEMBER_BYTES:
                raise ModelFileError(f"{member.filename} would unpack to {member.file_size:,} bytes")
            if member.file_size > 1 * MB and member.file_size > MAX_RATIO * max(member.compress_size, 1):
                raise ModelFileError(
                    f"{member.filename} is compressed {member.file_size // max(member.compress_size, 1)}"
                    f"-fold: a zip bomb, not a model"
                )
        try:
            info = archive.getinfo("config.json")
        except KeyError:
            raise ModelFileError(f"{path.name} has no config.json") from None
        if info.file_size > MAX_CONFIG_BYTES:
            raise ModelFileError("config.json is too large")
        try:
            config = json.loads(archive.read("config.json"))
        except ValueError as err:
            raise ModelFileError(f"config.json is not JSON: {err}") from None
    if not isinstance(config, dict):
        raise ModelFileError("config.json is not a JSON object")
    try:
        compile_config = config.get("compile_config") or None  # {} when the model was never compiled
        validate({"config": {k: v for k, v in config.items() if k != "compile_config"}, "compile": compile_config})
    except ConfigRejected as err:
        raise ModelFileError(err.message) from None
    return data, config


def with_config(data: bytes, config: dict[str, Any]) -> bytes:
    """The .keras archive `data` (already checked) with its config.json replaced by `config`."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as archive, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as rewritten:
        for member in archive.infolist():
            if member.filename == "config.json":
                rewritten.writestr(member, json.dumps(config))
            else:
                rewritten.writestr(member, archive.read(member))
    return out.getvalue()


def load_checked(path: Path, compile: bool = True) -> Any:
    """The Keras model in `path`, after read_checked(); Keras errors become ModelFileError."""
    import tempfile

    from grader.keras_support import backend

    data, config = read_checked(path)
    keras = backend.import_keras()
    # Load our own copy of the bytes that were checked: the file cannot change between check and load.
    with tempfile.TemporaryDirectory(prefix="grader-model-") as folder:
        copy = Path(folder) / "model.keras"
        repaired = repair(config)
        copy.write_bytes(data if repaired == config else with_config(data, repaired))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # no optimizer state to restore
                return keras.saving.load_model(copy, compile=compile, safe_mode=True)
        except Exception as exc:
            raise ModelFileError(keras_cause(exc)) from None
