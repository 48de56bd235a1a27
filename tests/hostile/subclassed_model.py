# Returns a subclassed keras.Model whose call() is its own code -> the grader refuses to rebuild it.
import keras


class Mine(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(10, activation="softmax")
        self.flat = keras.layers.Flatten()

    def call(self, x):
        return self.dense(self.flat(x))


def build_model():
    model = Mine()
    model.build((None, 28, 28, 1))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
