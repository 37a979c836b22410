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

from sqlalchemy import Connection, Engine, RowMapping, and_, case, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from cvguard.detection.verdict import Span, Verdict
from cvguard.errors import StoreError
from cvguard.events import Author, Event, Relationship
from cvguard.store import models as m
from cvguard.store.bulk import BulkWriter
from cvguard.store.engine import create_store_engine, migrate

LEVELS = ("watch", "warning", "critical")  # ascending
# "cluster": a brigade whose messages no single target, thread or topic holds the majority of.
SUBJECT_TYPES = ("user", "thread", "topic", "cluster")
_SPAN_FIELDS = ("start", "end", "term", "category", "source", "severity", "match", "weight")


class AlertLike(Protocol):
    """What ``upsert_alert`` needs from an alert (``behavior.alerts.Alert`` fits)."""

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

        The first ``raised_at`` is kept, and so is the status a moderator set. A state older than
        the stored one (a redelivered message) changes nothing; event ids accumulate.
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
        row = {
            "alert_id": alert.alert_id,
            "kind": _plain(alert.kind),
            "subject_type": subject_type,
            "subject_id": alert.subject_id,
            "level": level,
            "status": "open",
            "raised_at": alert.raised_at,
            "updated_at": alert.updated_at,
            "evidence": dict(alert.evidence),
        }
        stmt = self._insert(m.alerts).values(row)
        stmt = stmt.on_conflict_do_update(
            index_elements=["alert_id"],
            set_={
                "level": stmt.excluded.level,
                "evidence": stmt.excluded.evidence,
                "updated_at": stmt.excluded.updated_at,
            },
            where=m.alerts.c.updated_at <= stmt.excluded.updated_at,
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
        status: str | None = None,
        limit: int = 100,
    ) -> list[StoredAlert]:
        """Alerts matching every filter given, most recently updated first.

        ``since`` compares with ``updated_at``, so an escalation counts as recent.
        """
        stmt = select(m.alerts)
        if subject_id is not None:
            stmt = stmt.where(m.alerts.c.subject_id == subject_id)
        if subject_type is not None:
            stmt = stmt.where(m.alerts.c.subject_type == subject_type)
        if kind is not None:
            stmt = stmt.where(m.alerts.c.kind == kind)
        if level_at_least is not None:
            level = _plain(level_at_least)
            if level not in LEVELS:
                raise StoreError(f"level {level!r} is not one of {LEVELS}")
            stmt = stmt.where(m.alerts.c.level.in_(LEVELS[LEVELS.index(level) :]))
        if since is not None:
            stmt = stmt.where(m.alerts.c.updated_at >= since)
        if status is not None:
            stmt = stmt.where(m.alerts.c.status == status)
        stmt = stmt.order_by(m.alerts.c.updated_at.desc(), m.alerts.c.alert_id).limit(limit)
        with self._tx() as conn:
            return self._alerts(conn, stmt)

    def set_alert_status(self, alert_id: str, *, status: str) -> bool:
        """A moderator's decision on an alert (acknowledged, dismissed...); False if unknown."""
        stmt = update(m.alerts).where(m.alerts.c.alert_id == alert_id).values(status=status)
        with self._tx() as conn:
            return bool(conn.execute(stmt).rowcount)

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
