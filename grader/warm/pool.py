"""The warm helper's processes, started before the request that will use them.

`WarmProcesses` is a `grader.pipeline.processes.Processes`: the pipeline asks it for a sandboxed child
and a trainer exactly as it asks the cold one. Where one was started ahead with the same
settings (isolation, limits, Keras backend; device for the trainer) and is still waiting, it
is handed over; otherwise one is started on the spot. Each is handed over once: after a
grading, `refill()` starts fresh ones for the settings that were asked for.

`depth` of each are kept ready (config.WARM_DEPTH: 1, or $GRADER_WARM_DEPTH): with 2, a check that
comes right after the last one finds a second set whose imports are done, instead of waiting for
the set the last check's refill has just started (a TensorFlow import: seconds on 2 cores).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from grader import config
from grader.describe.sandbox.isolation import Isolation
from grader.describe.sandbox.limits import Limits
from grader.describe.sandbox.runner import StartedChild
from grader.pipeline.processes import Processes
from grader.train.runner import TrainerProcess


class WarmProcesses(Processes):
    def __init__(self, depth: int = config.WARM_DEPTH) -> None:
        self.depth = max(1, depth)
        # Oldest first: the first started is the likeliest to have finished importing.
        self.children: dict[Hashable, list[StartedChild]] = {}
        self.trainers: dict[Hashable, list[TrainerProcess]] = {}
        self.wanted_children: dict[Hashable, dict] = {}  # settings asked for, to start again after a grading
        self.wanted_trainers: set[tuple[str, str | None]] = set()  # (device, Keras backend) asked for
        self.handed_over = {"child": 0, "trainer": 0}  # how many were ready when asked for (for tests, status)
        self.started_cold = {"child": 0, "trainer": 0}

    def ready(self) -> dict[str, int]:
        return {"child": sum(map(len, self.children.values())), "trainer": sum(map(len, self.trainers.values()))}

    def child(
        self, *, isolation: Isolation, limits: Limits, keras_backend: str | None, preload: str = "keras"
    ) -> StartedChild:
        settings: dict[str, Any] = {
            "isolation": isolation,
            "limits": limits,
            "keras_backend": keras_backend,
            "preload": preload,
        }
        key = self._want_child(settings)
        waiting = self.children.get(key, [])
        while waiting:
            ready = waiting.pop(0)
            if ready.alive():
                self.handed_over["child"] += 1
                return ready
            ready.discard()
        self.started_cold["child"] += 1
        return super().child(**settings)

    def trainer(self, device: str, keras_backend: str | None = None, *, ahead: bool = False) -> TrainerProcess:
        key = (device, keras_backend)
        self.wanted_trainers.add(key)
        waiting = self.trainers.get(key, [])
        while waiting:
            ready = waiting.pop(0)
            if ready.process.poll() is None:
                self.handed_over["trainer"] += 1
                return ready
            ready.close()
        self.started_cold["trainer"] += 1
        return super().trainer(device, keras_backend)

    def prime(self, *, isolation: Isolation, limits: Limits, keras_backend: str | None, device: str) -> None:
        """Ask for the settings a check will most likely want, before the first request: a child
        on `keras_backend` (the check's), a trainer on the backend that trains (it rehearses)."""
        self._want_child({"isolation": isolation, "limits": limits, "keras_backend": keras_backend, "preload": "keras"})
        self.wanted_trainers.add((device, None))
        self.refill()

    def _want_child(self, settings: dict) -> Hashable:
        key = tuple(settings.values())
        self.wanted_children[key] = settings
        return key

    def refill(self) -> None:
        """Start processes for every setting asked for until `depth` of each are waiting."""
        for key, settings in self.wanted_children.items():
            waiting = self.children.setdefault(key, [])
            while len(waiting) < self.depth:
                waiting.append(super().child(**settings))
        for key in self.wanted_trainers:
            waiting_trainers = self.trainers.setdefault(key, [])
            while len(waiting_trainers) < self.depth:
                waiting_trainers.append(super().trainer(*key, ahead=True))

    def close(self) -> None:
        for children in self.children.values():
            for child in children:
                child.discard()
        for trainers in self.trainers.values():
            for trainer in trainers:
                trainer.close()
        self.children.clear()
        self.trainers.clear()
