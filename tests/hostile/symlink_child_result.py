# Replaces child_result.json with a link to /etc/passwd and exits -> opened with O_NOFOLLOW: refused.
import os

if os.path.lexists("child_result.json"):  # the grader has already written it once
    os.remove("child_result.json")
os.symlink("/etc/passwd", "child_result.json")
os._exit(0)
