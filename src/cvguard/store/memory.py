"""``MemoryStore``: the in-memory twin of the store port, for tests and experiments.

It implements what the pipeline uses, with the SQL store's rules (a contract test runs the same
checks against both, tests/integration/test_store_contract.py):

- ``add_batch`` is idempotent by ``event_id`` and returns the new ids in input order;
  ``conflicts`` names ids stored with another text (by SHA-256);
- ``upsert_alert(s)``: the first ``raised_at`` stays, an older state changes nothing, event ids
  accumulate, a resolution is recorded once, and automation never overrides a status a person set
  (``set_alert_status``); ``get_alert``, ``list_alerts`` (filters and keyset pages as the SQL store);
- ``events_aimed_at``, ``stored_pairs`` (what an alert concerns, for the action feed);
- ``events_since``, ``last_ingested_at``, ``last_occurred_at``, ``count_events``, ``purge_text``;
- behaviour snapshots (``save_snapshot``, ``load_snapshot``);
- decisions (``add_decisions``: the first per event and mode stays, ``get_decision``).

Verdicts are kept as given (the SQL store keeps spans and notes too; ``events_since`` returns them
without spans, like the SQL store). Not thread-safe beyond what the pipeline's own lock gives.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from cvguard.errors import InputError, StoreError
from cvguard.events import Event
from cvguard.store.decisions import DecisionRecord, check_decision, verdict_parts
from cvguard.store.engine import json_dumps
from cvguard.store.records import AlertLike, Snapshot, StatusChange, StoredAlert, StoredEvent
from cvguard.verdict import Verdict
from cvguard.vocabulary import ALERT_STATUSES, LEVELS, SUBJECT_TYPES


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _plain(value: object) -> str:
    return str(value.value) if isinstance(value, Enum) else str(value)


def _slim(v: Verdict) -> Verdict:
    """A verdict as ``events_since`` gives it back: scores, no spans, versions or notes."""
    return Verdict(v.violation, v.score, v.severity, dict(v.categories), (), {})


def _as_stored(evidence: Mapping[str, Any]) -> dict[str, Any]:
    """Evidence as the SQL store gives it back: JSON, timestamps as ISO 8601 text."""
    out: dict[str, Any] = json.loads(json_dumps(dict(evidence)))
    return out


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(slots=True)
class _Row:
    event: Event
    verdict: Verdict
    text: str | None
    sha256: str
    ingested_at: datetime
    seq: int  # insertion order, the tie-break the SQL store's event_id order gives within a batch


class MemoryStore:
    """Events, verdicts, alerts and snapshots in dictionaries (see the module docstring)."""

    def __init__(self, *, clock: Callable[[], datetime] = _utcnow) -> None:
        self._clock = clock
        self._events: dict[str, _Row] = {}
        self._alerts: dict[str, StoredAlert] = {}
        self._history: list[StatusChange] = []
        self._snapshots: dict[str, Snapshot] = {}
        self._decisions: dict[tuple[str, bool], DecisionRecord] = {}
        self.closed = False

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- events ---------------------------------------------------------------------------------

    def add_batch(
        self, events: Sequence[Event], verdicts: Sequence[Verdict], *, keep_text: bool
    ) -> list[str]:
        if len(events) != len(verdicts):
            raise StoreError(f"{len(events)} events but {len(verdicts)} verdicts")
        now = self._clock()
        batch: dict[str, tuple[Event, Verdict]] = {}
        for ev, verdict in zip(events, verdicts, strict=True):
            batch.setdefault(ev.event_id, (ev, verdict))
        new: set[str] = set()
        for event_id in sorted(batch):  # the SQL store's insert order
            if event_id in self._events:
                continue
            ev, verdict = batch[event_id]
            text = ev.text if keep_text else None
            self._events[event_id] = _Row(ev, verdict, text, _digest(ev.text), now, len(self._events))
            new.add(event_id)
        return [eid for eid in batch if eid in new]

    def conflicts(self, events: Sequence[Event], new_ids: Sequence[str]) -> list[str]:
        new = set(new_ids)
        first: dict[str, str] = {}
        repeats: list[Event] = []
        for ev in events:
            if ev.event_id in new and ev.event_id not in first:
                first[ev.event_id] = _digest(ev.text)
            else:
                repeats.append(ev)
        out: dict[str, None] = {}
        for ev in repeats:
            row = self._events.get(ev.event_id)
            known = first.get(ev.event_id) or (row.sha256 if row is not None else None)
            if known is not None and known != _digest(ev.text):
                out[ev.event_id] = None
        return list(out)

    def get_event(self, event_id: str) -> StoredEvent | None:
        row = self._events.get(event_id)
        if row is None:
            return None
        ev = row.event
        return StoredEvent(
            event_id=ev.event_id,
            surface=_plain(ev.surface),
            occurred_at=ev.occurred_at,
            author_id=ev.author.id,
            author_created_at=ev.author.created_at,
            author_verified=ev.author.verified,
            author_minor=ev.author.minor,
            mcn_id=ev.author.mcn_id,
            target_ids=tuple(ev.target_ids),
            thread_id=ev.thread_id,
            topic_ids=tuple(ev.topic_ids),
            reply_to=ev.reply_to,
            target_follows_author=ev.relationship.target_follows_author,
            author_follows_target=ev.relationship.author_follows_target,
            text=row.text,
            text_sha256=row.sha256,
            ingested_at=row.ingested_at,
            verdict=row.verdict,
        )

    def count_events(self) -> int:
        return len(self._events)

    def last_ingested_at(self) -> datetime | None:
        return max((r.ingested_at for r in self._events.values()), default=None)

    def last_occurred_at(self) -> datetime | None:
        return max((r.event.occurred_at for r in self._events.values()), default=None)

    def events_since(
        self,
        *,
        ingested_after: datetime | None = None,
        occurred_from: datetime | None = None,
        chunk: int = 5000,
    ) -> Iterator[list[tuple[Event, Verdict]]]:
        rows = [
            r for r in self._events.values()
            if (ingested_after is None or r.ingested_at > ingested_after)
            and (occurred_from is None or r.event.occurred_at >= occurred_from)
        ]
        rows.sort(key=lambda r: (r.ingested_at, r.event.occurred_at, r.event.event_id))
        pairs = [(r.event.model_copy(update={"text": r.text or ""}), _slim(r.verdict)) for r in rows]
        for i in range(0, len(pairs), chunk):
            yield pairs[i : i + chunk]

    def events_aimed_at(
        self, target_ids: Sequence[str], *, since: datetime, until: datetime | None = None
    ) -> dict[str, list[tuple[Event, Verdict]]]:
        ids = list(dict.fromkeys(target_ids))
        out: dict[str, list[tuple[Event, Verdict]]] = {t: [] for t in ids}
        rows = sorted(self._events.values(), key=lambda r: (r.event.occurred_at, r.event.event_id))
        for r in rows:
            t = r.event.occurred_at
            if t < since or (until is not None and t > until):
                continue
            for target in dict.fromkeys(r.event.target_ids):
                if target in out:
                    out[target].append((r.event.model_copy(update={"text": r.text or ""}), _slim(r.verdict)))
        return out

    def stored_pairs(self, event_ids: Sequence[str]) -> list[tuple[Event, Verdict]]:
        rows = [self._events[i] for i in dict.fromkeys(event_ids) if i in self._events]
        rows.sort(key=lambda r: (r.event.occurred_at, r.event.event_id))
        return [(r.event.model_copy(update={"text": r.text or ""}), _slim(r.verdict)) for r in rows]

    def purge_text(self, older_than: datetime, *, newer_than: datetime | None = None) -> int:
        n = 0
        for r in self._events.values():
            t = r.event.occurred_at
            if r.text is not None and t < older_than and (newer_than is None or t >= newer_than):
                r.text = None
                n += 1
        return n

    # -- behaviour snapshots --------------------------------------------------------------------

    def save_snapshot(self, name: str, data: bytes, *, through: datetime, fmt: int) -> None:
        self._snapshots[name] = Snapshot(name, through, self._clock(), fmt, bytes(data))

    def load_snapshot(self, name: str) -> Snapshot | None:
        return self._snapshots.get(name)

    # -- alerts ---------------------------------------------------------------------------------

    def upsert_alert(self, alert: AlertLike) -> StoredAlert:
        self._upsert(alert)
        return self._alerts[alert.alert_id]

    def upsert_alerts(self, alerts: Sequence[AlertLike]) -> int:
        for alert in alerts:  # all or none: check every alert before changing any
            self._check(alert)
        for alert in alerts:
            self._upsert(alert)
        return len(alerts)

    @staticmethod
    def _check(alert: AlertLike) -> None:
        level, subject_type = _plain(alert.level), _plain(alert.subject_type)
        if level not in LEVELS:
            raise StoreError(f"alert {alert.alert_id}: level {level!r} is not one of {LEVELS}")
        if subject_type not in SUBJECT_TYPES:
            raise StoreError(
                f"alert {alert.alert_id}: subject_type {subject_type!r} is not one of {SUBJECT_TYPES}"
            )

    def _upsert(self, alert: AlertLike) -> None:
        self._check(alert)
        resolved_at: datetime | None = getattr(alert, "resolved_at", None)
        resolution: str | None = getattr(alert, "resolution", None)
        old = self._alerts.get(alert.alert_id)
        ids = set(alert.event_ids)
        if old is None:
            self._alerts[alert.alert_id] = StoredAlert(
                alert_id=alert.alert_id,
                kind=_plain(alert.kind),
                subject_type=_plain(alert.subject_type),
                subject_id=alert.subject_id,
                level=_plain(alert.level),
                status="open" if resolved_at is None else "resolved",
                raised_at=alert.raised_at,
                updated_at=alert.updated_at,
                evidence=_as_stored(alert.evidence),
                event_ids=tuple(sorted(ids)),
                resolved_at=resolved_at,
                resolution=resolution,
            )
            return
        linked = tuple(sorted(ids | set(old.event_ids)))
        if old.updated_at > alert.updated_at:  # an older state: only its event ids are new
            self._alerts[alert.alert_id] = replace(old, event_ids=linked)
            return
        status = "resolved" if old.status_by is None and resolved_at is not None else old.status
        self._alerts[alert.alert_id] = replace(
            old,
            level=_plain(alert.level),
            evidence=_as_stored(alert.evidence),
            updated_at=alert.updated_at,
            resolved_at=resolved_at if resolved_at is not None else old.resolved_at,
            resolution=resolution if resolved_at is not None else old.resolution,
            status=status,
            event_ids=linked,
        )

    def get_alert(self, alert_id: str) -> StoredAlert | None:
        return self._alerts.get(alert_id)

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
        levels: tuple[str, ...] = LEVELS
        if level_at_least is not None:
            level = _plain(level_at_least)
            if level not in LEVELS:
                raise StoreError(f"level {level!r} is not one of {LEVELS}")
            levels = LEVELS[LEVELS.index(level) :]

        def keep(a: StoredAlert) -> bool:
            return (
                (subject_id is None or a.subject_id == subject_id)
                and (subject_type is None or a.subject_type == subject_type)
                and (kind is None or a.kind == kind)
                and a.level in levels
                and (since is None or a.updated_at >= since)
                and (until is None or a.updated_at < until)
                and (status is None or a.status == status)
                and (after is None or a.updated_at < after[0]
                     or (a.updated_at == after[0] and a.alert_id > after[1]))
            )

        found = sorted(filter(keep, self._alerts.values()), key=lambda a: a.alert_id)
        found.sort(key=lambda a: a.updated_at, reverse=True)  # newest first, then by id (stable)
        return found[:limit]

    def set_alert_status(
        self, alert_id: str, *, status: str, actor: str, note: str | None = None, at: datetime | None = None
    ) -> StoredAlert | None:
        if status not in ALERT_STATUSES:
            raise InputError(f"status {status!r} is not one of {ALERT_STATUSES}", field="status")
        if not actor:
            raise InputError("the actor must have at least 1 character", field="actor")
        old = self._alerts.get(alert_id)
        if old is None:
            return None
        when = self._clock() if at is None else at
        self._history.append(StatusChange(alert_id, when, actor, old.status, status, note))
        new = replace(old, status=status, status_by=actor, status_at=when, status_note=note)
        self._alerts[alert_id] = new
        return new

    def alert_history(self, alert_id: str) -> list[StatusChange]:
        return [c for c in self._history if c.alert_id == alert_id]

    # -- decisions ------------------------------------------------------------------------------

    def add_decisions(self, records: Sequence[DecisionRecord]) -> int:
        for d in records:
            check_decision(d)
        new = 0
        for d in records:
            key = (d.event_id, d.shadow)
            if key not in self._decisions:
                # as the SQL store gives it back: JSON
                self._decisions[key] = replace(d, explained=json_dumps(json.loads(d.explained)))
                new += 1
        return new

    def get_decision(self, event_id: str, *, shadow: bool = False) -> DecisionRecord | None:
        found = self._decisions.get((event_id, shadow))
        row = self._events.get(event_id)
        if found is None or row is None:
            return found
        v = row.verdict  # the verdict's parts come from the stored verdict, as in the SQL store
        return found.with_verdict(
            verdict_parts(v.score, v.severity, v.categories, [s.to_dict() for s in v.spans])
        )
