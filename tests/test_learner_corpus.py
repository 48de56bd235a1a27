"""The learner corpus (tests/learner_corpus.py), graded for real with `grade check`.

For every planted mistake: exactly the named checks lose points, and the hint names the fix.
For every correct-but-different solution: full marks (a harmless addition may cost a little,
but no check fails). A few mistakes only show in training; they are graded on a tiny profile.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grader import config
from grader.keras_support import backend
from grader.pipeline import grade
from tests.grading import tiny_spec
from tests.learner_corpus import CORRECT, MISTAKES, Case, correct


def source_of(case: Case) -> str:
    if case.replace_file:
        return (config.SOLUTIONS_DIR / case.replace_file).read_text()
    source = (config.SOLUTIONS_DIR / f"{case.challenge}.py").read_text()
    for old, new in case.edits:
        assert old in source, f"{case.name}: the reference no longer contains {old!r}"
        at = source.rindex(old)  # the last one: the code, not the TODO comments or the baseline above it
        source = source[:at] + new + source[at + len(old) :]
    return source


def graded(case: Case, tmp_path: Path, **options):
    path = tmp_path / f"{case.challenge}.py"
    path.write_text(source_of(case))
    return grade(path=path, challenge=case.challenge, out_dir=tmp_path / "run", train=False, **options)


def lost(result) -> set[str]:
    return {c.id for c in result.checks if c.points < c.max_points}


@pytest.mark.parametrize("case", MISTAKES, ids=[f"{c.challenge}: {c.name}" for c in MISTAKES])
def test_mistake_loses_exactly_its_checks_and_names_the_fix(case, tmp_path):
    result = graded(case, tmp_path)
    assert result.error is None, result.error
    assert lost(result) == set(case.lose), [(c.id, c.message) for c in result.checks if not c.passed]
    assert result.verdict == "failed"
    by_id = {c.id: c for c in result.checks}
    for check_id, words in case.hints.items():
        text = f"{by_id[check_id].message} || {by_id[check_id].hint}"
        for word in words:
            assert word in text, f"{check_id}: {word!r} not in {text!r}"


@pytest.mark.parametrize("case", CORRECT, ids=[f"{c.challenge}: {c.name}" for c in CORRECT])
def test_correct_variant_gets_full_marks(case, tmp_path):
    if case.backend and backend.backend_name() != case.backend:
        pytest.skip(f"uses {case.backend} functions")
    result = graded(case, tmp_path)
    assert result.error is None, result.error
    failing = [(c.id, c.message) for c in result.checks if not c.passed]
    assert not failing and result.verdict == "passed", failing
    if case.harmless:
        assert result.score >= 0.95 * result.max_score
        assert any("fine, it only steadies training" in c.message for c in result.checks)
    else:
        assert result.score == result.max_score, [(c.id, c.points, c.message) for c in result.checks]


def test_the_corpus_is_as_large_as_promised():
    assert len(MISTAKES) >= 30 and len(CORRECT) >= 10
    assert len({(c.challenge, c.name) for c in MISTAKES + CORRECT}) == len(MISTAKES) + len(CORRECT)


# --------------------------------------------------------------------------- mistakes seen only in training


def test_training_at_import_time_is_explained_as_such(tmp_path):
    source = (
        (config.SOLUTIONS_DIR / "fashion.py")
        .read_text()
        .replace(
            '\nif __name__ == "__main__":',
            '\nimport time\ntime.sleep(90)  # stands in for model.fit at the top level\n\nif __name__ == "__main__":',
            1,
        )
    )
    path = tmp_path / "fashion.py"
    path.write_text(source)
    spec = tiny_spec(tmp_path, "fashion", describe_budget_s=30)  # importing Keras alone can take 10 s on a busy machine
    result = grade(path=path, spec_path=spec, profile="tiny", out_dir=tmp_path / "run", train=True)
    assert result.failure["stage"] == "timeout"
    assert "still running its top-level code" in result.failure["message"]
    assert 'if __name__ == "__main__":' in result.failure["hint"]


@pytest.mark.parametrize(
    "prepared, blamed",
    [
        ('(images.reshape(-1, 28, 28, 1).astype("float32") - 127.5) / 127.5', True),  # centred: not reproducible
        ('images.reshape(-1, 28, 28, 1).astype("float32") / 127.5', False),  # one factor: reproduced on the test images
    ],
)
def test_a_preprocess_mistake_is_named_as_the_cause_of_a_missed_tier_only_where_it_is_one(tmp_path, prepared, blamed):
    source = (
        (config.SOLUTIONS_DIR / "fashion.py")
        .read_text()
        .replace('images.reshape(-1, 28, 28, 1).astype("float32") / 255.0', prepared, 1)
    )
    path = tmp_path / "fashion.py"
    path.write_text(source)
    # A tier no model reaches in one tiny epoch, so that its hint shows.
    spec = tiny_spec(tmp_path, "fashion", min_accuracy=0.999)
    result = grade(path=path, spec_path=spec, profile="tiny", out_dir=tmp_path / "run", train=True)
    assert "preprocess" in lost(result)
    tier = next(c for c in result.checks if c.id == "accuracy.tier1")
    assert not tier.passed and ("fix preprocess() first" in tier.hint) == blamed


def test_a_callback_that_never_stops_costs_the_callback_points_and_nothing_that_follows(tmp_path):
    # One choice, one deduction: the trainer stops where a correct callback would, so the epochs,
    # the tiers and the gap are the reference's own; only the callback row loses its points.
    spec = tiny_spec(tmp_path, "fashion", epochs=3, target_accuracy=0.3)
    results = {}
    for name, edits in (("reference", ()), ("never stops", [("self.model.stop_training = True", "pass")])):
        case = correct(name, "fashion", edits)
        path = tmp_path / name / "fashion.py"
        path.parent.mkdir()
        path.write_text(source_of(case))
        results[name] = grade(path=path, spec_path=spec, profile="tiny", out_dir=tmp_path / name / "run", train=True)
    reference, never = results["reference"], results["never stops"]
    assert reference.error is None and never.error is None
    assert len(reference.history["loss"]) < 3  # a correct callback stops before the last epoch
    assert never.history == reference.history and never.metrics == reference.metrics
    assert lost(never) == lost(reference) | {"callback"} and "callback" not in lost(reference)


def test_preparing_the_images_in_the_model_costs_the_preprocess_row_and_nothing_that_follows(tmp_path):
    # Raw pixels from preprocess() and Rescaling(1/255) first in the model compute what the reference
    # does: the grader prepares the test images as preprocess() prepared the training images (one
    # factor it reproduces), so only the preprocess row, whose lesson it is, loses points. Measured on
    # images / 255 instead, this model would see pixels divided twice and guess.
    spec = tiny_spec(tmp_path, "fashion", epochs=2)
    variant = correct(
        "Rescaling in the model",
        "fashion",
        [
            (
                'return images.reshape(-1, 28, 28, 1).astype("float32") / 255.0',
                'return images.reshape(-1, 28, 28, 1).astype("float32")',
            ),
            (
                "        keras.Input(shape=(28, 28, 1)),\n",
                "        keras.Input(shape=(28, 28, 1)),\n        layers.Rescaling(1.0 / 255),\n",
            ),
        ],
    )
    results = {}
    for case in (correct("reference", "fashion"), variant):
        path = tmp_path / case.name / "fashion.py"
        path.parent.mkdir()
        path.write_text(source_of(case))
        results[case.name] = grade(
            path=path, spec_path=spec, profile="tiny", out_dir=tmp_path / case.name / "run", train=True
        )
    reference, rescaled = results["reference"], results["Rescaling in the model"]
    assert reference.error is None and rescaled.error is None
    assert lost(rescaled) == lost(reference) | {"preprocess"} and "preprocess" not in lost(reference)
    assert abs(rescaled.metrics["test_accuracy"] - reference.metrics["test_accuracy"]) < 0.03, (
        rescaled.metrics,
        reference.metrics,
    )


# --------------------------------------------------------------------------- callbacks a challenge does not use


CNN_CALLBACKS = "    # you write a stop-at-target callback.)\n    return []"


@pytest.mark.parametrize(
    "returned, words",
    [
        (
            "[keras.callbacks.EarlyStopping(patience=2), keras.callbacks.TerminateOnNaN()]",
            ("returns EarlyStopping, TerminateOnNaN", "runs none of your callbacks"),
        ),
        ("[keras.callbacks.TerminateOnNaN()] * 12", ("TerminateOnNaN and 2 more",)),
    ],
)
def test_callbacks_a_challenge_does_not_run_are_named_and_cost_nothing(returned, words, tmp_path):
    # cnn trains for a fixed number of epochs: the learner's callbacks never run, and the report says so.
    case = correct("callbacks returned", "cnn", [(CNN_CALLBACKS, CNN_CALLBACKS.replace("[]", returned))])
    result = graded(case, tmp_path)
    assert result.verdict == "passed" and result.score == result.max_score
    row = next(c for c in result.checks if c.id == "callbacks.unused")
    assert (row.points, row.max_points) == (0, 0)
    for word in words:
        assert word in row.message


def test_a_failing_make_callbacks_costs_nothing_where_no_callback_is_graded(tmp_path):
    case = correct(
        "make_callbacks raises",
        "cnn",
        [(CNN_CALLBACKS, CNN_CALLBACKS.replace("return []", "raise ValueError('not yet')"))],
    )
    result = graded(case, tmp_path)
    assert result.verdict == "passed" and result.failure is None
    row = next(c for c in result.checks if c.id == "callbacks.unused")
    assert "ValueError: not yet" in row.message and "costs nothing" in row.message


def test_the_reference_gets_no_callbacks_row(tmp_path):
    result = graded(correct("reference", "cnn"), tmp_path)
    assert "callbacks.unused" not in {c.id for c in result.checks}
