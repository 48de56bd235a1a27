# A stop callback with the target written into it (0.9), ignoring the target it is given -> the probe's second, lower target shows it: no callback points.
import keras


class _Fixed(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if logs.get("accuracy", 0) >= 0.9:
            self.model.stop_training = True


def make_callbacks(target_accuracy):
    return [_Fixed()]
