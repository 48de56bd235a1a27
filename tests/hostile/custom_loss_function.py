# Compiles with its own Python loss function -> refused: only built-in losses by name.
import keras


def sneaky_loss(y_true, y_pred):
    return keras.losses.sparse_categorical_crossentropy(y_true, y_pred)


def build_model():
    model = _base_build_model()
    model.compile(optimizer="adam", loss=sneaky_loss, metrics=["accuracy"])
    return model
