# Forks a setsid daemon that outlives the grader and rewrites files later -> the PID namespace dies with the child.
import os
import time

if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        for _ in range(60):  # bounded: ends by itself after 30 s even if nothing kills it
            time.sleep(0.5)
        os._exit(0)
    os._exit(0)
