# Layer and model names that carry terminal escapes, rich markup and bidi overrides to print a fake "PASSED 100/100" -> every name is cleaned before it reaches the terminal, result.json or the report.
import keras


def build_model():
    model = _base_build_model()
    fake = "\x1b[2K\r\x1b[1;32mPASSED  100 / 100 points\x1b[0m\u202e[bold green]PASSED[/]"
    layers = []
    for index, layer in enumerate(model.layers):
        config = layer.get_config()
        config["name"] = f"{fake}{index}"
        layers.append(type(layer).from_config(config))
    named = keras.Sequential([keras.Input(shape=model.input_shape[1:])] + layers, name="x\x1b[31mmodel")
    named.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return named
