"""The warm helper's processes, started before the request that will use them.

`WarmProcesses` is a `grader.pipeline.processes.Processes`: the pipeline asks it for a sandboxed child
and a trainer exactly as it asks the cold one. Where one was started ahead with the same
settings (isolation, limits, Keras backend; device for the trainer) and is still waiting, it
is handed over; otherwise one is started on the spot. Each is handed over once: after a
grading, `refill()` starts fresh ones for the settings that were asked for.

`depth` of each are kept ready (config.WARM_DEPTH: 1, or $GRADER_WARM_DEPTH): with 2, a check that
comes right after the last one finds a second set whose imports are done, instead of waiting for
the set the last check's refill has just started (a TensorFlow import: seconds on 2 cores).

The warm workers of `grade batch` and `grade serve` (grader/batch/warm.py) use three options:
- `eager`: each process handed over is replaced at once, so the next grading's imports run
  while this one grades, in the moments its own processes leave a core idle (the batch's next
  job is already waiting: a refill after the grading would come too late);
- `follow_last`: only the settings of the latest grading are kept ready, and processes waiting
  with other settings are discarded, so a batch whose submissions ask for two backends does not
  start two sets per grading;
- `zygotes`: a CPU trainer is forked by a zygote that imported Keras once (grader/train/zygote.py)
  instead of being started with its own import: each still serves one grading only.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from grader import config
from grader.describe.sandbox.isolation import Isolation
from grader.describe.sandbox.limits import Limits
from grader.describe.sandbox.runner import StartedChild
from grader.keras_support import backend
from grader.pipeline.processes import Processes
from grader.train.runner import TrainerProcess
from grader.train.zygote import TrainerZygote, ZygoteGone


class WarmProcesses(Processes):
    def __init__(
        self,
        depth: int = config.WARM_DEPTH,
        *,
        eager: bool = False,
        follow_last: bool = False,
        warm_up: bool = True,
        zygotes: bool = False,
    ) -> None:
        self.depth = max(1, depth)
        self.eager, self.follow_last = eager, follow_last
        self.warm_up = warm_up  # a trainer started ahead rehearses a small model while it waits
        self.zygotes_wanted = zygotes
        self.zygotes: dict[Hashable, TrainerZygote] = {}  # (device, Keras backend) -> its zygote (CPU only)
        # Oldest first: the first started is the likeliest to have finished importing.
        self.children: dict[Hashable, list[StartedChild]] = {}
        self.trainers: dict[Hashable, list[TrainerProcess]] = {}
        self.wanted_children: dict[Hashable, dict] = {}  # settings asked for, to start again after a grading
        self.wanted_trainers: set[tuple[str, str | None]] = set()  # (device, Keras backend) asked for
        self.handed_over = {"child": 0, "trainer": 0}  # how many were ready when asked for (for tests, status)
        self.forked = 0  # trainers forked by a zygote
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
        handed: StartedChild | None = None
        while waiting and handed is None:
            ready = waiting.pop(0)
            if ready.alive():
                self.handed_over["child"] += 1
                handed = ready
            else:
                ready.discard()
        if handed is None:
            self.started_cold["child"] += 1
            handed = super().child(**settings)
        if self.eager:
            self.refill()
        return handed

    def trainer(self, device: str, keras_backend: str | None = None, *, ahead: bool = False) -> TrainerProcess:
        key = (device, keras_backend)
        self._want_trainer(key)
        if (zygote := self.zygotes.get(key)) is not None:
            try:
                forked = zygote.trainer()
                self.forked += 1
                return forked
            except ZygoteGone:  # it died: a trainer of its own this time, a new zygote at the next refill
                self.zygotes.pop(key).close()
        waiting = self.trainers.get(key, [])
        handed: TrainerProcess | None = None
        while waiting and handed is None:
            ready = waiting.pop(0)
            if ready.process.poll() is None:
                self.handed_over["trainer"] += 1
                handed = ready
            else:
                ready.close()
        if handed is None:
            self.started_cold["trainer"] += 1
            handed = super().trainer(device, keras_backend)
        if self.eager:
            self.refill()
        return handed

    def prime(self, *, isolation: Isolation, limits: Limits, keras_backend: str | None, device: str) -> None:
        """Ask for the settings a check will most likely want, before the first request: a child
        on `keras_backend` (the check's), a trainer on the backend that trains (it rehearses)."""
        self._want_child({"isolation": isolation, "limits": limits, "keras_backend": keras_backend, "preload": "keras"})
        self._want_trainer((device, None))
        self.refill()

    def _want_child(self, settings: dict) -> Hashable:
        key = tuple(settings.values())
        if self.follow_last and key not in self.wanted_children:
            self.wanted_children.clear()
            for other in [other for other in self.children if other != key]:
                for child in self.children.pop(other):
                    child.discard()
        self.wanted_children[key] = settings
        return key

    def _want_trainer(self, key: tuple[str, str | None]) -> None:
        if self.follow_last and key not in self.wanted_trainers:
            self.wanted_trainers.clear()
            for other in [other for other in self.trainers if other != key]:
                for trainer in self.trainers.pop(other):
                    trainer.close()
            for other in [other for other in self.zygotes if other != key]:
                self.zygotes.pop(other).close()
        self.wanted_trainers.add(key)

    def refill(self) -> None:
        """Start processes for every setting asked for until `depth` of each are waiting."""
        for key, settings in self.wanted_children.items():
            waiting = self.children.setdefault(key, [])
            while len(waiting) < self.depth:
                waiting.append(super().child(**settings))
        for key in self.wanted_trainers:
            if self.zygotes_wanted and backend.trains_on_cpu(key[0]):  # forked when asked for: a zygote is all it takes
                zygote = self.zygotes.get(key)
                if zygote is None or not zygote.alive():
                    if zygote is not None:
                        zygote.close()
                    self.zygotes[key] = TrainerZygote.start(*key)
                continue
            waiting_trainers = self.trainers.setdefault(key, [])
            while len(waiting_trainers) < self.depth:
                waiting_trainers.append(super().trainer(*key, ahead=self.warm_up))

    def close(self) -> None:
        for children in self.children.values():
            for child in children:
                child.discard()
        for trainers in self.trainers.values():
            for trainer in trainers:
                trainer.close()
        for zygote in self.zygotes.values():
            zygote.close()
        self.children.clear()
        self.trainers.clear()
        self.zygotes.clear()
