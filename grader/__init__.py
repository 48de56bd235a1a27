"""cnn-grader: auto-graded Keras challenges for learning convolutional neural networks."""

import os as _os
import sys as _sys

# `python -m grader.x` puts the folder it was started from first on sys.path, before this package
# is even imported: a learner's json.py there would be imported by the grader itself. While
# Python is still resolving the -m module (sys.argv[0] is "-m"), that folder leaves the path; if
# it is the grader's own checkout it moves to the end, behind the standard library. Only os and
# sys are used here, both loaded before any folder is searched. (Trusted processes the grader
# starts itself go through grader/core/launch.py instead.)
if _sys.argv[:1] == ["-m"]:
    _here = _os.getcwd()
    _root = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
    _sys.path[:] = [p for p in _sys.path if p not in ("", ".") and _os.path.abspath(p) != _here]
    if _here == _root and _root not in _sys.path:
        _sys.path.append(_root)
