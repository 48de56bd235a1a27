# preprocess() returns arrays 16 times larger than the images -> read bounded: refused with a clear message.
import numpy as np


def preprocess(images):
    return np.zeros((len(images), 112, 112, 1), dtype="float64")
