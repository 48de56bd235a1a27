"""An MNIST model built to overfit: no dropout, a wide dense layer, many epochs on few images."""

import keras


def preprocess(images):
    return images.reshape(-1, 28, 28, 1).astype("float32") / 255.0


def build_model():
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(32, 3, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def make_callbacks(target_accuracy):
    return []
