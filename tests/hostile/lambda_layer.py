# Builds a model with a Lambda layer (code the parent would run) -> the config allow-list refuses it.
import keras


def build_model():
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Lambda(lambda x: x * 1.0),
        keras.layers.Flatten(),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
