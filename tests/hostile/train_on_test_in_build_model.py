# Trains the model inside build_model() on whatever data it can reach -> the trusted trainer starts from fresh weights.
import numpy as np


def build_model():
    model = _base_build_model()
    x = np.random.rand(64, 28, 28, 1).astype("float32")
    model.fit(x, np.zeros(64, dtype="int64"), epochs=3, verbose=0)  # the weights it learned are thrown away
    return model
