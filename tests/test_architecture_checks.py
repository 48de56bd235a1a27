"""Each architecture check on small, deliberately wrong Keras models: which check fails, and the hint.

The models are real Keras models, read by the same `model_facts` the grader uses on a
re-loaded submission; nothing is trained.
"""

from __future__ import annotations

import dataclasses

import keras
import pytest

from grader.checks import run_checks
from grader.checks.architecture import check_architecture, matched_variant
from grader.checks.submission import check_augmentation, check_compile
from grader.core.facts import SubmissionFacts
from grader.keras_support.inspect_model import model_facts
from grader.spec import load_spec

layers = keras.layers


def fashion_model(filters2=64, reshape=True, last_activation="softmax", padding="valid", compiled=True):
    shape = (28, 28, 1) if reshape else (28, 28)
    stack = [keras.Input(shape)]
    if not reshape:
        stack.append(layers.Reshape((28, 28, 1)))
    stack += [
        layers.Conv2D(64, 3, activation="relu", padding=padding),
        layers.MaxPooling2D(2),
        layers.Conv2D(filters2, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dense(10, activation=last_activation),
    ]
    model = keras.Sequential(stack)
    if compiled:
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def mnist_model(dropout=True, stages=1):
    stack = [keras.Input((28, 28, 1))]
    for i in range(stages):
        stack += [layers.Conv2D(32 * (i + 1), 3, activation="relu"), layers.MaxPooling2D(2)]
    if dropout:
        stack.append(layers.Dropout(0.4))
    stack += [layers.Flatten(), layers.Dense(128, activation="relu")]
    if dropout:
        stack.append(layers.Dropout(0.4))
    stack.append(layers.Dense(10, activation="softmax"))
    model = keras.Sequential(stack)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def by_id(results):
    return {r.id: r for r in results}


@pytest.fixture(scope="module")
def fashion():
    return load_spec("fashion")


@pytest.fixture(scope="module")
def cnn():
    return load_spec("cnn")


def test_correct_fashion_model_passes_every_architecture_check(fashion):
    results = check_architecture(fashion.architecture, fashion.input_shape, model_facts(fashion_model()))
    assert all(r.passed for r in results), [r.message for r in results if not r.passed]
    assert sum(r.points for r in results) == pytest.approx(fashion.architecture.points)


def test_wrong_filter_count_is_one_deduction_not_three(fashion):
    results = by_id(
        check_architecture(fashion.architecture, fashion.input_shape, model_facts(fashion_model(filters2=32)))
    )
    layers_check = results["architecture.layers"]
    assert not layers_check.passed
    assert "Conv2D #2 has 32 filters, expected 64" in layers_check.message
    assert layers_check.hint == "use Conv2D(64, ...)"
    # One wrong setting costs a quarter of the layers check, not the whole architecture.
    assert layers_check.points == pytest.approx(0.75 * layers_check.max_points)
    # The parameter counts that follow from it are explained, not counted again.
    params = results["architecture.params"]
    assert params.passed and params.points == params.max_points
    assert "Conv2D #2 has 18,464 parameters" in params.message and "not counted again" in params.message
    assert results["architecture.shapes"].passed and results["architecture.input"].passed


def test_missing_reshape_is_caught_at_the_input(fashion):
    facts = model_facts(fashion_model(reshape=False))
    results = by_id(check_architecture(fashion.architecture, fashion.input_shape, facts))
    assert not results["architecture.input"].passed
    assert results["architecture.input"].message == "expected input 28x28x1, got 28x28"
    assert "did you reshape the images?" in results["architecture.input"].hint
    # The Reshape layer inside the model is reported as an extra layer, not as every layer being wrong.
    assert "unexpected Reshape" in results["architecture.layers"].message
    assert results["architecture.params"].passed


def test_sigmoid_instead_of_softmax(fashion):
    results = by_id(
        check_architecture(
            fashion.architecture, fashion.input_shape, model_facts(fashion_model(last_activation="sigmoid"))
        )
    )
    layers_check = results["architecture.layers"]
    assert not layers_check.passed
    assert layers_check.message.startswith("Dense #2 uses sigmoid, expected softmax")
    assert "softmax" in layers_check.hint and "sum to 1" in layers_check.hint
    assert results["architecture.params"].passed and results["architecture.shapes"].passed


def test_same_padding_changes_shapes_and_says_why(fashion):
    results = by_id(
        check_architecture(fashion.architecture, fashion.input_shape, model_facts(fashion_model(padding="same")))
    )
    shapes = results["architecture.shapes"]
    assert not shapes.passed
    assert shapes.message.startswith("Conv2D #1 outputs 28x28x64, expected 26x26x64")
    assert "padding='valid'" in shapes.hint


def test_missing_dropout_is_reported_as_missing(cnn):
    results = by_id(check_architecture(cnn.architecture, cnn.input_shape, model_facts(mnist_model(dropout=False))))
    layers_check = results["architecture.layers"]
    assert not layers_check.passed
    assert layers_check.message.startswith("missing Dropout")
    # Dropout just before Flatten computes what Dropout just after it does: the normal form puts it after.
    assert layers_check.hint.startswith("add Dropout(rate=0.4) just before or just after the Flatten")
    # Parameter counts do not depend on dropout: that check still passes.
    assert results["architecture.params"].passed


def test_stretch_variant_is_recognised(cnn):
    facts = model_facts(mnist_model(stages=2))
    results = check_architecture(cnn.architecture, cnn.input_shape, facts)
    assert all(r.passed for r in results), [r.message for r in results if not r.passed]
    assert "stretch variant" in by_id(results)["architecture.layers"].message
    assert matched_variant(cnn.architecture, facts, cnn.input_shape) == "stretch"
    assert matched_variant(cnn.architecture, model_facts(mnist_model()), cnn.input_shape) == "main"


def test_uncompiled_model_fails_compile_check(fashion):
    result = check_compile(fashion.compile, fashion.task, model_facts(fashion_model(compiled=False)))
    assert not result.passed
    assert result.message == "the model is not compiled"
    assert "model.compile(" in result.hint


def test_wrong_loss_for_binary_task():
    spec = load_spec("cats_dogs")
    model = keras.Sequential([keras.Input((4,)), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.RMSprop(1e-4), loss="mse")
    result = check_compile(spec.compile, spec.task, model_facts(model))
    assert not result.passed and "binary_crossentropy" in result.hint


def test_learning_rate_is_checked():
    spec = load_spec("cats_dogs")
    model = keras.Sequential([keras.Input((4,)), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3), loss="binary_crossentropy")
    result = check_compile(spec.compile, spec.task, model_facts(model))
    assert not result.passed and result.message == "learning rate is 0.001, expected 0.0001"
    model.compile(
        optimizer=keras.optimizers.RMSprop(1e-4), loss=keras.losses.BinaryCrossentropy(), metrics=["accuracy"]
    )
    assert check_compile(spec.compile, spec.task, model_facts(model)).passed


def test_an_unreadable_learning_rate_fails_with_the_fix_not_a_crash():
    spec = load_spec("cats_dogs")
    model = keras.Sequential([keras.Input((4,)), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.RMSprop(1e-4), loss="binary_crossentropy", metrics=["accuracy"])
    facts = dataclasses.replace(model_facts(model), learning_rate=None)
    result = check_compile(spec.compile, spec.task, facts)
    assert not result.passed
    assert result.message == "learning rate is not one fixed number (a schedule?), expected 0.0001"
    assert "RMSprop(learning_rate=0.0001)" in result.hint


def test_missing_accuracy_metric_is_named_in_compile():
    spec = load_spec("cats_dogs")
    model = keras.Sequential([keras.Input((4,)), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.RMSprop(1e-4), loss="binary_crossentropy")
    result = check_compile(spec.compile, spec.task, model_facts(model))
    assert not result.passed and "metrics=['accuracy']" in result.hint
    model.compile(optimizer=keras.optimizers.RMSprop(1e-4), loss="binary_crossentropy", metrics=["acc"])
    assert check_compile(spec.compile, spec.task, model_facts(model)).passed


def test_optimizer_hint_names_a_class_that_exists():
    spec = load_spec("cats_dogs")
    model = keras.Sequential([keras.Input((4,)), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    result = check_compile(spec.compile, spec.task, model_facts(model))
    assert not result.passed and "keras.optimizers.RMSprop(" in result.hint
    assert hasattr(keras.optimizers, result.hint.split("keras.optimizers.")[1].split("(")[0])


def test_augmentation_needs_enough_kinds():
    spec = load_spec("cats_dogs")
    plain = keras.Sequential([keras.Input((8, 8, 3)), layers.RandomFlip("horizontal"), layers.Flatten()])
    result = check_augmentation(spec.augmentation, model_facts(plain))
    assert not result.passed and "found RandomFlip" in result.message
    rich = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            layers.RandomFlip("horizontal"),
            layers.RandomRotation(0.1),
            layers.RandomZoom(0.1),
            layers.Flatten(),
        ]
    )
    assert check_augmentation(spec.augmentation, model_facts(rich)).passed


def test_check_mode_lists_no_training_checks(fashion):
    facts = SubmissionFacts(model=model_facts(fashion_model()))
    ids = [r.id for r in run_checks(fashion, fashion.profile("quick"), facts, trained=False)]
    assert "gap" not in ids and not any(i.startswith("accuracy.") for i in ids)
    assert ids[:2] == ["submission", "preprocess"]


def test_normal_form_folds_activations_and_moves_dropout_after_flatten():
    from grader.checks.normal_form import normal_form
    from grader.core.facts import LayerFacts
    from grader.spec import LayerSpec

    observed = [
        LayerFacts("Conv2D", "conv", (26, 26, 8), 80, {"activation": "linear"}),
        LayerFacts("BatchNormalization", "bn", (26, 26, 8), 32),
        LayerFacts("ReLU", "relu", (26, 26, 8), 0, {"max_value": None, "negative_slope": 0.0}),
        LayerFacts("Dropout", "drop", (26, 26, 8), 0, {"rate": 0.5}),
        LayerFacts("Flatten", "flat", (5408,), 0),
        LayerFacts("Dense", "out", (10,), 54090, {"activation": "linear"}),
        LayerFacts("Softmax", "soft", (10,), 0, {"axis": -1}),
    ]
    got = normal_form(observed)
    assert [(layer.type, layer.config.get("activation")) for layer in got] == [
        ("Conv2D", "relu"),
        ("BatchNormalization", None),
        ("Flatten", None),
        ("Dropout", None),
        ("Dense", "softmax"),
    ]
    assert got[0].name == "conv + relu" and got[3].output == (5408,)
    # A ReLU with options is not plain relu: it stays a layer of its own.
    capped = LayerFacts("ReLU", "relu6", (26, 26, 8), 0, {"max_value": 6.0})
    assert [layer.type for layer in normal_form([observed[0], capped])] == ["Conv2D", "ReLU"]
    # The spec side gets the same treatment.
    expected = [LayerSpec("MaxPooling2D"), LayerSpec("Dropout", config={"rate": 0.4}), LayerSpec("Flatten", (100,))]
    assert [layer.type for layer in normal_form(expected)] == ["MaxPooling2D", "Flatten", "Dropout"]


def test_layers_that_compute_the_identity_are_neither_extra_nor_misplaced(fashion):
    # Rescaling(1.0) (a learner who scales in preprocess() and keeps the layer "to be safe"),
    # Activation("linear") and Identity() change no number: the model is the reference's.
    model = fashion_model()
    stack = [
        keras.Input((28, 28, 1)),
        layers.Rescaling(1.0),
        *model.layers[:4],
        layers.Activation("linear"),
        *model.layers[4:6],
        layers.Identity(),
        model.layers[6],
    ]
    spelled = keras.Sequential(stack)
    spelled.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    results = check_architecture(fashion.architecture, fashion.input_shape, model_facts(spelled))
    assert all(r.passed for r in results), [r.message for r in results if not r.passed]
    # A Rescaling that does change the numbers is still an extra layer, with its own hint.
    scaled = keras.Sequential([keras.Input((28, 28, 1)), layers.Rescaling(1 / 255), *model.layers])
    layer_check = by_id(check_architecture(fashion.architecture, fashion.input_shape, model_facts(scaled)))
    assert not all(r.passed for r in layer_check.values())
    assert any("Rescaling" in r.message and "preprocess()" in r.hint for r in layer_check.values())


def test_the_strides_hint_tells_the_keras_2_story_only_when_it_fits():
    from grader.checks.keras2 import strides_hint

    assert strides_hint(64, [3, 3], [1, 1]) is None
    assert "Write Conv2D(64, (3, 3))" in strides_hint(64, [3, 3], [3, 3])  # Conv2D(64, 3, 3) in Keras 2
    other = strides_hint(64, [3, 3], [2, 2])  # asked for on purpose: no Keras 2 story, only the fix
    assert "Keras 2" not in other and "remove strides=" in other
    assert "remove strides=" in strides_hint(8, [3], [3])  # a Conv1D: one number, no 2D story and no IndexError


def test_compile_settings_the_trainer_does_not_use_are_noted_never_refused():
    from grader.train.modelconfig import validate

    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(
        optimizer="adam",
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        weighted_metrics=["accuracy"],
        run_eagerly=True,
    )
    import json

    description = validate(
        json.loads(
            json.dumps({"config": keras.saving.serialize_keras_object(model), "compile": model.get_compile_config()})
        )
    )  # as the child sends it
    assert description.compile["weighted_metrics"] is None and description.compile["run_eagerly"] is False
    assert description.unused_compile == ("weighted_metrics=...", "run_eagerly=True")
    facts = dataclasses.replace(model_facts(model), unused_compile=description.unused_compile)
    result = check_compile(load_spec("fashion").compile, "multiclass", facts)
    assert result.passed and "not used here: weighted_metrics=..., run_eagerly=True" in result.message
