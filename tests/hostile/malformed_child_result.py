# Leaves a child_result.json of wrong types and exits -> read as data, not trusted: a clear crash verdict.
import json
import os

with open("child_result.json", "w") as _f:
    json.dump({"stages": [1, 2], "failure": "yes", "stage_failures": {"x": 3}, "callbacks": {"count": "many",
               "responses": [["a", None], 7]}, "model": {"config": 12}, "preprocessed": "all"}, _f)
os._exit(0)
