# Monkeypatches keras.Model.fit to train 15 times the allowed epochs -> fit runs only in the trusted trainer.
import keras

_original_fit = keras.Model.fit


def _long_fit(self, *args, **kwargs):
    kwargs["epochs"] = kwargs.get("epochs", 1) * 15
    hostile_win("my fit was called")
    return _original_fit(self, *args, **kwargs)


keras.Model.fit = _long_fit
