# Leaves a FIFO as child_result.json and exits -> opened non-blocking and refused: the grader never hangs.
import os

os.mkfifo("child_result.json")
os._exit(0)
