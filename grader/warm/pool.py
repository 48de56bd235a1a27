"""The warm helper's processes, started before the request that will use them.

`WarmProcesses` is a `grader.processes.Processes`: the pipeline asks it for a sandboxed child
and a trainer exactly as it asks the cold one. Where one was started ahead with the same
settings (isolation, limits, Keras backend; device for the trainer) and is still waiting, it
is handed over; otherwise one is started on the spot. Each is handed over once: after a
grading, `refill()` starts fresh ones for the settings that were asked for.
"""

from __future__ import annotations

from typing import Hashable

from grader.processes import Processes
from grader.sandbox.isolation import Isolation
from grader.sandbox.limits import Limits
from grader.sandbox.runner import StartedChild
from grader.training.runner import TrainerProcess


class WarmProcesses(Processes):
    def __init__(self) -> None:
        self.children: dict[Hashable, StartedChild] = {}
        self.trainers: dict[Hashable, TrainerProcess] = {}
        self.wanted_children: dict[Hashable, dict] = {}  # settings asked for, to start again after a grading
        self.wanted_trainers: set[tuple[str, str | None]] = set()  # (device, Keras backend) asked for
        self.handed_over = {"child": 0, "trainer": 0}  # how many were ready when asked for (for tests, status)
        self.started_cold = {"child": 0, "trainer": 0}

    def child(self, *, isolation: Isolation, limits: Limits, keras_backend: str | None,
              preload: str = "keras") -> StartedChild:
        settings = {"isolation": isolation, "limits": limits, "keras_backend": keras_backend, "preload": preload}
        key = self._want_child(settings)
        ready = self.children.pop(key, None)
        if ready is not None and ready.alive():
            self.handed_over["child"] += 1
            return ready
        if ready is not None:
            ready.discard()
        self.started_cold["child"] += 1
        return super().child(**settings)

    def trainer(self, device: str, keras_backend: str | None = None) -> TrainerProcess:
        key = (device, keras_backend)
        self.wanted_trainers.add(key)
        ready = self.trainers.pop(key, None)
        if ready is not None and ready.process.poll() is None:
            self.handed_over["trainer"] += 1
            return ready
        if ready is not None:
            ready.close()
        self.started_cold["trainer"] += 1
        return super().trainer(device, keras_backend)

    def prime(self, *, isolation: Isolation, limits: Limits, keras_backend: str | None, device: str) -> None:
        """Ask for the settings a check will most likely want, before the first request: a child
        on `keras_backend` (the check's), a trainer on the backend that trains (it rehearses)."""
        self._want_child({"isolation": isolation, "limits": limits, "keras_backend": keras_backend,
                          "preload": "keras"})
        self.wanted_trainers.add((device, None))
        self.refill()

    def _want_child(self, settings: dict) -> Hashable:
        key = tuple(settings.values())
        self.wanted_children[key] = settings
        return key

    def refill(self) -> None:
        """Start a process for every setting asked for that has none waiting."""
        for key, settings in self.wanted_children.items():
            if key not in self.children:
                self.children[key] = super().child(**settings)
        for key in self.wanted_trainers:
            if key not in self.trainers:
                self.trainers[key] = super().trainer(*key)

    def close(self) -> None:
        for child in self.children.values():
            child.discard()
        for trainer in self.trainers.values():
            trainer.close()
        self.children.clear()
        self.trainers.clear()
