# Loads Fashion-MNIST through Keras' own cache (seeded by grade data fetch) -> a private empty HOME, no network.
import keras


def build_model():
    try:
        (_x, _y), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
        hostile_win(f"loaded {len(x_test)} test images from Keras' cache")
    except Exception:
        pass
    return _base_build_model()
