"""Helpers for tests that grade real submissions on small profiles."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader import config

TINY_PROFILE = """
# Added by the tests: a profile small enough for a test on 2 CPU cores.
[profiles.tiny]
train_limit = {train_limit}
validation_limit = {validation_limit}
test_limit = {test_limit}
epochs = {epochs}
batch_size = 64
time_budget_s = {time_budget_s}
describe_budget_s = {describe_budget_s}
target_accuracy = {target_accuracy}
max_gap = {max_gap}
gap_points = 10
tiers = [{{ min_accuracy = {min_accuracy}, points = 10 }}]
"""


def tiny_spec(tmp_path: Path, challenge: str, **overrides) -> Path:
    """The challenge's own spec plus a [profiles.tiny] table; returns the new spec's path."""
    values = dict(
        train_limit=512,
        validation_limit=256,
        test_limit=512,
        epochs=1,
        time_budget_s=180,
        describe_budget_s=60,
        target_accuracy=0.99,
        max_gap=0.5,
        min_accuracy=0.1,
    )
    values.update(overrides)
    text = (config.CHALLENGES_DIR / f"{challenge}.toml").read_text() + TINY_PROFILE.format(**values)
    path = tmp_path / f"{challenge}.toml"
    path.write_text(text)
    return path


SUBMISSIONS = Path(__file__).parent / "submissions"


def fashion_submission(tmp_path: Path, old: str = "", new: str = "") -> Path:
    """tmp_path/fashion.py: the small correct submission, with `old` replaced by `new` once."""
    source = (SUBMISSIONS / "fashion_ok.py").read_text()
    if old:
        assert old in source, f"the base submission no longer contains {old!r}"
        source = source.replace(old, new, 1)
    path = tmp_path / "fashion.py"
    path.write_text(source)
    return path


def tiny_model_description():
    """A validated description of a tiny compiled Dense model, for jobs handed to the trainer directly."""
    import keras

    from grader.train.modelconfig import ModelDescription

    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return ModelDescription(keras.saving.serialize_keras_object(model), model.get_compile_config())


def write_tiny_build_job(folder) -> None:
    """Write into a train.step.JobFolder a job that only builds tiny_model_description's model."""
    folder.write(
        description=tiny_model_description(),
        mode="build",
        seed=1,
        epochs=1,
        batch_size=16,
        stop_metric="accuracy",
        stop_at=None,
    )


def send_job(process, line: str) -> int:
    """Hand a started TrainerProcess one request line directly, and wait for it to exit."""
    process.process.stdin.write(line.encode())
    process.process.stdin.close()
    return process.process.wait(timeout=300)


def _sandbox_missing() -> str | None:
    from grader.describe.sandbox import isolation as iso

    chosen = iso.choose()
    return None if chosen.isolated else f"needs an isolated sandbox, and none is available here ({chosen.reason})"


# Gradescope, leaderboard and batch gradings refuse to run unisolated: on a machine without
# bubblewrap (and not root with a runtime others can read) their tests skip, saying why.
needs_sandbox = pytest.mark.skipif(_sandbox_missing() is not None, reason=_sandbox_missing() or "")
