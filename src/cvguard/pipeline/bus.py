"""The in-process event bus: a bounded queue between whoever produces batches and the pipeline.

Back-pressure is the bound: when the pipeline (usually the store) is slower than the producer,
``publish`` blocks until there is room, so memory stays flat however large the input is. The
producer ends the stream with ``close()`` — or ``close(error)``, which the consumer re-raises after
it has processed everything published before it, so the work done before a bad input is kept.
A consumer that gives up calls ``cancel()``, which wakes a blocked producer with ``BusClosed``.

The scale-out twin (Redis Streams with consumer groups) keeps the same shape: publish batches,
iterate them, acknowledge after the durable write.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

_POLL_S = 0.1  # how often a blocked producer checks whether the consumer gave up


class BusClosed(Exception):
    """Publishing to a bus that was closed or cancelled."""


class _End:
    __slots__ = ("error",)

    def __init__(self, error: BaseException | None) -> None:
        self.error = error


class InProcessBus(Generic[T]):
    """A bounded FIFO of items (typically batches of events) between two threads."""

    def __init__(self, max_size: int = 8) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self.max_size = max_size
        self._queue: queue.Queue[T | _End] = queue.Queue(maxsize=max_size)
        self._closed = False
        self._cancelled = threading.Event()
        self.blocked = 0  # publishes that had to wait for room (a back-pressure metric)

    def publish(self, item: T) -> None:
        """Append ``item``; blocks while the bus is full. Raises ``BusClosed`` once closed/cancelled."""
        if self._closed or self._cancelled.is_set():
            raise BusClosed("the bus is closed")
        try:
            self._queue.put_nowait(item)
            return
        except queue.Full:
            self.blocked += 1
        while True:
            if self._cancelled.is_set():
                raise BusClosed("the consumer stopped")
            try:
                self._queue.put(item, timeout=_POLL_S)
                return
            except queue.Full:
                continue

    def close(self, error: BaseException | None = None) -> None:
        """No more items; the consumer stops after the ones already published (then raises ``error``)."""
        if self._closed:
            return
        self._closed = True
        while not self._cancelled.is_set():
            try:
                self._queue.put(_End(error), timeout=_POLL_S)
                return
            except queue.Full:
                continue

    def cancel(self) -> None:
        """The consumer gives up: a producer blocked in ``publish`` or ``close`` returns at once."""
        self._cancelled.set()

    def __iter__(self) -> Iterator[T]:
        """Items in publish order until ``close``; re-raises the error ``close`` was given."""
        while True:
            item = self._queue.get()
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                return
            yield item

    def qsize(self) -> int:
        return self._queue.qsize()
