"""cnn-grader: auto-graded Keras challenges for learning convolutional neural networks."""
