# Loops forever in a callback's on_epoch_end -> the probe runs in the sandbox, stopped at the describe budget.
import keras


class _Forever(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        while True:
            pass


def make_callbacks(target_accuracy):
    return [_Forever()]
