"""MNIST digits: a convolutional network with dropout.

MNIST has 70,000 grayscale images of handwritten digits, 28x28 pixels, labelled 0 to 9.

One convolution layer with 32 filters of 3x3 learns strokes and curves; max pooling halves
the picture; a dense layer combines what the filters found into a digit. Such a network can
memorise its training images instead of learning digits. Dropout fights that: during training
it switches off a random 40% of its inputs at every step, so no single feature can be relied
on. (At test time dropout does nothing.)

You fill in two functions; the grader calls them (see `grade docs contract`):

    preprocess(images)   raw uint8 images -> what the model eats
    build_model()        the compiled CNN

Stretch goal, once the TODOs pass: two conv/pool stages (Conv2D, MaxPooling2D, Conv2D,
MaxPooling2D, then the same dropout and dense layers; the filter counts are yours to choose,
32 then 64 works well) and about 99% test accuracy. The grader recognises that architecture
too and awards bonus points when it reaches the top tier (the bars are in challenges/cnn.toml).

Check your work in seconds with `grade check cnn.py`, then `grade submit cnn.py`.
"""

import keras
from keras import layers


def preprocess(images):
    """Prepare raw images for the CNN.

    `images` is a uint8 array of shape (N, 28, 28) with pixel values 0..255.
    """
    # TODO 1: Reshape the images to (N, 28, 28, 1) and scale them to floats in [0, 1].
    # Conv2D needs a channels axis (one, for grayscale): images.reshape(-1, 28, 28, 1).
    # Then .astype("float32") / 255.0: small inputs between 0 and 1 make training faster and
    # steadier than raw 0..255 values.
    ### BEGIN SOLUTION
    return images.reshape(-1, 28, 28, 1).astype("float32") / 255.0
    ### END SOLUTION


def build_model():
    """The CNN, compiled and ready to train."""
    # TODO 2: Build the CNN with dropout and compile it.
    # Use keras.Sequential with, in order:
    #   keras.Input(shape=(28, 28, 1))
    #   layers.Conv2D(32, (3, 3), activation="relu")   26x26x32, 320 parameters
    #   layers.MaxPooling2D((2, 2))                    13x13x32
    #   layers.Dropout(0.4)                            drop 40% at random, in training only
    #   layers.Flatten()                               5,408 numbers
    #   layers.Dense(128, activation="relu")           692,352 parameters
    #   layers.Dropout(0.4)
    #   layers.Dense(10, activation="softmax")
    # Compile with optimizer="adam", loss="sparse_categorical_crossentropy" and
    # metrics=["accuracy"]. Expect 693,962 parameters in all.
    ### BEGIN SOLUTION
    model = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, (3, 3), activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Dropout(0.4),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dropout(0.4),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
    ### END SOLUTION


def make_callbacks(target_accuracy):
    """The callbacks the grader passes to model.fit: none here."""
    # Nothing to do: the grader trains for a fixed number of epochs. (Fashion-MNIST is where
    # you write a stop-at-target callback.)
    return []


if __name__ == "__main__":
    # Train it yourself on the verified files `grade data fetch` prepared (`grade docs data`), and
    # compare training with validation accuracy: dropout keeps the two close.
    from grader.data import load_dataset

    data = load_dataset("mnist")
    model = build_model()
    model.summary()
    model.fit(preprocess(data.train.images), data.train.labels, epochs=10, batch_size=64,
              validation_data=(preprocess(data.validation.images), data.validation.labels))
    print("test accuracy:", model.evaluate(preprocess(data.test.images), data.test.labels, verbose=0)[1])
