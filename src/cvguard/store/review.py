"""The staff review queue, appeals and people's content decisions, in the store's database.

    review = ReviewStore.open(settings.database_url)          # or ReviewStore(store.engine)
    review.enqueue([NewItem(...), ...])                       # once per (kind, ref_id)
    review.queue(now=..., kind="held", overdue=True, limit=50)  # priority, due time, id (keyset)
    review.assign(item_id, assignee="alice", now=...)
    review.decide(item_id, outcome="approve", actor="...", note=None, now=...)
    review.record_person(event_id, action="restore", actor="...", at=..., item_id=...)
    review.person_decided(["e1", "e2"])                       # -> {"e1"}: automation keeps off

What it guarantees:

- **One item per record.** ``(kind, ref_id)`` is unique; enqueuing it again (a redelivered batch,
  an alert escalated, a resumed pipeline) changes nothing, so the first due time stands.
- **One decision per item.** :meth:`ReviewStore.decide` claims the item in one statement (``WHERE
  decided_at IS NULL``): of two people deciding at once one wins, the other is told who did. The
  same decision again (outcome) is not new (``fresh`` False), so a retried call redoes only what is
  idempotent.
- **One appeal per sanction** (a unique index on ``sanction_id``).
- **A person's content decision is kept** per event (the latest person's wins over an earlier
  person's; nothing automatic writes here).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from cvguard.errors import InputError
from cvguard.reports.priority import Priority
from cvguard.review import ITEM_KINDS, OUTCOMES, NewItem, Timing
from cvguard.store import models as m
from cvguard.store.base import StoreBase, _db_text

__all__ = ["MAX_PAGE", "AlreadyDecided", "Appeal", "PersonDecision", "ReviewItem", "ReviewStore"]

MAX_PAGE = 500


class AlreadyDecided(InputError):
    """The item (or appeal) was decided already, otherwise: who, and what."""


@dataclass(frozen=True, slots=True)
class ReviewItem:
    item_id: str
    kind: str
    ref_id: str
    priority: Priority
    reasons: tuple[str, ...]
    context: dict[str, Any]
    created_at: datetime
    due_at: datetime
    assignee: str | None
    assigned_at: datetime | None
    decided_at: datetime | None
    decided_by: str | None
    outcome: str | None
    note: str | None

    def overdue(self, now: datetime) -> bool:
        return self.decided_at is None and now > self.due_at

    def to_dict(self, now: datetime) -> dict[str, Any]:
        return {
            "item_id": self.item_id,
            "kind": self.kind,
            "ref_id": self.ref_id,
            "priority": self.priority.label,
            "reasons": list(self.reasons),
            "context": self.context,
            "created_at": self.created_at.isoformat(),
            "due_at": self.due_at.isoformat(),
            "overdue": self.overdue(now),
            "assignee": self.assignee,
            "assigned_at": _iso(self.assigned_at),
            "decided_at": _iso(self.decided_at),
            "decided_by": self.decided_by,
            "outcome": self.outcome,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class Appeal:
    appeal_id: str
    sanction_id: str
    account_id: str
    filed_at: datetime
    filed_by: str
    deadline: datetime
    text: str | None
    first_decider: str | None
    status: str  # pending / upheld / rejected
    reviewer: str | None
    outcome: str | None
    decided_at: datetime | None
    feed_keys: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "appeal_id": self.appeal_id,
            "sanction_id": self.sanction_id,
            "account_id": self.account_id,
            "filed_at": self.filed_at.isoformat(),
            "deadline": self.deadline.isoformat(),
            "status": self.status,
            "outcome": self.outcome,
            "decided_at": _iso(self.decided_at),
            "feed_keys": list(self.feed_keys),
        }


@dataclass(frozen=True, slots=True)
class PersonDecision:
    event_id: str
    action: str
    actor: str
    at: datetime
    note: str | None
    item_id: str | None


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE + 1:
        raise InputError(f"limit must be 1 to {MAX_PAGE}", field="limit")


class ReviewStore(StoreBase):
    """The queue, appeals and people's content decisions (SQLite or PostgreSQL)."""

    _failure = "the review store failed"

    # -- the queue -----------------------------------------------------------------------------

    def enqueue(self, items: Sequence[NewItem]) -> int:
        """Add ``items`` not queued yet (by kind and ref id); how many were new."""
        if not items:
            return 0
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for it in items:
            if it.kind not in ITEM_KINDS:
                raise InputError(f"kind must be one of {', '.join(ITEM_KINDS)}", field="kind")
            if not it.ref_id or len(it.ref_id) > m.ALERT_ID:
                raise InputError(f"ref_id must have 1 to {m.ALERT_ID} characters", field="ref_id")
            rows.setdefault((it.kind, it.ref_id), {
                "item_id": f"rv_{secrets.token_hex(10)}", "kind": it.kind, "ref_id": it.ref_id,
                "priority": int(it.priority), "reasons": list(it.reasons), "context": dict(it.context),
                "created_at": it.created_at, "due_at": it.due_at,
            })
        ordered = [rows[k] for k in sorted(rows)]  # a fixed lock order
        with self._tx() as c:
            done = c.execute(
                self._insert(m.review_items).values(ordered).on_conflict_do_nothing(
                    index_elements=["kind", "ref_id"]
                ).returning(m.review_items.c.item_id)
            )
            return len(done.all())

    def get(self, item_id: str) -> ReviewItem | None:
        with self._tx() as c:
            query = select(m.review_items).where(m.review_items.c.item_id == item_id)
            row = c.execute(query).mappings().first()
        return None if row is None else _item(row)

    def by_ref(self, kind: str, ref_id: str) -> ReviewItem | None:
        r = m.review_items.c
        with self._tx() as c:
            query = select(m.review_items).where(r.kind == kind, r.ref_id == ref_id)
            row = c.execute(query).mappings().first()
        return None if row is None else _item(row)

    def queue(
        self,
        *,
        now: datetime,
        kind: str | None = None,
        assignee: str | None = None,
        overdue: bool | None = None,
        decided: bool = False,
        after: tuple[int, datetime, str] | None = None,
        limit: int = 50,
    ) -> list[ReviewItem]:
        """Items by priority, then due time, then id (keyset ``after``): undecided ones by default
        (``decided=True``: the decided ones). ``overdue``: only past due (True) or not (False)."""
        _check_limit(limit)
        r = m.review_items.c
        query = select(m.review_items).where(r.decided_at.is_not(None) if decided else r.decided_at.is_(None))
        if kind is not None:
            query = query.where(r.kind == kind)
        if assignee is not None:
            query = query.where(r.assignee == assignee)
        if overdue is True:
            query = query.where(r.decided_at.is_(None), r.due_at < now)
        elif overdue is False:
            query = query.where(or_(r.decided_at.is_not(None), r.due_at >= now))
        if after is not None:
            p, due, item_id = after
            query = query.where(
                or_(
                    r.priority > p,
                    and_(r.priority == p, or_(r.due_at > due, and_(r.due_at == due, r.item_id > item_id))),
                )
            )
        query = query.order_by(r.priority, r.due_at, r.item_id).limit(limit)
        with self._tx() as c:
            return [_item(x) for x in c.execute(query).mappings()]

    def assign(self, item_id: str, *, assignee: str, now: datetime) -> tuple[ReviewItem, ReviewItem] | None:
        """Give the item to ``assignee``: (before, after); None when there is no such item.
        A decided item is not assigned again (AlreadyDecided)."""
        if not assignee or len(assignee) > m.ACTOR:
            raise InputError(f"the assignee must have 1 to {m.ACTOR} characters", field="assignee")
        r = m.review_items.c
        with self._tx() as c:
            row = c.execute(select(m.review_items).where(r.item_id == item_id)).mappings().first()
            if row is None:
                return None
            before = _item(row)
            if before.decided_at is not None:
                raise AlreadyDecided(f"item {item_id} was decided ({before.outcome}) by {before.decided_by}")
            c.execute(
                update(m.review_items).where(r.item_id == item_id).values(assignee=assignee, assigned_at=now)
            )
            after = _item(c.execute(select(m.review_items).where(r.item_id == item_id)).mappings().one())
        return before, after

    def decide(
        self, item_id: str, *, outcome: str, actor: str, note: str | None, now: datetime
    ) -> tuple[ReviewItem, ReviewItem, bool] | None:
        """Record ``outcome`` on an undecided item: (before, after, fresh). The same outcome again is
        not fresh; another outcome on a decided item raises AlreadyDecided. None: no such item."""
        r = m.review_items.c
        note = _db_text(note) if note is not None else None
        with self._tx() as c:
            row = c.execute(select(m.review_items).where(r.item_id == item_id)).mappings().first()
            if row is None:
                return None
            before = _item(row)
            if outcome not in OUTCOMES[before.kind]:
                raise InputError(
                    f"a {before.kind} item's outcome is one of {', '.join(OUTCOMES[before.kind])}",
                    field="outcome",
                )
            claimed = c.execute(
                update(m.review_items)
                .where(r.item_id == item_id, r.decided_at.is_(None))
                .values(decided_at=now, decided_by=actor[: m.ACTOR], outcome=outcome, note=note)
            ).rowcount
            after = _item(c.execute(select(m.review_items).where(r.item_id == item_id)).mappings().one())
        if not claimed:
            if after.outcome == outcome:
                return before, after, False
            raise AlreadyDecided(f"item {item_id} was decided ({after.outcome}) by {after.decided_by}")
        return before, after, True

    def settle(self, kind: str, ref_id: str, *, outcome: str, actor: str, now: datetime) -> bool:
        """The record was decided elsewhere (a report's or alert's own route): its item, if
        undecided, is closed with that outcome. Whether an item was closed."""
        r = m.review_items.c
        with self._tx() as c:
            done = c.execute(
                update(m.review_items)
                .where(r.kind == kind, r.ref_id == ref_id, r.decided_at.is_(None))
                .values(decided_at=now, decided_by=actor[: m.ACTOR], outcome=outcome[:32])
            ).rowcount
        return bool(done)

    def timings(self, *, since: datetime | None = None, until: datetime | None = None) -> list[Timing]:
        """The times of the items that entered the queue in [since, until), for ``review_figures``."""
        r = m.review_items.c
        query = select(r.kind, r.created_at, r.due_at, r.decided_at, r.decided_by, r.assignee)
        if since is not None:
            query = query.where(r.created_at >= since)
        if until is not None:
            query = query.where(r.created_at < until)
        with self._tx() as c:
            return [Timing(*row) for row in c.execute(query)]

    def overdue_now(self, now: datetime) -> dict[str, int]:
        """Undecided items past due now, per kind (whenever they entered)."""
        r = m.review_items.c
        with self._tx() as c:
            rows = c.execute(
                select(r.kind, func.count()).where(r.decided_at.is_(None), r.due_at < now).group_by(r.kind)
            )
            found = {k: int(n) for k, n in rows}
        return {k: found.get(k, 0) for k in ITEM_KINDS}

    # -- people's content decisions --------------------------------------------------------------

    def record_person(
        self, event_id: str, *, action: str, actor: str, at: datetime, note: str | None = None,
        item_id: str | None = None,
    ) -> None:
        """A person decided ``event_id`` (``restore`` or ``remove``); a later person's decision
        replaces an earlier one."""
        values = {"action": action, "actor": actor[: m.ACTOR], "at": at,
                  "note": _db_text(note) if note is not None else None, "item_id": item_id}
        with self._tx() as c:
            c.execute(
                self._insert(m.human_decisions).values(event_id=event_id, **values)
                .on_conflict_do_update(index_elements=["event_id"], set_=values)
            )

    def person_decision(self, event_id: str) -> PersonDecision | None:
        h = m.human_decisions.c
        with self._tx() as c:
            row = c.execute(select(m.human_decisions).where(h.event_id == event_id)).mappings().first()
        return None if row is None else PersonDecision(**dict(row))

    def person_decided(self, event_ids: Iterable[str]) -> set[str]:
        """Which of ``event_ids`` a person decided (automation leaves them alone)."""
        wanted = sorted(set(event_ids))
        found: set[str] = set()
        h = m.human_decisions.c
        with self._tx() as c:
            for i in range(0, len(wanted), 500):
                chunk = wanted[i : i + 500]
                found.update(e for (e,) in c.execute(select(h.event_id).where(h.event_id.in_(chunk))))
        return found

    # -- appeals ---------------------------------------------------------------------------------

    def file_appeal(
        self, *, sanction_id: str, account_id: str, filed_by: str, deadline: datetime, text: str | None,
        first_decider: str | None, now: datetime,
    ) -> Appeal:
        """Record an appeal (AlreadyDecided when the sanction has one already)."""
        appeal_id = f"ap_{secrets.token_hex(10)}"
        try:
            with self._engine.begin() as c:
                c.execute(
                    insert(m.review_appeals).values(
                        appeal_id=appeal_id, sanction_id=sanction_id, account_id=account_id, filed_at=now,
                        filed_by=filed_by[: m.ACTOR], deadline=deadline,
                        text=_db_text(text) if text is not None else None,
                        first_decider=first_decider[: m.ACTOR] if first_decider else None,
                        status="pending", feed_keys=[],
                    )
                )
        except IntegrityError:
            raise AlreadyDecided(
                f"sanction {sanction_id} has been appealed already: one appeal per sanction"
            ) from None
        found = self.get_appeal(appeal_id)
        assert found is not None
        return found

    def get_appeal(self, appeal_id: str) -> Appeal | None:
        return self._appeal(m.review_appeals.c.appeal_id == appeal_id)

    def appeal_of(self, sanction_id: str) -> Appeal | None:
        return self._appeal(m.review_appeals.c.sanction_id == sanction_id)

    def _appeal(self, where: Any) -> Appeal | None:
        with self._tx() as c:
            row = c.execute(select(m.review_appeals).where(where)).mappings().first()
        return None if row is None else _appeal(row)

    def decide_appeal(
        self, appeal_id: str, *, outcome: str, reviewer: str, now: datetime, feed_keys: Sequence[str]
    ) -> Appeal:
        """Record the appeal's outcome and the feed actions it caused (the first outcome stays)."""
        a = m.review_appeals.c
        with self._tx() as c:
            c.execute(
                update(m.review_appeals)
                .where(a.appeal_id == appeal_id, a.status == "pending")
                .values(status=outcome, outcome=outcome, reviewer=reviewer[: m.ACTOR], decided_at=now,
                        feed_keys=list(feed_keys))
            )
        found = self.get_appeal(appeal_id)
        assert found is not None
        return found


def _item(row: RowMapping) -> ReviewItem:
    return ReviewItem(
        item_id=row["item_id"], kind=row["kind"], ref_id=row["ref_id"], priority=Priority(row["priority"]),
        reasons=tuple(row["reasons"] or ()), context=dict(row["context"] or {}), created_at=row["created_at"],
        due_at=row["due_at"], assignee=row["assignee"], assigned_at=row["assigned_at"],
        decided_at=row["decided_at"], decided_by=row["decided_by"], outcome=row["outcome"], note=row["note"],
    )


def _appeal(row: RowMapping) -> Appeal:
    return Appeal(
        appeal_id=row["appeal_id"], sanction_id=row["sanction_id"], account_id=row["account_id"],
        filed_at=row["filed_at"], filed_by=row["filed_by"], deadline=row["deadline"], text=row["text"],
        first_decider=row["first_decider"], status=row["status"], reviewer=row["reviewer"],
        outcome=row["outcome"], decided_at=row["decided_at"], feed_keys=tuple(row["feed_keys"] or ()),
    )
