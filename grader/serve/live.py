"""Live updates: "something changed" signals from the graders' threads to the pages' event streams.

A signal carries a topic only ("board", or one learner's own list), never a figure: the page
that hears it fetches its fragment again, with its own cookie, so what a visitor sees is always
what the server would render for them. The dispatcher publishes from its threads; each Server-Sent
Events stream is an asyncio task, woken through its loop (`call_soon_threadsafe`).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

BOARD = "board"
HEARTBEAT_S = 15.0  # a comment line this often keeps proxies from closing a quiet stream


def learner_topic(learner: str) -> str:
    return f"learner:{learner.lower()}"


class Changes:
    """Subscribers per topic; `publish` may be called from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[str | None]]]] = {}
        self._closed = False

    def publish(self, topic: str) -> None:
        with self._lock:
            subscribers = list(self._subscribers.get(topic, ()))
        for loop, queue in subscribers:
            try:
                loop.call_soon_threadsafe(_offer, queue, topic)
            except RuntimeError:  # that stream's loop has ended
                pass

    def close(self) -> None:
        """Ends every stream (the service is stopping)."""
        with self._lock:
            self._closed = True
            everyone = [s for subscribers in self._subscribers.values() for s in subscribers]
        for loop, queue in everyone:
            try:
                loop.call_soon_threadsafe(_offer, queue, None)
            except RuntimeError:
                pass

    async def stream(self, topic: str, heartbeat_s: float = HEARTBEAT_S) -> AsyncIterator[str | None]:
        """Yields `topic` at each change (several changes close together: one), and None as a heartbeat."""
        queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=1)
        entry = (asyncio.get_running_loop(), queue)
        with self._lock:
            if self._closed:
                return
            self._subscribers.setdefault(topic, set()).add(entry)
        try:
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), timeout=heartbeat_s)
                except asyncio.TimeoutError:
                    yield None
                    continue
                if item is None:
                    return
                yield item
        finally:
            with self._lock:
                self._subscribers.get(topic, set()).discard(entry)


def _offer(queue: asyncio.Queue[str | None], item: str | None) -> None:
    if item is None:  # the end wins over a pending change
        while not queue.empty():
            queue.get_nowait()
    if queue.full():
        return  # a change is already waiting: the page will fetch once
    queue.put_nowait(item)
