# Looks for the raw Fashion-MNIST test files (t10k-*) anywhere -> the data folder is not in the sandbox.
import os
for _dir, _subdirs, _files in os.walk("/"):
    if _dir.startswith(("/proc", "/sys", "/usr", "/dev")) or _dir.count("/") > 8:
        _subdirs[:] = []
        continue
    if any(_name.startswith("t10k") for _name in _files):
        hostile_win(f"found the raw test split in {_dir}")
