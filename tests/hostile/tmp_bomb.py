# Fills /tmp and HOME (bounded at 1 GB each) -> they are small private tmpfs mounts.
import os

_block = b"x" * (1 << 20)
for _folder in ("/tmp", os.path.expanduser("~")):
    _written = 0
    try:
        with open(f"{_folder}/bomb.bin", "wb") as _f:
            for _ in range(1024):
                _f.write(_block)
                _written += 1
    except OSError:
        pass
    if _written >= 1024:
        hostile_win(f"wrote 1 GB to {_folder}")
