# Replaces the child's callback probe with one that answers nothing ("stops": []) -> an incomplete answer earns no callback points.
import __main__ as _child  # the sandboxed child runs as python -m grader.describe.sandbox.child

if hasattr(_child, "probe_callbacks"):
    _child.probe_callbacks = lambda *args, **kwargs: {"count": 1, "stops": [], "error": None}
