# Prints 2 GB of output -> the parent keeps only the head and the tail, and carries on.
import sys

_line = "spam " * 200 + "\n"
for _ in range(2 * 1024 * 1024 * 1024 // len(_line)):
    sys.stdout.write(_line)
sys.stdout.flush()
