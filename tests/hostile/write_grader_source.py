# Rewrites the grader's own evaluate.py at import -> read-only mount: the write fails, the grader is unchanged.
import grader.measure.evaluate as _target
try:
    with open(_target.__file__, "a") as _f:
        _f.write("\nFORGED = True\n")
    hostile_win("wrote grader/measure/evaluate.py")
except OSError:
    pass
