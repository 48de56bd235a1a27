# Ends its own process at import with exit code 0 -> a crash verdict, never a pass.
import os

os._exit(0)
