# preprocess() returns an object array (a pickle in disguise) -> refused: numbers only, no pickles.
import numpy as np


def preprocess(images):
    out = np.empty(len(images), dtype=object)
    out[:] = [{"image": image} for image in images]
    return out
