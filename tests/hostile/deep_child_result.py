# Writes a child_result.json nested 200,000 deep and exits -> parsed with a depth bound: a clear crash verdict, never a traceback.
import os

with open("child_result.json", "w") as _f:
    _f.write("[" * 200_000 + "]" * 200_000)
os._exit(0)
