"""Where a grading gets its two processes: the sandboxed child and the trusted trainer.

A cold grading starts them on the spot (`COLD`). The warm helper of `grade check --warm`
(grader/warm/) hands out ones it started before the request came: the same commands, the
same sandbox, the same limits, each used for one grading only. Only when they were started
differs, and so the isolation of a warm check is that of a cold one.
"""

from __future__ import annotations

from grader.describe.sandbox.isolation import Isolation
from grader.describe.sandbox.limits import Limits
from grader.describe.sandbox.runner import StartedChild, start_child
from grader.train.runner import TrainerProcess


class Processes:
    """Starts each process when the grading asks for it."""

    def child(
        self, *, isolation: Isolation, limits: Limits, keras_backend: str | None, preload: str = "keras"
    ) -> StartedChild:
        return start_child(isolation=isolation, limits=limits, keras_backend=keras_backend, preload=preload)

    def trainer(self, device: str, keras_backend: str | None = None, *, ahead: bool = False) -> TrainerProcess:
        """`ahead`: started before its grading asks (the warm helper): it warms its backend up meanwhile."""
        return TrainerProcess.start(device, keras_backend, warm_up=ahead)


COLD = Processes()
