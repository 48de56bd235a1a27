# Forks sleeping children until refused (bounded at 300) -> the process limit stops it.
import os
import time

_started = 0
try:
    for _ in range(300):  # bounded: each child sleeps 20 s at most, then exits
        if os.fork() == 0:
            time.sleep(20)
            os._exit(0)
        _started += 1
except OSError:
    pass
print(f"forked {_started}")
if _started >= 300:
    hostile_win("forked 300 processes")
