"""Import Keras' numpy backend without the two libraries a `grade check` never uses.

`grade check` runs on Keras' numpy backend (grader/keras_support/backend.py `check_backend`): it builds and
describes a model and never computes a convolution. Importing that backend still costs two
libraries it needs only for computing: JAX (its numpy backend takes convolutions, pooling and FFTs
from JAX, 0.4 s to import) and matplotlib's pyplot (for keras.visualization, 0.35 s, plus building
matplotlib's font list in a fresh sandbox, 0.1-0.2 s). On a check of about 3 s that is a third.

`import_numpy_keras()` imports Keras with both deferred: JAX (and the piece of Keras' JAX backend
that the numpy backend borrows) stand in as `Deferred` modules that import the real thing the
first time anything is used from them, and pyplot is absent while Keras imports (Keras imports
it inside `try ... except ImportError`), then deferred the same way. While Keras imports, nothing
deferred may resolve: what Keras takes inside `try ... except ImportError` is skipped (a shim of
its Orbax callback for JAX releases older than the grader's), and anything else it needs ends
the deferred import. Nothing is lost: a learner's preprocess() that calls keras.ops.conv still
gets JAX's convolution, a moment later. If the deferred import fails in any way (another Keras
release, say), Keras is imported as usual, with the real modules.
"""

from __future__ import annotations

import importlib
import sys
import threading
import types
from typing import Any, cast

# What the numpy backend imports at module level only to call later (Keras 3.15).
DEFERRED_MODULES = ("jax", "jax.lax", "keras.src.backend.jax.math")
ABSENT_WHILE_IMPORTING = ("matplotlib.pyplot",)

_resolving = threading.RLock()
_keras_importing = threading.Event()  # set: nothing may resolve (Keras' own try/except ImportError)


class StillDeferred(ImportError):
    """Something asked for a deferred module while Keras itself was importing."""


class Deferred(types.ModuleType):
    """A module that imports the real one on first use, then forwards to it.

    Taking a name from it (`from jax import lax`, `jax.lax`) gives a DeferredName, which resolves
    when it is called or used, so that importing Keras itself never resolves anything.
    """

    def __init__(self, name: str, *, lazy_names: bool = True):
        super().__init__(name)
        self.__dict__["_real"] = None
        self.__dict__["_lazy_names"] = lazy_names

    def real(self) -> types.ModuleType:
        if _keras_importing.is_set():
            # Keras imports a few of them inside `try: ... except ImportError` for optional extras
            # (a shim for old JAX releases in its Orbax callback): those are skipped. If Keras
            # needed one, the ImportError ends the deferred import and Keras is imported as usual.
            raise StillDeferred(f"{self.__name__} is deferred while Keras imports")
        with _resolving:
            if self.__dict__["_real"] is None:
                # The real modules replace every stand-in at once: the real jax imports jax.lax.
                for name in [n for n, m in sys.modules.items() if isinstance(m, Deferred)]:
                    del sys.modules[name]
                self.__dict__["_real"] = importlib.import_module(self.__name__)
            return self.__dict__["_real"]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # __path__, __file__, ...: asked by the import system itself
            if self.__dict__["_real"] is None:
                raise AttributeError(name)
            return getattr(self.__dict__["_real"], name)
        if self.__dict__["_real"] is not None or not self.__dict__["_lazy_names"]:
            return getattr(self.real(), name)
        return DeferredName(self, name)


class DeferredName:
    """`module.name` of a Deferred module, looked up when first used."""

    def __init__(self, owner: Deferred | DeferredName, name: str):
        self._owner, self._name = owner, name

    def resolve(self) -> Any:
        return getattr(self._owner.real(), self._name)

    def real(self) -> Any:  # so that a DeferredName can own names too (jax.lax.max)
        return self.resolve()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.resolve(), name)


def _deferred_pyplot() -> None:
    """Keras set its `plt` to None while pyplot was absent: give it a deferred pyplot instead."""
    pyplot = Deferred("matplotlib.pyplot", lazy_names=False)
    for name, module in list(sys.modules.items()):
        if name.startswith("keras.") and getattr(module, "plt", False) is None:
            cast(Any, module).plt = pyplot  # a Keras module: ModuleType declares no attributes to set


def import_numpy_keras() -> types.ModuleType:
    """Keras on its numpy backend, with JAX and pyplot deferred; as usual if that fails."""
    if "keras" in sys.modules or any(name in sys.modules for name in DEFERRED_MODULES + ABSENT_WHILE_IMPORTING):
        return importlib.import_module("keras")  # too late to defer: someone imported them already
    sys.modules.update({name: Deferred(name) for name in DEFERRED_MODULES})
    # An ImportError while Keras imports. typeshed's sys.modules has no None, which the import system documents.
    sys.modules.update(dict.fromkeys(ABSENT_WHILE_IMPORTING))  # type: ignore[arg-type]
    _keras_importing.set()
    try:
        keras = importlib.import_module("keras")
    except Exception:
        for name in [n for n in sys.modules if n == "keras" or n.startswith("keras.")]:
            del sys.modules[name]
        keras = None
    finally:
        _keras_importing.clear()
        for name in ABSENT_WHILE_IMPORTING:
            sys.modules.pop(name, None)
    if keras is None:  # the usual import, with the real modules
        for name in [n for n, m in sys.modules.items() if isinstance(m, Deferred)]:
            del sys.modules[name]
        return importlib.import_module("keras")
    _deferred_pyplot()
    return keras
