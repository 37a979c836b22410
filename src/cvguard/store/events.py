"""Events and their verdicts: idempotent bulk ingest by ``event_id``, conflicts, reads for resuming
behaviour, retention. Part of ``EventStore`` (``store.repositories``).

``add_batch`` sends one ``INSERT ... ON CONFLICT DO NOTHING ... RETURNING event_id`` for the whole
batch (multi-row VALUES on SQLite and PostgreSQL alike), so at-least-once delivery from the bus
becomes exactly-once in the database, and only the events that were new get their verdict, target
and topic rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, func, select, update

from cvguard.errors import StoreError
from cvguard.events import Author, Event, Relationship
from cvguard.store import models as m
from cvguard.store.base import StoreBase, _db_text, _plain
from cvguard.store.bulk import BulkWriter
from cvguard.store.records import StoredEvent
from cvguard.verdict import BUILTIN, CascadeVerdict, Span, Verdict

_SPAN_FIELDS = ("start", "end", "term", "category", "source", "severity", "match", "weight")


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


class EventRepository(StoreBase):
    """Events and verdicts (see the module docstring)."""

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
        kept: dict[str, Event] = {}  # id -> the version stored from this batch (its first)
        repeats: list[Event] = []
        for ev in events:
            if ev.event_id in new and ev.event_id not in kept:
                kept[ev.event_id] = ev
            else:
                repeats.append(ev)
        if not repeats:
            return []
        digest = _RowMemo(self._bulk).digest
        # digests of the kept versions only where a repeat needs them (add_batch hashed them all)
        first = {i: digest(kept[i].text) for i in {ev.event_id for ev in repeats} if i in kept}
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
            fields: dict[str, Any] = {
                "violation": bool(row["violation"]),
                "score": float(row["score"]),
                "severity": row["severity"],
                "categories": {str(k): float(v) for k, v in row["categories"].items()},
                "spans": tuple(Span(**s) for s in row["spans"]),
                "versions": {str(k): str(v) for k, v in row["versions"].items()},
                "notes": tuple(row["notes"]),
            }
            if row["decided_by"] is None:
                verdict = Verdict(**fields)
            else:  # decided through the model port: which model, and each model's score
                scores = {str(k): float(v) for k, v in (row["model_scores"] or {}).items()}
                verdict = CascadeVerdict(**fields, decider=row["decided_by"], scores=scores)
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
        # a plain verdict leaves both NULL (the built-in model alone); the port's names its decider
        None if verdict.decided_by == BUILTIN and not verdict.model_scores
        else verdict.decided_by[: m.DECIDER],
        cv.json({k: float(v) for k, v in verdict.model_scores.items()}) if verdict.model_scores else None,
    )
