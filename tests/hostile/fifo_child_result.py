# Leaves a FIFO as child_result.json and exits -> opened non-blocking and refused: the grader never hangs.
import os

if os.path.lexists("child_result.json"):  # the grader has already written it once
    os.remove("child_result.json")
os.mkfifo("child_result.json")
os._exit(0)
