# Replaces child_result.json with a link to /etc/passwd and exits -> opened with O_NOFOLLOW: refused.
import os

os.symlink("/etc/passwd", "child_result.json")
os._exit(0)
