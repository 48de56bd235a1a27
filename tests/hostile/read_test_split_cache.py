# Searches the file system for the converted test split (*test*.npy) -> not mounted: nothing found.
import os
for _root in ("/", "/work", "/root", "/home", "/tmp", "/var", "/srv", "/opt"):
    for _dir, _subdirs, _files in os.walk(_root):
        if _dir.startswith(("/proc", "/sys", "/usr", "/dev")) or _dir.count("/") > 8:
            _subdirs[:] = []
            continue
        for _name in _files:
            if "test" in _name and _name.endswith(".npy") and "site-packages" not in _dir:
                hostile_win(f"found {_dir}/{_name}")
