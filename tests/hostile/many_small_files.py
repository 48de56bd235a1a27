# Creates 20,000 small files in its work folder (bounded), to make the parent rescan a huge folder -> a hard quota of 10,000 files (root) or the parent's measure stops it: a clear crash verdict.
import os

os.makedirs("many", exist_ok=True)
for _n in range(20_000):
    try:
        with open(f"many/f{_n}", "w") as _f:
            _f.write("x")
    except OSError:
        break
else:
    hostile_win("made 20,000 files")
