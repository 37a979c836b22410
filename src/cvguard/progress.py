"""Progress logs for long-running loops (workers, replay): one INFO line every ``every_s`` seconds.

    progress = ProgressLog(log, "worker w1")
    ... in the loop:
    if progress.due():
        progress.report(events=stats.entries, batches=stats.batches, extra=f"lag {bus.backlog()}")

Each line says the totals and the rate since the previous line, e.g.
``worker w1: 120000 events (11873/s), 240 batches, lag 0 entries``. Counts only, never a text.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

EVERY_S = 10.0


class ProgressLog:
    def __init__(
        self,
        log: logging.Logger,
        label: str,
        *,
        every_s: float = EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log, self.label, self.every_s, self._clock = log, label, every_s, clock
        self._last_at = clock()
        self._last_events = 0

    def due(self) -> bool:
        """Whether a line is due now (cheap: call it every iteration)."""
        return self._clock() - self._last_at >= self.every_s

    def report(self, *, events: int, batches: int | None = None, extra: str = "") -> None:
        now = self._clock()
        elapsed = max(now - self._last_at, 1e-9)
        rate = (events - self._last_events) / elapsed
        self._last_at, self._last_events = now, events
        parts = [f"{events} events ({rate:.0f}/s)"]
        if batches is not None:
            parts.append(f"{batches} batches")
        if extra:
            parts.append(extra)
        self.log.info("%s: %s", self.label, ", ".join(parts))
