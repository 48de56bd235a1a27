# Writes a 100 MB child_result.json and exits -> read bounded: refused, a clear crash verdict.
import os

with open("child_result.json", "w") as _f:
    _f.write('{"stages": {}, "pad": "' + "x" * (100 * 1024 * 1024) + '"}')
os._exit(0)
