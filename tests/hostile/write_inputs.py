# Overwrites its own inputs (the job, the images) -> they are mounted read-only.
import glob
import json
import os

for _path in glob.glob("/sandbox/inputs/*") + glob.glob(os.path.join(os.path.dirname(__file__), "*.json")):
    try:
        with open(_path, "a") as _f:
            _f.write(" ")
        hostile_win(f"wrote {_path}")
    except OSError:
        pass
