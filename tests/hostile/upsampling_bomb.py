# A model within every unit cap whose activations are huge: UpSampling2D(size=400) makes 11200x11200 values per image -> refused before any training, with a message that names the layer.
import keras


def build_model():
    model = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        keras.layers.UpSampling2D(size=400),
        keras.layers.GlobalMaxPooling2D(),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
