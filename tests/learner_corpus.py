"""What learners really write: planted mistakes and correct-but-different solutions.

Each case is the challenge's reference solution with a few exact edits. A mistake names the
checks that must lose points (no more, no fewer: one slip is one deduction) and words its hint
must contain, so a learner knows what to change. A correct variant must lose nothing, except a
harmless addition, which may cost a little without failing anything. tests/test_learner_corpus.py
grades every case with `grade check` (no training); the few mistakes that only show in training
are graded on a tiny profile there too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ARCH = ("architecture.input", "architecture.layers", "architecture.shapes", "architecture.params")
EVERYTHING_FASHION = {"preprocess", *ARCH, "compile", "callback"}


@dataclass(frozen=True)
class Case:
    name: str
    challenge: str
    edits: tuple[tuple[str, str], ...]  # (old, new): each old must occur in the reference; the last one is replaced
    lose: frozenset[str] = frozenset()  # the checks that must earn less than their points
    hints: dict[str, tuple[str, ...]] = field(default_factory=dict)  # check id -> words its hint (or message) has
    harmless: bool = False  # a correct variant that may cost a little (BatchNormalization), never a failed check
    backend: str | None = None  # only meaningful on this backend (tf.nn functions)
    replace_file: str | None = None  # grade this file of solutions/ instead of an edited reference


def mistake(name, challenge, edits, lose, hints):
    return Case(name, challenge, tuple(edits), frozenset(lose), hints)


def correct(name, challenge, edits=(), **kw):
    return Case(name, challenge, tuple(edits), **kw)


CONV1 = 'layers.Conv2D(64, (3, 3), activation="relu"),\n        layers.MaxPooling2D(2, 2),\n        layers.Conv2D(64'
CONV2 = (
    'layers.MaxPooling2D(2, 2),\n        layers.Conv2D(64, (3, 3), activation="relu"),\n'
    "        layers.MaxPooling2D(2, 2),\n        layers.Flatten()"
)
OUTPUT = 'layers.Dense(10, activation="softmax"),'
DENSE = 'layers.Dense(128, activation="relu"),'
COMPILE = 'model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])'
CALLBACK_READ = 'accuracy = (logs or {}).get("accuracy", 0.0)'

MISTAKES = [
    # --- fashion: one wrong setting is one deduction in "Layers and settings"
    mistake(
        "first conv has 32 filters",
        "fashion",
        [(CONV1, CONV1.replace("Conv2D(64, (3, 3)", "Conv2D(32, (3, 3)", 1))],
        {"architecture.layers"},
        {"architecture.layers": ("Conv2D(64",)},
    ),
    mistake(
        "second conv has 32 filters",
        "fashion",
        [(CONV2, CONV2.replace("Conv2D(64", "Conv2D(32"))],
        {"architecture.layers"},
        {"architecture.layers": ("Conv2D(64",)},
    ),
    mistake(
        "5x5 kernel",
        "fashion",
        [(CONV1, CONV1.replace("(3, 3)", "(5, 5)", 1))],
        {"architecture.layers"},
        {"architecture.layers": ("kernel_size=(3, 3)",)},
    ),
    mistake(
        "padding same",
        "fashion",
        [(CONV1, CONV1.replace('activation="relu")', 'activation="relu", padding="same")', 1))],
        {"architecture.shapes"},
        {"architecture.shapes": ("padding='valid'",)},
    ),
    mistake(
        "3x3 pooling",
        "fashion",
        [(CONV1, CONV1.replace("MaxPooling2D(2, 2)", "MaxPooling2D(3, 3)"))],
        {"architecture.layers"},
        {"architecture.layers": ("pool_size=(2, 2)",)},
    ),
    mistake(
        "average pooling",
        "fashion",
        [(CONV1, CONV1.replace("MaxPooling2D(2, 2)", "AveragePooling2D(2, 2)"))],
        {"architecture.layers"},
        {"architecture.layers": ("MaxPooling2D",)},
    ),
    mistake(
        "second pooling missing",
        "fashion",
        [
            (
                CONV2,
                CONV2.replace(
                    "        layers.MaxPooling2D(2, 2),\n        layers.Flatten()", "        layers.Flatten()"
                ),
            )
        ],
        {"architecture.layers"},
        {"architecture.layers": ("add MaxPooling2D", "after the Conv2D")},
    ),
    mistake(
        "Flatten missing",
        "fashion",
        [("        layers.Flatten(),\n", "")],
        {"architecture.layers"},
        {"architecture.layers": ("add Flatten",)},
    ),
    mistake(
        "extra dense before the output",
        "fashion",
        [(OUTPUT, 'layers.Dense(64, activation="relu"),\n        ' + OUTPUT)],
        {"architecture.layers"},
        {"architecture.layers": ("remove Dense(units=64",)},
    ),
    mistake(
        "extra conv layer",
        "fashion",
        [
            (
                CONV2,
                CONV2.replace(
                    "layers.Flatten()", 'layers.Conv2D(64, (3, 3), activation="relu"),\n        layers.Flatten()'
                ),
            )
        ],
        {"architecture.layers"},
        {"architecture.layers": ("remove Conv2D",)},
    ),
    mistake(
        "sigmoid output",
        "fashion",
        [(OUTPUT, OUTPUT.replace("softmax", "sigmoid"))],
        {"architecture.layers"},
        {"architecture.layers": ("softmax", "sum to 1")},
    ),
    mistake(
        "output without activation",
        "fashion",
        [(OUTPUT, "layers.Dense(10),")],
        {"architecture.layers"},
        {"architecture.layers": ("activation='softmax'",)},
    ),
    mistake(
        "nine outputs",
        "fashion",
        [(OUTPUT, OUTPUT.replace("Dense(10", "Dense(9"))],
        {"architecture.layers"},
        {"architecture.layers": ("Dense(10",)},
    ),
    mistake(
        "256 hidden units",
        "fashion",
        [(DENSE, DENSE.replace("128", "256"))],
        {"architecture.layers"},
        {"architecture.layers": ("Dense(128",)},
    ),
    mistake(
        "hidden layer linear",
        "fashion",
        [(DENSE, "layers.Dense(128),")],
        {"architecture.layers"},
        {"architecture.layers": ("activation='relu'",)},
    ),
    mistake(
        "Keras 2 Conv2D(64, 3, 3) means strides 3",
        "fashion",
        [(CONV1, CONV1.replace("Conv2D(64, (3, 3)", "Conv2D(64, 3, 3", 1))],
        {"architecture.shapes"},
        {"architecture.shapes": ("strides", "Conv2D(64, (3, 3))")},
    ),
    mistake(
        "three colour channels",
        "fashion",
        [
            (
                "keras.Input(shape=(28, 28, 1)),\n        layers.Conv2D",
                "keras.Input(shape=(28, 28, 3)),\n        layers.Conv2D",
            )
        ],
        {"architecture.input"},
        {"architecture.input": ("keras.Input(shape=(28, 28, 1))",)},
    ),
    mistake(
        "input without a channels axis",
        "fashion",
        [
            (
                "keras.Input(shape=(28, 28, 1)),\n        layers.Conv2D",
                "keras.Input(shape=(28, 28)),\n        layers.Conv2D",
            )
        ],
        set(ARCH) | {"compile"},
        {"architecture.layers": ("channels axis", "(28, 28, 1)")},
    ),
    mistake(
        "Lambda layer",
        "fashion",
        [(DENSE, "layers.Lambda(lambda x: x),\n        " + DENSE)],
        set(ARCH) | {"compile"},
        {"architecture.layers": ("Lambda",)},
    ),
    # --- fashion: compile()
    mistake(
        "categorical crossentropy",
        "fashion",
        [(COMPILE, COMPILE.replace('"sparse_categorical_crossentropy"', '"categorical_crossentropy"'))],
        {"compile"},
        {"compile": ("sparse_categorical_crossentropy",)},
    ),
    mistake(
        "no accuracy metric",
        "fashion",
        [(COMPILE, COMPILE.replace(', metrics=["accuracy"]', ""))],
        {"compile"},
        {"compile": ("metrics=['accuracy']",)},
    ),
    mistake("not compiled", "fashion", [(COMPILE, "pass")], {"compile"}, {"compile": ("model.compile(",)}),
    mistake(
        "Keras 2 lr argument",
        "fashion",
        [(COMPILE, COMPILE.replace('optimizer="adam"', "optimizer=keras.optimizers.Adam(lr=1e-3)"))],
        set(ARCH) | {"compile"},
        {"compile": ("Adam(learning_rate=1e-3)",)},
    ),
    mistake(
        "softmax output and from_logits=True",
        "fashion",
        [
            (
                COMPILE,
                COMPILE.replace(
                    'loss="sparse_categorical_crossentropy"',
                    "loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)",
                ),
            )
        ],
        {"compile"},
        {"compile": ("remove from_logits=True",)},
    ),
    mistake(
        "logits output and from_logits=True (the TensorFlow tutorials)",
        "fashion",
        [
            (OUTPUT, "layers.Dense(10),"),
            (
                COMPILE,
                COMPILE.replace(
                    'loss="sparse_categorical_crossentropy"',
                    "loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)",
                ),
            ),
        ],
        {"architecture.layers", "compile"},
        {"architecture.layers": ("activation='softmax'",), "compile": ("remove from_logits=True", "softmax")},
    ),
    # --- fashion: preprocess()
    mistake(
        "not scaled",
        "fashion",
        [('.astype("float32") / 255.0', '.astype("float32")')],
        {"preprocess"},
        {"preprocess": ("divide", "255")},
    ),
    mistake(
        "no channels axis",
        "fashion",
        [('images.reshape(-1, 28, 28, 1).astype("float32")', 'images.astype("float32")')],
        {"preprocess"},
        {"preprocess": ("channels axis", "reshape(-1, 28, 28, 1)")},
    ),
    mistake(
        "Reshape in the model instead of preprocess()",
        "cnn",
        [
            (
                'return images.reshape(-1, 28, 28, 1).astype("float32") / 255.0',
                'return images.astype("float32") / 255.0',
            ),
            (
                "        keras.Input(shape=(28, 28, 1)),\n",
                "        keras.Input(shape=(28, 28)),\n        layers.Reshape((28, 28, 1)),\n",
            ),
        ],
        {"preprocess"},
        {"preprocess": ("Reshape", "images.reshape(-1, 28, 28, 1)", "remove Reshape")},
    ),
    mistake(
        "Rescaling in the model and images / 255 in preprocess() too (scaled twice)",
        "fashion",
        [
            (
                "        keras.Input(shape=(28, 28, 1)),\n",
                "        keras.Input(shape=(28, 28, 1)),\n        layers.Rescaling(1.0 / 255),\n",
            )
        ],
        {"architecture.layers"},
        {"architecture.layers": ("Rescaling", "preprocess()")},
    ),
    mistake(
        "scaled twice",
        "fashion",
        [('.astype("float32") / 255.0', '.astype("float32") / 255.0 / 255.0')],
        {"preprocess"},
        {"preprocess": ("255",)},
    ),
    # --- fashion: the callback
    mistake(
        "callback never stops",
        "fashion",
        [("self.model.stop_training = True", "pass")],
        {"callback"},
        {"callback": ("stop_training = True",)},
    ),
    mistake(
        "callback stops too late",
        "fashion",
        [("if accuracy >= self.target_accuracy:", "if accuracy > self.target_accuracy + 0.01:")],
        {"callback"},
        {"callback": ("stop_training = True",)},
    ),
    mistake(
        "callback stops too early",
        "fashion",
        [("if accuracy >= self.target_accuracy:", "if accuracy >= self.target_accuracy - 0.1:")],
        {"callback"},
        {"callback": (">= target_accuracy",)},
    ),
    mistake(
        "Keras 2 logs['acc']",
        "fashion",
        [(CALLBACK_READ, 'accuracy = logs["acc"]')],
        {"callback"},
        {"callback": ("logs['accuracy']",)},
    ),
    mistake(
        "no callbacks returned",
        "fashion",
        [("return [StopAtAccuracy(target_accuracy)]", "return []")],
        {"callback"},
        {"callback": ("return the callback",)},
    ),
    mistake(
        "one callback, not in a list",
        "fashion",
        [("return [StopAtAccuracy(target_accuracy)]", "return StopAtAccuracy(target_accuracy)")],
        {"callback"},
        {"callback": ("not a list", "return [StopAtAccuracy(...)]")},
    ),
    # --- fashion: the whole file
    mistake(
        "Keras 2 np_utils import",
        "fashion",
        [("from keras import layers", "from keras import layers\nfrom keras.utils import np_utils")],
        EVERYTHING_FASHION,
        {"submission": ("to_categorical",)},
    ),
    mistake(
        "Keras 2 ImageDataGenerator import",
        "fashion",
        [
            (
                "from keras import layers",
                "from keras import layers\nfrom keras.preprocessing.image import ImageDataGenerator",
            )
        ],
        EVERYTHING_FASHION,
        {"submission": ("augmentation layers",)},
    ),
    # --- cnn: dropout
    mistake(
        "no dropout",
        "cnn",
        [("        layers.Dropout(0.4),\n", ""), ("        layers.Dropout(0.4),\n", "")],
        {"architecture.layers"},
        {"architecture.layers": ("add Dropout(rate=0.4)",)},
    ),
    mistake(
        "Keras 2 Conv2D(32, 3, 3) means strides 3",
        "cnn",
        [("layers.Conv2D(32, (3, 3)", "layers.Conv2D(32, 3, 3")],
        {"architecture.shapes"},
        {"architecture.shapes": ("strides", "Conv2D(32, (3, 3))")},
    ),
    mistake(
        "dropout rate 0.5",
        "cnn",
        [("layers.Dropout(0.4)", "layers.Dropout(0.5)")],
        {"architecture.layers"},
        {"architecture.layers": ("Dropout(0.4)",)},
    ),
    mistake(
        "extra dense before the output",
        "cnn",
        [(OUTPUT, 'layers.Dense(64, activation="relu"),\n        ' + OUTPUT)],
        {"architecture.layers"},
        {"architecture.layers": ("remove Dense(units=64",)},
    ),
    # --- cats vs dogs
    mistake(
        "no augmentation",
        "cats_dogs",
        [("        *augmentation_layers(),\n", "")],
        {"augmentation"},
        {"augmentation": ("RandomFlip",)},
    ),
    mistake(
        "two augmentation kinds",
        "cats_dogs",
        [("        layers.RandomTranslation(0.2, 0.2),\n        layers.RandomZoom(0.2),\n", "")],
        {"augmentation"},
        {"augmentation": ("RandomZoom",)},
    ),
    mistake(
        "adam instead of RMSprop",
        "cats_dogs",
        [("keras.optimizers.RMSprop(learning_rate=1e-4)", "keras.optimizers.Adam(learning_rate=1e-4)")],
        {"compile"},
        {"compile": ("keras.optimizers.RMSprop(",)},
    ),
    mistake(
        "default learning rate",
        "cats_dogs",
        [("keras.optimizers.RMSprop(learning_rate=1e-4)", "keras.optimizers.RMSprop()")],
        {"compile"},
        {"compile": ("learning_rate=0.0001",)},
    ),
    mistake(
        "optimizer='rmsprop' (its default learning rate)",
        "cats_dogs",
        [("keras.optimizers.RMSprop(learning_rate=1e-4)", '"rmsprop"')],
        {"compile"},
        {"compile": ("optimizer=keras.optimizers.RMSprop(learning_rate=0.0001)",)},
    ),
    mistake(
        "Keras 2 fit_generator at the top level",
        "cats_dogs",
        [
            (
                '\nif __name__ == "__main__":',
                '\nbuild_model().fit_generator(iter([]), steps_per_epoch=1)\n\n\nif __name__ == "__main__":',
            )
        ],
        {"preprocess", *ARCH, "compile", "augmentation"},
        {"submission": ("fit_generator", "model.fit(", "if __name__")},
    ),
    mistake(
        "Keras 2 ImageDataGenerator.flow_from_directory",
        "cats_dogs",
        [
            (
                '\nif __name__ == "__main__":',
                "\ngenerator = keras.preprocessing.image.ImageDataGenerator(rescale=1 / 255)\n"
                "train = generator.flow_from_directory('data/train', target_size=(150, 150))\n\n\n"
                'if __name__ == "__main__":',
            )
        ],
        {"preprocess", *ARCH, "compile", "augmentation"},
        {"submission": ("ImageDataGenerator", "augmentation layers")},
    ),
    # The same computation as the reference, with preprocess()'s work in the model: one deduction, in
    # preprocess(), whose lesson it is (normal_form.py, rule 5).
    mistake(
        "Rescaling in the model, raw pixels from preprocess() (the TensorFlow tutorial)",
        "cats_dogs",
        [
            ('return images.astype("float32") / 255.0', 'return images.astype("float32")'),
            (
                "        keras.Input(shape=(150, 150, 3)),\n",
                "        keras.Input(shape=(150, 150, 3)),\n        layers.Rescaling(1.0 / 255),\n",
            ),
        ],
        {"preprocess"},
        {"preprocess": ("Rescaling", "/ 255", "remove Rescaling from the model")},
    ),
    mistake(
        "softmax over one output",
        "cats_dogs",
        [('layers.Dense(1, activation="sigmoid")', 'layers.Dense(1, activation="softmax")')],
        {"architecture.layers"},
        {"architecture.layers": ("sigmoid",)},
    ),
    mistake(
        "no dropout",
        "cats_dogs",
        [("        layers.Dropout(0.5),\n", "")],
        {"architecture.layers"},
        {"architecture.layers": ("add Dropout(rate=0.5)",)},
    ),
    # Builds, then fails at the first training batch: the check rehearses one step (issue 31).
    mistake(
        "augmentation after Flatten",
        "cats_dogs",
        [
            ("        *augmentation_layers(),\n", ""),
            ("        layers.Flatten(),\n", "        layers.Flatten(),\n        *augmentation_layers(),\n"),
        ],
        {"augmentation"},
        {
            "augmentation": ("RandomFlip", "right after keras.Input"),
            "submission": ("RandomFlip", "right after keras.Input"),
        },
    ),
    mistake(
        "RandomFlip after Flatten",
        "cnn",
        [("        layers.Flatten(),\n", "        layers.Flatten(),\n        layers.RandomFlip('horizontal'),\n")],
        {"architecture.layers"},
        {"submission": ("RandomFlip layer", "Expected image tensor", "right after keras.Input")},
    ),
    mistake(
        "sparse loss for a binary task",
        "cats_dogs",
        [('loss="binary_crossentropy"', 'loss="sparse_categorical_crossentropy"')],
        {"compile"},
        {"compile": ("binary_crossentropy",)},
    ),
]

CORRECT = [
    correct(
        "Conv2D then Activation",
        "fashion",
        [
            (
                'layers.Conv2D(64, (3, 3), activation="relu"),',
                'layers.Conv2D(64, (3, 3)),\n        layers.Activation("relu"),',
            )
        ]
        * 2,
    ),
    correct(
        "ReLU and Softmax layers",
        "fashion",
        [
            (DENSE, "layers.Dense(128),\n        layers.ReLU(),"),
            (OUTPUT, "layers.Dense(10),\n        layers.Softmax(),"),
        ],
    ),
    correct(
        "tf.nn activations",
        "fashion",
        [
            ("import keras\n", "import keras\nimport tensorflow as tf\n"),
            (DENSE, "layers.Dense(128, activation=tf.nn.relu),"),
            (OUTPUT, "layers.Dense(10, activation=tf.nn.softmax),"),
        ],
        backend="tensorflow",
    ),
    correct(
        "functional API",
        "fashion",
        [
            (
                "    model = keras.Sequential([\n        keras.Input(shape=(28, 28, 1)),\n"
                '        layers.Conv2D(64, (3, 3), activation="relu"),\n        layers.MaxPooling2D(2, 2),\n'
                '        layers.Conv2D(64, (3, 3), activation="relu"),\n        layers.MaxPooling2D(2, 2),\n'
                '        layers.Flatten(),\n        layers.Dense(128, activation="relu"),\n'
                '        layers.Dense(10, activation="softmax"),\n    ])\n',
                "    inputs = keras.Input(shape=(28, 28, 1))\n"
                '    x = layers.Conv2D(64, (3, 3), activation="relu")(inputs)\n    x = layers.MaxPooling2D(2, 2)(x)\n'
                '    x = layers.Conv2D(64, (3, 3), activation="relu")(x)\n    x = layers.MaxPooling2D(2, 2)(x)\n'
                '    x = layers.Flatten()(x)\n    x = layers.Dense(128, activation="relu")(x)\n'
                '    outputs = layers.Dense(10, activation="softmax")(x)\n'
                "    model = keras.Model(inputs, outputs)\n",
            )
        ],
    ),
    correct(
        "model.add, aliases and a loss object",
        "fashion",
        [
            (
                "    model = keras.Sequential([\n        keras.Input(shape=(28, 28, 1)),\n"
                '        layers.Conv2D(64, (3, 3), activation="relu"),\n        layers.MaxPooling2D(2, 2),\n'
                '        layers.Conv2D(64, (3, 3), activation="relu"),\n        layers.MaxPooling2D(2, 2),\n'
                '        layers.Flatten(),\n        layers.Dense(128, activation="relu"),\n'
                '        layers.Dense(10, activation="softmax"),\n    ])\n',
                "    model = keras.models.Sequential()\n    model.add(keras.layers.InputLayer(shape=(28, 28, 1)))\n"
                "    model.add(layers.Convolution2D(64, kernel_size=3, activation='relu'))\n"
                "    model.add(layers.MaxPool2D(pool_size=2))\n"
                "    model.add(layers.Conv2D(filters=64, kernel_size=(3, 3), activation='relu'))\n"
                "    model.add(layers.MaxPool2D())\n    model.add(layers.Flatten())\n"
                "    model.add(layers.Dense(units=128, activation=keras.activations.relu))\n"
                "    model.add(layers.Dense(10, activation='softmax'))\n",
            ),
            (
                COMPILE,
                "model.compile(optimizer=keras.optimizers.Adam(), "
                "loss=keras.losses.SparseCategoricalCrossentropy(), metrics=['accuracy'])",
            ),
        ],
    ),
    correct(
        "weighted_metrics and run_eagerly in compile() (a course file uses them)",
        "fashion",
        [
            (
                COMPILE,
                COMPILE.replace(
                    'metrics=["accuracy"])', 'metrics=["accuracy"], weighted_metrics=["accuracy"], run_eagerly=True)'
                ),
            )
        ],
    ),
    correct(
        "metrics=['acc'] and logs['acc']",
        "fashion",
        [
            (COMPILE, COMPILE.replace('metrics=["accuracy"]', 'metrics=["acc"]')),
            (CALLBACK_READ, 'accuracy = logs["acc"]'),
        ],
    ),
    correct(
        "batch normalisation after each conv",
        "fashion",
        [
            (
                'layers.Conv2D(64, (3, 3), activation="relu"),',
                'layers.Conv2D(64, (3, 3), activation="relu"),\n        layers.BatchNormalization(),',
            )
        ]
        * 2,
        harmless=True,
    ),
    correct(
        "Conv2D, BatchNormalization, ReLU",
        "fashion",
        [
            (
                'layers.Conv2D(64, (3, 3), activation="relu"),',
                "layers.Conv2D(64, (3, 3)),\n        layers.BatchNormalization(),\n        layers.ReLU(),",
            )
        ]
        * 2,
        harmless=True,
    ),
    correct(
        "dropout after Flatten",
        "cnn",
        [
            (
                "        layers.Dropout(0.4),\n        layers.Flatten(),\n",
                "        layers.Flatten(),\n        layers.Dropout(0.4),\n",
            )
        ],
    ),
    correct("stretch model", "cnn", replace_file="stretch/cnn.py"),
    correct(
        "dropout before Flatten (the TensorFlow course)",
        "cats_dogs",
        [
            (
                "        layers.Flatten(),\n        layers.Dropout(0.5),\n",
                "        layers.Dropout(0.5),\n        layers.Flatten(),\n",
            )
        ],
    ),
    correct(
        "nested augmentation model",
        "cats_dogs",
        [("        *augmentation_layers(),\n", "        keras.Sequential(augmentation_layers(), name='augment'),\n")],
    ),
    correct(
        "other augmentation kinds",
        "cats_dogs",
        [
            (
                "        layers.RandomTranslation(0.2, 0.2),\n        layers.RandomZoom(0.2),\n",
                "        layers.RandomContrast(0.2),\n        layers.RandomShear(0.2),\n",
            )
        ],
    ),
    correct(
        "one more augmentation kind",
        "cats_dogs",
        [
            (
                "        layers.RandomZoom(0.2),\n",
                "        layers.RandomZoom(0.2),\n        layers.RandomContrast(0.2),\n",
            )
        ],
    ),
    correct(
        "two softmax outputs with sparse categorical cross-entropy (the other binary spelling)",
        "cats_dogs",
        [
            ('layers.Dense(1, activation="sigmoid")', 'layers.Dense(2, activation="softmax")'),
            ('loss="binary_crossentropy"', 'loss="sparse_categorical_crossentropy"'),
        ],
    ),
    correct(
        "positional learning rate, loss object, metrics=['acc']",
        "cats_dogs",
        [
            ("keras.optimizers.RMSprop(learning_rate=1e-4)", "keras.optimizers.RMSprop(1e-4)"),
            ('loss="binary_crossentropy"', "loss=keras.losses.BinaryCrossentropy()"),
            ('metrics=["accuracy"]', 'metrics=["acc"]'),
        ],
    ),
]
