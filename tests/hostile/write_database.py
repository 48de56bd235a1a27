# Finds SQLite databases (the leaderboard) and writes a forged row -> not mounted; nothing it can write.
import os
import sqlite3
for _dir, _subdirs, _files in os.walk("/"):
    if _dir.startswith(("/proc", "/sys", "/usr", "/dev")) or _dir.count("/") > 8:
        _subdirs[:] = []
        continue
    for _name in _files:
        if _name.endswith((".sqlite", ".db")):
            try:
                sqlite3.connect(f"{_dir}/{_name}").execute("CREATE TABLE hostile (x)")
                hostile_win(f"wrote {_dir}/{_name}")
            except Exception:
                pass
