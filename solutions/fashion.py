"""Fashion-MNIST: from a dense baseline to a convolutional network.

Fashion-MNIST has 70,000 grayscale photos of clothes, 28x28 pixels, in 10 classes
(T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot).

A dense network looks at every pixel on its own, so it has to learn "a sleeve here" separately
for every position. A convolution slides small 3x3 filters over the image instead: the same
filter finds an edge, a lace or a heel wherever it is. Pooling then halves the image, keeping
the strongest answer of each 2x2 patch, so later filters see larger parts of the picture.

You fill in four TODOs; the grader calls three functions (see `grade docs contract`):

    preprocess(images)               raw uint8 images -> what the model eats
    build_model()                    the compiled CNN
    make_callbacks(target_accuracy)  a callback that stops training at the target

Check your work in seconds with `grade check fashion.py`, then `grade submit fashion.py`.
"""

import keras
from keras import layers


# The dense baseline, to compare with: it reaches about 0.87-0.88 test accuracy.
# Nothing to do here. Run this file to train it next to your CNN.
def build_baseline():
    model = keras.Sequential([
        keras.Input(shape=(28, 28)),
        layers.Flatten(),  # 28x28 pixels -> 784 numbers in a row: where a pixel was is lost
        layers.Dense(128, activation="relu"),
        layers.Dense(10, activation="softmax"),  # one probability per class
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def preprocess(images):
    """Prepare raw images for the CNN.

    `images` is a uint8 array of shape (N, 28, 28) with pixel values 0..255.
    """
    # TODO 1: Reshape the images to (N, 28, 28, 1) and scale them to floats in [0, 1].
    # Conv2D expects a channels axis: grayscale photos have one channel, so add it with
    # images.reshape(-1, 28, 28, 1). Networks learn faster from small inputs than from
    # 0..255: convert with .astype("float32") and divide by 255.0.
    ### BEGIN SOLUTION
    return images.reshape(-1, 28, 28, 1).astype("float32") / 255.0
    ### END SOLUTION


def build_model():
    """The CNN, compiled and ready to train."""
    # TODO 2: Build the CNN and compile it.
    # Use keras.Sequential with, in order:
    #   keras.Input(shape=(28, 28, 1))
    #   layers.Conv2D(64, (3, 3), activation="relu")   64 filters of 3x3: 26x26x64 out
    #   layers.MaxPooling2D(2, 2)                      keep the max of each 2x2: 13x13x64
    #   layers.Conv2D(64, (3, 3), activation="relu")   11x11x64
    #   layers.MaxPooling2D(2, 2)                      5x5x64
    #   layers.Flatten()                               1,600 numbers
    #   layers.Dense(128, activation="relu")
    #   layers.Dense(10, activation="softmax")         one probability per class
    # Then compile with optimizer="adam", loss="sparse_categorical_crossentropy" (the labels
    # are class numbers 0..9) and metrics=["accuracy"]. Expect 243,786 parameters in all.
    ### BEGIN SOLUTION
    model = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(64, (3, 3), activation="relu"),
        layers.MaxPooling2D(2, 2),
        layers.Conv2D(64, (3, 3), activation="relu"),
        layers.MaxPooling2D(2, 2),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
    ### END SOLUTION


# Training longer than needed wastes time and starts to overfit. A callback is an object
# Keras calls during training: after each epoch it calls on_epoch_end with `logs`, a dict
# holding that epoch's "accuracy" and "loss". Setting self.model.stop_training = True there
# ends training after this epoch.
class StopAtAccuracy(keras.callbacks.Callback):
    def __init__(self, target_accuracy):
        super().__init__()
        self.target_accuracy = target_accuracy

    def on_epoch_end(self, epoch, logs=None):
        # TODO 3: Stop training once the training accuracy reaches the target.
        # Read logs["accuracy"]; when it is >= self.target_accuracy, print a short message
        # and set self.model.stop_training = True. Below the target, do nothing.
        ### BEGIN SOLUTION
        accuracy = (logs or {}).get("accuracy", 0.0)
        if accuracy >= self.target_accuracy:
            print(f"\nReached {accuracy:.3f} training accuracy (target {self.target_accuracy}): stopping.")
            self.model.stop_training = True
        ### END SOLUTION


def make_callbacks(target_accuracy):
    """The callbacks the grader passes to model.fit."""
    # TODO 4: Return a list holding one StopAtAccuracy callback for target_accuracy.
    # model.fit takes a list of callbacks, so wrap it: [StopAtAccuracy(target_accuracy)].
    ### BEGIN SOLUTION
    return [StopAtAccuracy(target_accuracy)]
    ### END SOLUTION


if __name__ == "__main__":
    # Train the baseline and your CNN yourself and compare. `grade data fetch` put the data
    # where Keras looks for it, so this works offline too.
    (train_images, train_labels), (test_images, test_labels) = keras.datasets.fashion_mnist.load_data()

    baseline = build_baseline()
    baseline.fit(train_images / 255.0, train_labels, epochs=5)
    print("baseline test accuracy:", baseline.evaluate(test_images / 255.0, test_labels, verbose=0)[1])

    model = build_model()
    model.summary()
    model.fit(preprocess(train_images), train_labels, epochs=20, callbacks=make_callbacks(0.95))
    print("CNN test accuracy:", model.evaluate(preprocess(test_images), test_labels, verbose=0)[1])
