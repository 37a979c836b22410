"""What the pipeline needs of a store beyond writing batches, as protocols both stores fit.

``EventStore`` (SQL) and ``MemoryStore`` (its in-memory twin) implement them; the pipeline checks
for them instead of for one class, so it checkpoints, resumes and purges text on either.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from cvguard.events import Event
from cvguard.store.decisions import DecisionRecord
from cvguard.store.records import Snapshot
from cvguard.verdict import Verdict


@runtime_checkable
class TextPurger(Protocol):
    """Drops raw text older than a time (``store.retention``)."""

    def purge_text(self, older_than: datetime, *, newer_than: datetime | None = None) -> int: ...


@runtime_checkable
class SnapshotStore(Protocol):
    """Keeps behaviour checkpoints and gives back the events stored after one (``Pipeline.resume``)."""

    def save_snapshot(self, name: str, data: bytes, *, through: datetime, fmt: int) -> None: ...

    def load_snapshot(self, name: str) -> Snapshot | None: ...

    def last_ingested_at(self) -> datetime | None: ...

    def last_occurred_at(self) -> datetime | None: ...

    def events_since(
        self,
        *,
        ingested_after: datetime | None = None,
        occurred_from: datetime | None = None,
        chunk: int = 5000,
    ) -> Iterator[list[tuple[Event, Verdict]]]: ...


@runtime_checkable
class DecisionStore(Protocol):
    """Records the decisions made at ingest (``store.decisions``)."""

    def add_decisions(self, records: Sequence[DecisionRecord]) -> int: ...

    def get_decision(self, event_id: str, *, shadow: bool = False) -> DecisionRecord | None: ...
