# Builds a model with a registered custom layer whose call() runs its own code -> refused: not a built-in class.
import keras


@keras.saving.register_keras_serializable(package="hostile")
class Sneaky(keras.layers.Dense):
    def call(self, inputs):
        hostile_win("my layer ran")
        return super().call(inputs)


def build_model():
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), Sneaky(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
