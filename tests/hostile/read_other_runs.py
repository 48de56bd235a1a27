# Searches for other runs' result.json and report.html -> only its own empty work folder is visible.
import os
for _dir, _subdirs, _files in os.walk("/"):
    if _dir.startswith(("/proc", "/sys", "/usr", "/dev")) or _dir.count("/") > 8:
        _subdirs[:] = []
        continue
    if "result.json" in _files or "report.html" in _files:
        hostile_win(f"found a run folder at {_dir}")
