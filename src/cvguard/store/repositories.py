"""The store port: what the pipeline, the API and the CLI read and write, one transaction a call.

Writes are bulk and idempotent: ``add_batch`` sends one ``INSERT ... ON CONFLICT DO NOTHING ...
RETURNING event_id`` for the whole batch (multi-row VALUES on SQLite and PostgreSQL alike), so
at-least-once delivery from the bus becomes exactly-once in the database, and only the events that
were new get their verdict, target and topic rows. Reads return the frozen dataclasses below; no
SQLAlchemy object leaves this module. Every database failure surfaces as ``StoreError``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, RowMapping, and_, case, func, insert, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from cvguard.errors import InputError, StoreError
from cvguard.events import Author, Event, Relationship
from cvguard.store import models as m
from cvguard.store.bulk import BulkWriter
from cvguard.store.engine import create_store_engine, migrate
from cvguard.verdict import Span, Verdict
from cvguard.vocabulary import ALERT_STATUSES, LEVELS, SUBJECT_TYPES

_SPAN_FIELDS = ("start", "end", "term", "category", "source", "severity", "match", "weight")


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


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _plain(value: object) -> str:
    return str(value.value) if isinstance(value, Enum) else str(value)


def _stored_pair(row: RowMapping) -> tuple[Event, Verdict]:
    """An event and its verdict as behaviour needs them, rebuilt from a stored row."""
    event = Event(
        event_id=row["event_id"],
        surface=row["surface"],
        occurred_at=row["occurred_at"],
        author=Author(
            id=row["author_id"],
            created_at=row["author_created_at"],
            verified=bool(row["author_verified"]),
            minor=bool(row["author_minor"]),
            mcn_id=row["mcn_id"],
        ),
        text=row["text"] or "",
        target_ids=tuple(row["target_ids"]),
        thread_id=row["thread_id"],
        topic_ids=tuple(row["topic_ids"]),
        reply_to=row["reply_to"],
        relationship=Relationship(
            target_follows_author=row["target_follows_author"],
            author_follows_target=row["author_follows_target"],
        ),
    )
    verdict = Verdict(
        violation=bool(row["violation"]),
        score=float(row["score"]),
        severity=row["severity"],
        categories={str(k): float(x) for k, x in row["categories"].items()},
        spans=(),
        versions={},
    )
    return event, verdict


def _db_text(value: str) -> str:
    # PostgreSQL text cannot hold NUL; the hash is taken over the original text
    return value.replace("\x00", "\ufffd") if "\x00" in value else value


class EventStore:
    """Events, verdicts and alerts in SQLite or PostgreSQL.

    ``EventStore.open(url)`` builds the engine and migrates; ``EventStore(engine)`` wraps one the
    caller owns. ``clock`` stamps ``ingested_at`` (injected so tests can pin it).
    """

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = _utcnow) -> None:
        self._engine = engine
        self._clock = clock
        dialect = engine.dialect.name
        if dialect not in ("sqlite", "postgresql"):
            raise StoreError(f"unsupported database dialect {dialect!r}")
        self._insert: Callable[..., Any] = sqlite.insert if dialect == "sqlite" else postgresql.insert
        self._bulk = BulkWriter(engine.dialect)

    @classmethod
    def open(
        cls, url: str, *, run_migrations: bool = True, clock: Callable[[], datetime] = _utcnow
    ) -> EventStore:
        engine = create_store_engine(url)
        try:
            if run_migrations:
                migrate(engine)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, clock=clock)

    @property
    def engine(self) -> Engine:
        return self._engine

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        try:
            with self._engine.begin() as connection:
                yield connection
        except SQLAlchemyError as exc:
            raise StoreError(f"{type(exc).__name__}: {exc}") from exc

    # -- events ---------------------------------------------------------------------------------

    def add_batch(
        self, events: Sequence[Event], verdicts: Sequence[Verdict], *, keep_text: bool
    ) -> list[str]:
        """Store events with their verdicts (``verdicts[i]`` belongs to ``events[i]``).

        Returns the ids that were new, in input order; an id already stored (or repeated in the
        batch) is skipped and not returned. One transaction for the batch.
        """
        if len(events) != len(verdicts):
            raise StoreError(f"{len(events)} events but {len(verdicts)} verdicts")
        batch: dict[str, tuple[Event, Verdict]] = {}
        for ev, verdict in zip(events, verdicts, strict=True):
            batch.setdefault(ev.event_id, (ev, verdict))
        if not batch:
            return []
        now = self._clock()
        # a fixed lock order: two workers inserting overlapping batches cannot deadlock
        ordered = [batch[eid] for eid in sorted(batch)]
        cv = self._bulk
        stamp = cv.time(now)
        occurred = {ev.event_id: cv.time(ev.occurred_at) for ev, _ in ordered}
        memo = _RowMemo(cv)
        event_rows = [
            _event_values(ev, cv, occurred[ev.event_id], stamp, keep_text, memo) for ev, _ in ordered
        ]
        with self._tx() as conn:
            new = set(cv.insert(conn, m.events, event_rows, skip_existing=True))
            if new:
                fresh = [(ev, v) for ev, v in ordered if ev.event_id in new]
                versions: dict[int, str] = {}  # one screening run: the same versions dict throughout
                # A repeated text shares one Verdict object (``Screener.screen_many``): its
                # columns are encoded once. Keyed by id(); ``fresh`` keeps every verdict alive.
                encoded: dict[int, tuple[Any, ...]] = {}
                rows = []
                for ev, v in fresh:
                    cols = encoded.get(id(v))
                    if cols is None:
                        cols = encoded[id(v)] = _verdict_values("", v, cv, versions)[1:]
                    rows.append((ev.event_id, *cols))
                cv.insert(conn, m.verdicts, rows)
                for table, attr in ((m.event_targets, "target_ids"), (m.event_topics, "topic_ids")):
                    links = [
                        (ev.event_id, key, occurred[ev.event_id])
                        for ev, _ in fresh
                        for key in dict.fromkeys(getattr(ev, attr))
                    ]
                    cv.insert(conn, table, links)
        return [eid for eid in batch if eid in new]

    def conflicts(self, events: Sequence[Event], new_ids: Sequence[str]) -> list[str]:
        """Of the events ``add_batch`` did not store, the ids whose text differs from the text
        stored (or kept earlier in the same batch) under that id: a conflict, not a duplicate.
        Compared by SHA-256, so it holds after retention dropped the stored text."""
        new = set(new_ids)
        first: dict[str, str] = {}  # id -> digest of the version kept from this batch
        digest = _RowMemo(self._bulk).digest
        repeats: list[Event] = []
        for ev in events:
            if ev.event_id in new and ev.event_id not in first:
                first[ev.event_id] = digest(ev.text)
            else:
                repeats.append(ev)
        if not repeats:
            return []
        wanted = sorted({ev.event_id for ev in repeats if ev.event_id not in first})
        stored: dict[str, str] = {}
        with self._tx() as conn:
            for i in range(0, len(wanted), 1000):
                chunk = wanted[i : i + 1000]
                rows = conn.execute(
                    select(m.events.c.event_id, m.events.c.text_sha256).where(m.events.c.event_id.in_(chunk))
                )
                stored.update({str(r[0]): str(r[1]) for r in rows})
        out: dict[str, None] = {}
        for ev in repeats:
            known = first.get(ev.event_id) or stored.get(ev.event_id)
            if known is not None and known != digest(ev.text):
                out[ev.event_id] = None
        return list(out)

    def get_event(self, event_id: str) -> StoredEvent | None:
        stmt = (
            select(m.events, *[c for c in m.verdicts.c if c.name != "event_id"])
            .outerjoin(m.verdicts, m.verdicts.c.event_id == m.events.c.event_id)
            .where(m.events.c.event_id == event_id)
        )
        with self._tx() as conn:
            row = conn.execute(stmt).mappings().first()
        if row is None:
            return None
        verdict = None
        if row["violation"] is not None:
            verdict = Verdict(
                violation=bool(row["violation"]),
                score=float(row["score"]),
                severity=row["severity"],
                categories={str(k): float(v) for k, v in row["categories"].items()},
                spans=tuple(Span(**s) for s in row["spans"]),
                versions={str(k): str(v) for k, v in row["versions"].items()},
                notes=tuple(row["notes"]),
            )
        return StoredEvent(
            event_id=row["event_id"],
            surface=row["surface"],
            occurred_at=row["occurred_at"],
            author_id=row["author_id"],
            author_created_at=row["author_created_at"],
            author_verified=bool(row["author_verified"]),
            author_minor=bool(row["author_minor"]),
            mcn_id=row["mcn_id"],
            target_ids=tuple(row["target_ids"]),
            thread_id=row["thread_id"],
            topic_ids=tuple(row["topic_ids"]),
            reply_to=row["reply_to"],
            target_follows_author=row["target_follows_author"],
            author_follows_target=row["author_follows_target"],
            text=row["text"],
            text_sha256=row["text_sha256"],
            ingested_at=row["ingested_at"],
            verdict=verdict,
        )

    # -- behaviour snapshots (the embedded pipeline's checkpoints) --------------------------------

    def save_snapshot(self, name: str, data: bytes, *, through: datetime, fmt: int) -> None:
        """Keep ``data`` as snapshot ``name`` (replacing the previous one), covering every event
        ingested up to ``through``."""
        row = {"name": name, "through": through, "saved_at": self._clock(), "format": fmt, "data": data}
        stmt = self._insert(m.behaviour_snapshots).values(row)
        stmt = stmt.on_conflict_do_update(
            index_elements=["name"],
            set_={k: stmt.excluded[k] for k in ("through", "saved_at", "format", "data")},
        )
        with self._tx() as conn:
            conn.execute(stmt)

    def load_snapshot(self, name: str) -> Snapshot | None:
        with self._tx() as conn:
            row = conn.execute(
                select(m.behaviour_snapshots).where(m.behaviour_snapshots.c.name == name)
            ).mappings().first()
        if row is None:
            return None
        return Snapshot(row["name"], row["through"], row["saved_at"], int(row["format"]), bytes(row["data"]))

    def last_ingested_at(self) -> datetime | None:
        """When the newest stored batch was ingested (None for an empty store)."""
        return self._latest(m.events.c.ingested_at)

    def last_occurred_at(self) -> datetime | None:
        """The newest event time stored (None for an empty store)."""
        return self._latest(m.events.c.occurred_at)

    def _latest(self, column: Any) -> datetime | None:
        with self._tx() as conn:
            value: datetime | None = conn.scalar(select(func.max(column)))
        return value  # typed by the column: timezone-aware UTC on both databases

    def events_since(
        self,
        *,
        ingested_after: datetime | None = None,
        occurred_from: datetime | None = None,
        chunk: int = 5000,
    ) -> Iterator[list[tuple[Event, Verdict]]]:
        """Stored events with their verdicts, ingested after ``ingested_after`` and occurred at or
        after ``occurred_from``, batch by batch as ingested (and by event time within a batch),
        in lists of up to ``chunk``. A purged text comes back empty. For rebuilding behaviour."""
        e, v = m.events, m.verdicts
        stmt = select(e, v.c.violation, v.c.score, v.c.severity, v.c.categories).join(
            v, v.c.event_id == e.c.event_id
        )
        if ingested_after is not None:
            stmt = stmt.where(e.c.ingested_at > ingested_after)
        if occurred_from is not None:
            stmt = stmt.where(e.c.occurred_at >= occurred_from)
        stmt = stmt.order_by(e.c.ingested_at, e.c.occurred_at, e.c.event_id)
        with self._tx() as conn:
            result = conn.execution_options(yield_per=chunk).execute(stmt).mappings()
            for rows in result.partitions():
                yield [_stored_pair(r) for r in rows]

    def count_events(self) -> int:
        with self._tx() as conn:
            return int(conn.scalar(select(func.count()).select_from(m.events)) or 0)

    def purge_text(self, older_than: datetime, *, newer_than: datetime | None = None) -> int:
        """Drop the raw text of events that occurred before ``older_than`` (and, when given, at or
        after ``newer_than``: the range a previous purge has not covered); returns how many. The
        SHA-256 of the text stays."""
        stmt = (
            update(m.events)
            .where(m.events.c.occurred_at < older_than, m.events.c.text.is_not(None))
            .values(text=None)
        )
        if newer_than is not None:
            stmt = stmt.where(m.events.c.occurred_at >= newer_than)
        with self._tx() as conn:
            return int(conn.execute(stmt).rowcount)

    # -- reads for targets and topics -----------------------------------------------------------

    def target_timeline(
        self, target_id: str, *, since: datetime, until: datetime, limit: int = 10_000
    ) -> list[TimelineEntry]:
        """Abusive events aimed at ``target_id`` with ``since <= occurred_at < until``, oldest first."""
        stmt = (
            select(
                m.events.c.event_id,
                m.event_targets.c.occurred_at,
                m.events.c.author_id,
                m.events.c.surface,
                m.events.c.thread_id,
                m.verdicts.c.score,
                m.verdicts.c.severity,
                m.verdicts.c.top_category,
            )
            .select_from(m.event_targets)
            .join(m.events, m.events.c.event_id == m.event_targets.c.event_id)
            .join(m.verdicts, m.verdicts.c.event_id == m.event_targets.c.event_id)
            .where(
                m.event_targets.c.target_id == target_id,
                m.event_targets.c.occurred_at >= since,
                m.event_targets.c.occurred_at < until,
                m.verdicts.c.violation.is_(True),
            )
            .order_by(m.event_targets.c.occurred_at, m.events.c.event_id)
            .limit(limit)
        )
        with self._tx() as conn:
            return [
                TimelineEntry(
                    event_id=r.event_id,
                    occurred_at=r.occurred_at,
                    author_id=r.author_id,
                    surface=r.surface,
                    thread_id=r.thread_id,
                    score=float(r.score),
                    severity=r.severity,
                    category=r.top_category,
                )
                for r in conn.execute(stmt)
            ]

    def event_texts(self, event_ids: Sequence[str]) -> dict[str, EventText]:
        """The stored text and verdict spans of these events (ids not stored are left out)."""
        ids = list(dict.fromkeys(event_ids))
        found: dict[str, EventText] = {}
        with self._tx() as conn:
            for i in range(0, len(ids), 1000):
                stmt = (
                    select(m.events.c.event_id, m.events.c.text, m.verdicts.c.spans)
                    .outerjoin(m.verdicts, m.verdicts.c.event_id == m.events.c.event_id)
                    .where(m.events.c.event_id.in_(ids[i : i + 1000]))
                )
                for event_id, text_, spans in conn.execute(stmt):
                    found[event_id] = EventText(text_, tuple(Span(**s) for s in spans or ()))
        return found

    def topic_summary(
        self, topic_id: str, *, since: datetime | None = None, until: datetime | None = None
    ) -> TopicSummary:
        """Volume, abusive share, authors and categories of a topic (optionally in a time range)."""
        where = [m.event_topics.c.topic_id == topic_id]
        if since is not None:
            where.append(m.event_topics.c.occurred_at >= since)
        if until is not None:
            where.append(m.event_topics.c.occurred_at < until)
        abusive = m.verdicts.c.violation.is_(True)
        base = (
            select()
            .select_from(m.event_topics)
            .join(m.events, m.events.c.event_id == m.event_topics.c.event_id)
            .outerjoin(m.verdicts, m.verdicts.c.event_id == m.event_topics.c.event_id)
            .where(and_(*where))
        )
        totals = base.add_columns(
            func.count(),
            func.coalesce(func.sum(case((abusive, 1), else_=0)), 0),
            func.count(m.events.c.author_id.distinct()),
            func.count(case((abusive, m.events.c.author_id)).distinct()),
            func.min(m.event_topics.c.occurred_at),
            func.max(m.event_topics.c.occurred_at),
        )
        by_category = (
            base.add_columns(m.verdicts.c.top_category, func.count())
            .where(abusive)
            .group_by(m.verdicts.c.top_category)
        )
        topic_alerts = (
            select(func.count())
            .select_from(m.alerts)
            .where(m.alerts.c.subject_type == "topic", m.alerts.c.subject_id == topic_id)
        )
        with self._tx() as conn:
            n, n_abusive, n_authors, n_abusive_authors, first, last = conn.execute(totals).one()
            categories = {str(cat): int(k) for cat, k in conn.execute(by_category) if cat is not None}
            n_alerts = int(conn.scalar(topic_alerts) or 0)
        return TopicSummary(
            topic_id=topic_id,
            events=int(n),
            abusive_events=int(n_abusive),
            authors=int(n_authors),
            abusive_authors=int(n_abusive_authors),
            first_at=first,
            last_at=last,
            categories=dict(sorted(categories.items(), key=lambda kv: (-kv[1], kv[0]))),
            alerts=n_alerts,
        )

    # -- alerts ---------------------------------------------------------------------------------

    def upsert_alert(self, alert: AlertLike) -> StoredAlert:
        """Insert an alert, or update its level, evidence and ``updated_at`` (escalation).

        The first ``raised_at`` is kept. An alert that carries ``resolved_at`` (the emission that
        closes an episode) is recorded as resolved, with when and why; the status a person set is
        kept whatever comes later. A state older than the stored one (a redelivered message)
        changes nothing; a resolution, once recorded, stays; event ids accumulate.
        """
        with self._tx() as conn:
            self._upsert_alert(conn, alert)
            stored = self._alerts(conn, select(m.alerts).where(m.alerts.c.alert_id == alert.alert_id))
        return stored[0]

    def upsert_alerts(self, alerts: Sequence[AlertLike]) -> int:
        """``upsert_alert`` for many, in one transaction (all or none); returns how many."""
        with self._tx() as conn:
            for alert in alerts:
                self._upsert_alert(conn, alert)
        return len(alerts)

    def _upsert_alert(self, conn: Connection, alert: AlertLike) -> None:
        level = _plain(alert.level)
        subject_type = _plain(alert.subject_type)
        if level not in LEVELS:
            raise StoreError(f"alert {alert.alert_id}: level {level!r} is not one of {LEVELS}")
        if subject_type not in SUBJECT_TYPES:
            raise StoreError(
                f"alert {alert.alert_id}: subject_type {subject_type!r} is not one of {SUBJECT_TYPES}"
            )
        resolved_at: datetime | None = getattr(alert, "resolved_at", None)
        resolution: str | None = getattr(alert, "resolution", None)
        row = {
            "alert_id": alert.alert_id,
            "kind": _plain(alert.kind),
            "subject_type": subject_type,
            "subject_id": alert.subject_id,
            "level": level,
            "status": "open" if resolved_at is None else "resolved",
            "raised_at": alert.raised_at,
            "updated_at": alert.updated_at,
            "evidence": dict(alert.evidence),
            "resolved_at": resolved_at,
            "resolution": resolution,
        }
        a = m.alerts.c
        stmt = self._insert(m.alerts).values(row)
        new = stmt.excluded
        stmt = stmt.on_conflict_do_update(
            index_elements=["alert_id"],
            set_={
                "level": new.level,
                "evidence": new.evidence,
                "updated_at": new.updated_at,
                "resolved_at": func.coalesce(new.resolved_at, a.resolved_at),
                "resolution": case((new.resolved_at.is_not(None), new.resolution), else_=a.resolution),
                # automation resolves an alert only while no person has set its status
                "status": case(
                    (and_(a.status_by.is_(None), new.resolved_at.is_not(None)), "resolved"),
                    else_=a.status,
                ),
            },
            where=a.updated_at <= new.updated_at,
        )
        links = [{"alert_id": alert.alert_id, "event_id": e} for e in dict.fromkeys(alert.event_ids)]
        conn.execute(stmt)
        if links:
            conn.execute(self._insert(m.alert_events).on_conflict_do_nothing(), links)

    def get_alert(self, alert_id: str) -> StoredAlert | None:
        with self._tx() as conn:
            found = self._alerts(conn, select(m.alerts).where(m.alerts.c.alert_id == alert_id))
        return found[0] if found else None

    def list_alerts(
        self,
        *,
        subject_id: str | None = None,
        subject_type: str | None = None,
        kind: str | None = None,
        level_at_least: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        status: str | None = None,
        after: tuple[datetime, str] | None = None,
        limit: int = 100,
    ) -> list[StoredAlert]:
        """Alerts matching every filter given, most recently updated first (then by id).

        ``since`` (inclusive) and ``until`` (exclusive) compare with ``updated_at``, so an
        escalation counts as recent. ``after`` is the ``(updated_at, alert_id)`` of the last alert
        of the previous page: the list goes on strictly after it, so pages neither repeat nor skip
        an alert that did not change in between (keyset pagination).
        """
        a = m.alerts.c
        stmt = select(m.alerts)
        if subject_id is not None:
            stmt = stmt.where(a.subject_id == subject_id)
        if subject_type is not None:
            stmt = stmt.where(a.subject_type == subject_type)
        if kind is not None:
            stmt = stmt.where(a.kind == kind)
        if level_at_least is not None:
            level = _plain(level_at_least)
            if level not in LEVELS:
                raise StoreError(f"level {level!r} is not one of {LEVELS}")
            stmt = stmt.where(a.level.in_(LEVELS[LEVELS.index(level) :]))
        if since is not None:
            stmt = stmt.where(a.updated_at >= since)
        if until is not None:
            stmt = stmt.where(a.updated_at < until)
        if status is not None:
            stmt = stmt.where(a.status == status)
        if after is not None:
            at, alert_id = after
            stmt = stmt.where(or_(a.updated_at < at, and_(a.updated_at == at, a.alert_id > alert_id)))
        stmt = stmt.order_by(a.updated_at.desc(), a.alert_id).limit(limit)
        with self._tx() as conn:
            return self._alerts(conn, stmt)

    def set_alert_status(
        self,
        alert_id: str,
        *,
        status: str,
        actor: str,
        note: str | None = None,
        at: datetime | None = None,
    ) -> StoredAlert | None:
        """A person's decision on an alert; None if there is no such alert.

        Records who (``actor``), when (``at``, the store's wall clock by default) and the note on
        the alert, and appends the change, with the status it replaced, to the alert's history.
        From then on automation never changes the status.
        """
        if status not in ALERT_STATUSES:
            raise InputError(f"status {status!r} is not one of {ALERT_STATUSES}", field="status")
        if not actor or len(actor) > m.ACTOR:
            raise InputError(f"the actor must have 1 to {m.ACTOR} characters", field="actor")
        note = None if note is None else _db_text(note)
        when = self._clock() if at is None else at
        a, h = m.alerts.c, m.alert_status_history
        # The history row is written from the stored status in the same statement (the row locked
        # on PostgreSQL, the database on SQLite), so two people changing it at once each record
        # the status they actually replaced.
        previous = (
            select(
                a.alert_id,
                literal(when, m.UTCDateTime()),
                literal(actor, h.c.actor.type),
                a.status,
                literal(status, h.c.status.type),
                literal(note, h.c.note.type),
            )
            .where(a.alert_id == alert_id)
            .with_for_update()
        )
        columns = ["alert_id", "changed_at", "actor", "previous_status", "status", "note"]
        with self._tx() as conn:
            recorded = conn.execute(insert(h).from_select(columns, previous).returning(h.c.change_id))
            if recorded.first() is None:
                return None
            conn.execute(
                update(m.alerts)
                .where(a.alert_id == alert_id)
                .values(status=status, status_by=actor, status_at=when, status_note=note)
            )
            return self._alerts(conn, select(m.alerts).where(a.alert_id == alert_id))[0]

    def alert_history(self, alert_id: str) -> list[StatusChange]:
        """Every status people set on an alert, oldest first."""
        h = m.alert_status_history.c
        stmt = select(m.alert_status_history).where(h.alert_id == alert_id).order_by(h.change_id)
        with self._tx() as conn:
            return [
                StatusChange(
                    alert_id=r.alert_id,
                    changed_at=r.changed_at,
                    actor=r.actor,
                    previous_status=r.previous_status,
                    status=r.status,
                    note=r.note,
                )
                for r in conn.execute(stmt)
            ]

    @staticmethod
    def _alerts(conn: Connection, stmt: Any) -> list[StoredAlert]:
        rows = conn.execute(stmt).mappings().all()
        if not rows:
            return []
        ids = [r["alert_id"] for r in rows]
        linked: dict[str, list[str]] = {i: [] for i in ids}
        for alert_id, event_id in conn.execute(
            select(m.alert_events.c.alert_id, m.alert_events.c.event_id)
            .where(m.alert_events.c.alert_id.in_(ids))
            .order_by(m.alert_events.c.alert_id, m.alert_events.c.event_id)
        ):
            linked[alert_id].append(event_id)
        return [
            StoredAlert(
                alert_id=r["alert_id"],
                kind=r["kind"],
                subject_type=r["subject_type"],
                subject_id=r["subject_id"],
                level=r["level"],
                status=r["status"],
                raised_at=r["raised_at"],
                updated_at=r["updated_at"],
                evidence=dict(r["evidence"]),
                event_ids=tuple(linked[r["alert_id"]]),
                resolved_at=r["resolved_at"],
                resolution=r["resolution"],
                status_by=r["status_by"],
                status_at=r["status_at"],
                status_note=r["status_note"],
            )
            for r in rows
        ]


class _RowMemo:
    """Encodings repeated across one batch's rows (authors post many times, chants repeat text),
    computed once each: the same values ``BulkWriter`` would produce for every row."""

    __slots__ = ("_cv", "_digests", "_json", "_times")

    def __init__(self, cv: BulkWriter) -> None:
        self._cv = cv
        self._digests: dict[str, str] = {}
        self._times: dict[datetime, Any] = {}
        self._json: dict[tuple[str, ...], str] = {}

    def digest(self, text: str) -> str:
        out = self._digests.get(text)
        if out is None:
            out = self._digests[text] = hashlib.sha256(text.encode("utf-8")).hexdigest()
        return out

    def time(self, value: datetime) -> Any:
        out = self._times.get(value)
        if out is None:
            out = self._times[value] = self._cv.time(value)
        return out

    def json_list(self, values: Sequence[str]) -> str:
        if not isinstance(values, tuple):
            values = tuple(values)
        out = self._json.get(values)
        if out is None:
            out = self._json[values] = self._cv.json(list(values))
        return out


def _event_values(
    ev: Event,
    cv: BulkWriter,
    occurred_at: Any,
    ingested_at: Any,
    keep_text: bool,
    memo: _RowMemo | None = None,
) -> tuple[Any, ...]:
    """One ``events`` row, in ``m.events`` column order (``memo``: encodings shared in a batch)."""
    author = ev.author
    if memo is None:
        memo = _RowMemo(cv)
    created = author.created_at
    return (
        ev.event_id,
        _plain(ev.surface),
        occurred_at,
        author.id,
        None if created is None else memo.time(created),
        author.verified,
        author.minor,
        author.mcn_id,
        memo.json_list(ev.target_ids),
        ev.thread_id,
        memo.json_list(ev.topic_ids),
        ev.reply_to,
        ev.relationship.target_follows_author,
        ev.relationship.author_follows_target,
        _db_text(ev.text) if keep_text else None,
        memo.digest(ev.text),
        ingested_at,
    )


def _verdict_values(
    event_id: str, verdict: Verdict, cv: BulkWriter, versions: dict[int, str]
) -> tuple[Any, ...]:
    """One ``verdicts`` row, in ``m.verdicts`` column order."""
    key = id(verdict.versions)
    if key not in versions:
        versions[key] = cv.json(dict(verdict.versions))
    return (
        event_id,
        verdict.violation,
        float(verdict.score),
        verdict.severity,
        verdict.top_category,
        cv.json({k: float(v) for k, v in verdict.categories.items()}),
        cv.json([{f: getattr(s, f) for f in _SPAN_FIELDS} for s in verdict.spans]),
        versions[key],
        cv.json(list(verdict.notes)),
    )
