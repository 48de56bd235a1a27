# Tries to become root -> no capabilities in the sandbox: setuid(0) fails.
import os

try:
    os.setuid(0)
    if os.getuid() == 0:
        hostile_win("became root")
except OSError:
    pass
