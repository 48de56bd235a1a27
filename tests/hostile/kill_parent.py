# Kills its parent and every process it can signal -> it sees only the sandbox; the grader lives on.
import os
import signal

try:
    os.kill(os.getppid(), signal.SIGKILL)
except OSError:
    pass
try:
    os.kill(-1, signal.SIGKILL)  # everything this uid may signal
except OSError:
    pass
