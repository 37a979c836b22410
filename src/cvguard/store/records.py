"""What the store port takes and gives back: plain frozen records, no SQLAlchemy object.

Shared by the SQL store (``EventStore``) and its in-memory twin (``store.memory.MemoryStore``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from cvguard.verdict import Span, Verdict


class AlertLike(Protocol):
    """What ``upsert_alert`` needs from an alert (``behavior.alerts.Alert`` fits).

    ``resolved_at`` and ``resolution`` are set on the emission that closes an episode; the store
    reads them with ``getattr(..., None)``, so an object without them is an alert still running.
    """

    @property
    def alert_id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def subject_type(self) -> str: ...
    @property
    def subject_id(self) -> str: ...
    @property
    def level(self) -> str: ...
    @property
    def raised_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...
    @property
    def evidence(self) -> Mapping[str, Any]: ...
    @property
    def event_ids(self) -> Sequence[str]: ...
    @property
    def resolved_at(self) -> datetime | None: ...
    @property
    def resolution(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A saved behaviour state: ``data`` covers every event ingested up to ``through``."""

    name: str
    through: datetime
    saved_at: datetime
    format: int
    data: bytes


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as stored; ``text`` is None once retention purged it (``text_sha256`` stays)."""

    event_id: str
    surface: str
    occurred_at: datetime
    author_id: str
    author_created_at: datetime | None
    author_verified: bool
    author_minor: bool
    mcn_id: str | None
    target_ids: tuple[str, ...]
    thread_id: str | None
    topic_ids: tuple[str, ...]
    reply_to: str | None
    target_follows_author: bool | None
    author_follows_target: bool | None
    text: str | None
    text_sha256: str
    ingested_at: datetime
    verdict: Verdict | None


@dataclass(frozen=True, slots=True)
class StoredAlert:
    alert_id: str
    kind: str
    subject_type: str
    subject_id: str
    level: str
    status: str
    raised_at: datetime
    updated_at: datetime
    evidence: dict[str, Any]
    event_ids: tuple[str, ...]  # every event ever attached to the alert, sorted
    resolved_at: datetime | None = None  # event time the behaviour subsided (None: still running)
    resolution: str | None = None  # why it ended
    status_by: str | None = None  # who set the status (None: automation)
    status_at: datetime | None = None  # wall-clock time they set it
    status_note: str | None = None


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One status a person set on an alert, with the one it replaced."""

    alert_id: str
    changed_at: datetime
    actor: str
    previous_status: str
    status: str
    note: str | None


@dataclass(frozen=True, slots=True)
class EventText:
    """An event's raw text (None once retention purged it) and where its verdict found abuse."""

    text: str | None
    spans: tuple[Span, ...]


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One abusive event aimed at a target."""

    event_id: str
    occurred_at: datetime
    author_id: str
    surface: str
    thread_id: str | None
    score: float
    severity: str | None
    category: str | None  # the verdict's top category


@dataclass(frozen=True, slots=True)
class TopicSummary:
    topic_id: str
    events: int
    abusive_events: int
    authors: int
    abusive_authors: int
    first_at: datetime | None
    last_at: datetime | None
    categories: dict[str, int] = field(default_factory=dict)  # top category of abusive events
    alerts: int = 0  # alerts whose subject is this topic

    @property
    def abusive_share(self) -> float:
        return self.abusive_events / self.events if self.events else 0.0
