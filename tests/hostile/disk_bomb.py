# Writes files into its work folder (bounded at 1.5 GB) -> the disk quota kills the sandbox.
import os

_block = b"x" * (1 << 20)
for _n in range(30):  # 30 files of 50 MB at most
    try:
        with open(f"bomb{_n}.bin", "wb") as _f:
            for _ in range(50):
                _f.write(_block)
    except OSError:
        break
else:
    hostile_win("wrote 1.5 GB")
