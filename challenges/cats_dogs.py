"""Cats vs dogs: curing overfitting with data augmentation and dropout.

2,000 colour photos of cats and dogs to train on, each resized to 150x150 pixels. The task is
binary: one output, the probability that the photo shows a dog.

Four Conv2D + MaxPooling2D stages turn a 150x150x3 photo into 7x7x128 features: the first
filters find edges and colours, later ones ears, eyes and fur. With so few photos, that network
soon memorises them: training accuracy climbs towards 100% while validation accuracy stalls
around 70%. That difference, the overfitting gap, is what this challenge is about. Two cures:

- data augmentation: every epoch, show each photo slightly changed (flipped, rotated, shifted,
  zoomed), so the network cannot memorise exact pixels. Keras preprocessing layers do
  this inside the model, and only while training;
- dropout: switch off half of the features at random before the dense head, at every step.

You fill in three functions; the grader calls them (see `grade docs contract`):

    preprocess(images)       raw uint8 photos (N, 150, 150, 3) -> floats in [0, 1]
    augmentation_layers()    the random changes (used by build_model)
    build_model()            the compiled CNN

Check your work in seconds with `grade check cats_dogs.py`, then `grade submit cats_dogs.py`.
"""

import keras
from keras import layers


def preprocess(images):
    """Prepare raw photos: a uint8 array of shape (N, 150, 150, 3), values 0..255."""
    # TODO 1: Scale the photos to floats in [0, 1].
    # They already have the right shape; use images.astype("float32") / 255.0. As with the
    # digits, inputs between 0 and 1 train faster and steadier than raw 0..255 values.
    raise NotImplementedError("TODO 1: Scale the photos to floats in [0, 1]")


def augmentation_layers():
    """A list of Keras layers that change each training photo at random."""
    # TODO 2: Return at least three kinds of random augmentation layers.
    # For example: layers.RandomFlip("horizontal") (a mirrored cat is still a cat),
    # layers.RandomRotation(0.1) (up to 10% of a full turn), layers.RandomTranslation(0.2, 0.2)
    # (shift up to 20%) and layers.RandomZoom(0.2). Any of Keras' random augmentation layers
    # counts (RandomContrast, RandomShear, RandomBrightness, ...).
    # They are only active while training; at test time they pass photos through unchanged.
    raise NotImplementedError("TODO 2: Return at least three kinds of random augmentation layers")


def build_model():
    """The CNN, with augmentation and dropout, compiled and ready to train."""
    # TODO 3: Build the CNN and compile it.
    # Use keras.Sequential with, in order:
    #   keras.Input(shape=(150, 150, 3))
    #   *augmentation_layers()                              (unpack the list into the model)
    #   layers.Conv2D(32, (3, 3), activation="relu"),  layers.MaxPooling2D(2, 2)
    #   layers.Conv2D(64, (3, 3), activation="relu"),  layers.MaxPooling2D(2, 2)
    #   layers.Conv2D(128, (3, 3), activation="relu"), layers.MaxPooling2D(2, 2)
    #   layers.Conv2D(128, (3, 3), activation="relu"), layers.MaxPooling2D(2, 2)
    #   layers.Flatten()                                    7x7x128 = 6,272 numbers
    #   layers.Dropout(0.5)                                 drop half, in training only
    #   layers.Dense(512, activation="relu")
    #   layers.Dense(1, activation="sigmoid")               the probability of "dog"
    # Compile with keras.optimizers.RMSprop(learning_rate=1e-4) (small, careful steps: with so
    # few photos the default 1e-3 jumps around), loss="binary_crossentropy" (labels are 0 for
    # cat, 1 for dog) and metrics=["accuracy"].
    # Expect 3,453,121 parameters in all.
    raise NotImplementedError("TODO 3: Build the CNN and compile it")


def make_callbacks(target_accuracy):
    """The callbacks the grader passes to model.fit: none here."""
    # Nothing to do: the grader trains for a fixed number of epochs.
    return []


if __name__ == "__main__":
    # Train it yourself on the verified photos `grade data fetch` prepared, and watch the gap
    # between training and validation accuracy stay small.
    from grader.data import load_dataset

    data = load_dataset("cats_vs_dogs")
    model = build_model()
    model.summary()
    model.fit(preprocess(data.train.images), data.train.labels, epochs=30, batch_size=32,
              validation_data=(preprocess(data.validation.images), data.validation.labels))
    print("test accuracy:", model.evaluate(preprocess(data.test.images), data.test.labels, verbose=0)[1])
