"""Progress inside an epoch: the trusted trainer writes where it is, the parent follows it, and the
terminal shows a bar for the batches of the current epoch."""

from __future__ import annotations

import io
import json

import numpy as np
from rich.console import Console

from grader.describe.sandbox.runner import ProgressTail
from grader.report.terminal import live_progress, plain_progress
from grader.train import trainer


def test_the_trainer_writes_where_the_epoch_is_and_the_parent_follows(tmp_path, monkeypatch):
    from grader.keras_support import backend

    keras = backend.import_keras()
    monkeypatch.setattr(trainer, "BATCH_EVERY_S", 0.0)  # every batch, so that the test sees each one
    seen: list[dict] = []
    tail = ProgressTail(tmp_path / trainer.PROGRESS_FILE, lambda line: None, tmp_path / trainer.BATCH_FILE, seen.append)

    class Poll(keras.callbacks.Callback):  # the parent's poll, between batches
        def on_train_batch_end(self, batch, logs=None):
            tail.poll()

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = np.random.default_rng(0).random((40, 4), dtype="float32"), np.arange(40) % 2
    progress = trainer.progress_callback(tmp_path / trainer.PROGRESS_FILE, epochs=2)
    model.fit(x, y, batch_size=10, epochs=2, verbose=0, callbacks=[progress, Poll()])

    assert [(line["epoch"], line["batch"], line["steps"]) for line in seen] == [
        (epoch, batch, 4) for epoch in (1, 2) for batch in (1, 2, 3, 4)
    ]
    assert all(set(line) >= {"epochs", "loss", "accuracy"} and line["epochs"] == 2 for line in seen)
    last = json.loads((tmp_path / trainer.BATCH_FILE).read_text())
    assert last["epoch"] == 2 and last["batch"] == 4
    tail.poll()
    assert len(seen) == 8  # an unchanged file is not handed on again


def test_the_batch_file_is_written_at_most_once_per_half_second(tmp_path, monkeypatch):
    from grader.keras_support import backend

    keras = backend.import_keras()
    ticks = iter(range(10**6))
    monkeypatch.setattr(trainer, "batch_clock", lambda: next(ticks) * 0.1)  # each batch takes 0.1 s
    writes: list[int] = []
    real_write = trainer.evaluation.write_json

    def counting(path, doc):
        if path.name == trainer.BATCH_FILE:
            writes.append(doc["batch"])
        real_write(path, doc)

    monkeypatch.setattr(trainer.evaluation, "write_json", counting)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(
        np.zeros((40, 4), "float32"),
        np.zeros(40, "int64"),
        batch_size=1,
        epochs=1,
        verbose=0,
        callbacks=[trainer.progress_callback(tmp_path / trainer.PROGRESS_FILE, epochs=1)],
    )
    assert writes == [1, 6, 11, 16, 21, 26, 31, 36]  # the first at once, then one per 0.5 s


def test_the_terminal_shows_a_bar_for_the_batches_and_logs_only_epochs():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=160)
    with live_progress(console, epochs=10) as events:
        events.on_stage("train")
        events.on_batch({"epoch": 3, "epochs": 10, "batch": 120, "steps": 375, "loss": 0.41, "accuracy": 0.853})
        console.file.flush()
        shown = out.getvalue()
        events.on_epoch(
            {"epoch": 3, "epochs": 10, "loss": 0.4, "accuracy": 0.86, "seconds": 12.0, "estimated_total_s": 40.0}
        )
        events.on_stage("evaluate")
    assert "120/375" in shown or "120/375" in out.getvalue()
    assert "epoch 3" in out.getvalue() and "loss 0.410" in out.getvalue()

    log = io.StringIO()
    with plain_progress(Console(file=log, width=160)) as events:
        events.on_batch({"epoch": 3, "epochs": 10, "batch": 120, "steps": 375, "loss": 0.41})
        events.on_epoch({"epoch": 3, "epochs": 10, "loss": 0.4, "accuracy": 0.86, "seconds": 12.0})
    assert log.getvalue().splitlines() == ["grade: epoch 3/10  loss 0.400  accuracy 0.860  12 s"]
