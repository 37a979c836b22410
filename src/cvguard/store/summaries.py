"""Reads for targets and topics: a target's abusive timeline, event texts with their spans, a topic's
summary; the events an alert concerns (``events_aimed_at``, ``stored_pairs``, for the action feed).
Part of ``EventStore``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, case, func, select

from cvguard.events import Event
from cvguard.store import models as m
from cvguard.store.base import StoreBase
from cvguard.store.events import _stored_pair
from cvguard.store.records import EventText, TimelineEntry, TopicSummary
from cvguard.verdict import Span, Verdict


class SummaryRepository(StoreBase):
    """Timelines and summaries (what the targets and topics routes show)."""

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

    def events_aimed_at(
        self, target_ids: Sequence[str], *, since: datetime, until: datetime | None = None
    ) -> dict[str, list[tuple[Event, Verdict]]]:
        """Every stored event aimed at one of ``target_ids`` with ``since <= occurred_at`` (and
        ``<= until`` when given), with its verdict (no spans), by target, oldest first: what a
        pile-on alert concerns (``pipeline.actions``). One query per 500 targets."""
        ids = list(dict.fromkeys(target_ids))
        out: dict[str, list[tuple[Event, Verdict]]] = {t: [] for t in ids}
        e, v, et = m.events, m.verdicts, m.event_targets
        with self._tx() as conn:
            for i in range(0, len(ids), 500):
                stmt = (
                    select(et.c.target_id.label("aimed_at"), e, v.c.violation, v.c.score, v.c.severity,
                           v.c.categories)
                    .select_from(et)
                    .join(e, e.c.event_id == et.c.event_id)
                    .join(v, v.c.event_id == et.c.event_id)
                    .where(et.c.target_id.in_(ids[i : i + 500]), et.c.occurred_at >= since)
                    .order_by(et.c.target_id, et.c.occurred_at, et.c.event_id)
                )
                if until is not None:
                    stmt = stmt.where(et.c.occurred_at <= until)
                for row in conn.execute(stmt).mappings():
                    out[row["aimed_at"]].append(_stored_pair(row))
        return out

    def stored_pairs(self, event_ids: Sequence[str]) -> list[tuple[Event, Verdict]]:
        """These stored events with their verdicts (no spans), by event time; ids not stored are
        left out: what a brigade alert concerns (``pipeline.actions``)."""
        ids = list(dict.fromkeys(event_ids))
        e, v = m.events, m.verdicts
        found: list[tuple[Event, Verdict]] = []
        with self._tx() as conn:
            for i in range(0, len(ids), 1000):
                stmt = (
                    select(e, v.c.violation, v.c.score, v.c.severity, v.c.categories)
                    .join(v, v.c.event_id == e.c.event_id)
                    .where(e.c.event_id.in_(ids[i : i + 1000]))
                )
                found += [_stored_pair(r) for r in conn.execute(stmt).mappings()]
        found.sort(key=lambda p: (p[0].occurred_at, p[0].event_id))
        return found

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
