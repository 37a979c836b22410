"""Raw-text retention: the store keeps an event's text only as long as the settings say.

The text of a message is personal data; its SHA-256 (kept for good) still proves what was said
when evidence is compared later. Retention runs in event time — the cutoff is ``keep`` before the
newest event processed — so replaying an old stream purges what it would have purged then, and a
purge covers only the range the previous one did not (one indexed range per hour of event time).
It never reaches past what the wall clock allows, though: the cutoff is the earlier of ``keep``
before the newest event and ``keep`` before now, so no event dated in the future (refused or set
aside upstream, see ``pipeline.clock``, but this holds even if one slipped through) can make it
purge text that is not yet ``keep`` old.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from cvguard.store.port import TextPurger


def _wall() -> datetime:
    return datetime.now(UTC)


class TextRetention:
    """Drops raw text older than ``keep`` behind the newest event time, at most once per ``every``."""

    def __init__(
        self,
        store: TextPurger,
        keep: timedelta,
        *,
        every: timedelta = timedelta(hours=1),
        wall: Callable[[], datetime] = _wall,
    ) -> None:
        if keep <= timedelta(0):
            raise ValueError("text retention must be positive")
        self.store, self.keep, self.every, self.wall = store, keep, every, wall
        self._done: datetime | None = None  # texts before this are already purged
        self.purged = 0

    def advance(self, newest: datetime) -> int:
        """Purge up to ``min(newest, wall now) - keep`` if an ``every`` has passed since the last purge."""
        cutoff = min(newest, self.wall()) - self.keep
        if self._done is not None and cutoff - self._done < self.every:
            return 0
        n = self.store.purge_text(cutoff, newer_than=self._done)
        self._done = cutoff
        self.purged += n
        return n

    @classmethod
    def of(
        cls, store: object, days: float | None, *, wall: Callable[[], datetime] = _wall
    ) -> TextRetention | None:
        """The retention for ``days`` (None: keep text) on ``store`` (None unless it can purge text)."""
        if days is None or not isinstance(store, TextPurger):
            return None
        return cls(store, timedelta(days=days), wall=wall)
