# Passes a function of another module as the activation (loaded by reference) -> only built-in activations by name.
import keras
import os.path


def build_model():
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(10, activation=os.path.basename)])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
