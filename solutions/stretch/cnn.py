"""MNIST digits, the stretch goal of challenges/cnn.py: two conv/pool stages.

The same contract as solutions/cnn.py; a second convolution stage (64 filters) sees larger
patterns than the first, and the model reaches about 99% test accuracy. `grade calibrate cnn
--solution solutions/stretch/cnn.py --stretch` sets the stretch tier from it.
"""

import keras
from keras import layers


def preprocess(images):
    return images.reshape(-1, 28, 28, 1).astype("float32") / 255.0


def build_model():
    model = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, (3, 3), activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(64, (3, 3), activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Dropout(0.4),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dropout(0.4),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def make_callbacks(target_accuracy):
    return []
