# Drops a .pth file into site-packages so later grader runs execute it -> read-only: nothing is written.
import site, sys
for _folder in site.getsitepackages() + [p for p in sys.path if p.endswith("site-packages")]:
    try:
        with open(f"{_folder}/zz_hostile.pth", "w") as _f:
            _f.write("import os\n")
        hostile_win(f"wrote {_folder}/zz_hostile.pth")
    except OSError:
        pass
