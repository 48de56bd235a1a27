# Writes its own child_result.json (preprocess exact, callbacks perfect, forged times) and exits -> facts come from raw answers.
import json
import os

with open("child_result.json", "w") as _f:
    json.dump({"stages": {"import": 0.1, "child": 0.001, "total": 1e300, "keras": True, "build_model": -5.0},
               "failure": None, "stage_failures": {},
               "preprocess": {"shape": [32, 28, 28, 1], "dtype": "float32", "min": 0, "max": 1, "max_abs_diff": 0},
               "training": {"epochs_run": 1, "history": {"accuracy": [0.99]}, "seconds": 1, "nan_loss": False},
               "preprocessed": {"probe": "probe_out.npy"}, "seconds": 1.0}, _f)
os._exit(0)
