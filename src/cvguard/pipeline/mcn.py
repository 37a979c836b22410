"""The MCN desk: membership from events, violations counted per MCN, measures into the feed.

    desk = McnDesk(McnStore(engine), ActionFeed(engine), audit=AuditLog(engine))
    desk.observe(events)                        # author.mcn_id: new (mcn, account) pairs written
    desk.on_violations(violations, now=t)       # a ViolationListener: counted, assessed, measures taken
    desk.on_reversed(violations, now=t)         # counts corrected; measures that no longer hold lifted
    register(desk, listeners)                   # make it one of the ledger's listeners

Each measure taken is a feed action ``mcn_measure`` on the MCN (``subject_type`` ``mcn``) and one
per member account (``account``), with the statement of reasons in ``params``; a lift is
``lift_mcn_measure`` for the same subjects, ``undoes`` naming the action it ends. Keys come from the
measure id, which is deterministic (MCN, threshold, how many it took before), so a retried call
appends nothing twice. With an audit log every measure taken or lifted is an entry (actor
``cvguard`` for automatic ones, the person otherwise) with its inputs, before and after.

Cost: ``observe`` keeps the pairs it has written in memory and writes only unseen ones (one
statement a batch, none once all authors are known); the set is dropped past ``MAX_KNOWN`` pairs
(writes are idempotent, so that costs a few writes again, never a wrong count).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from cvguard.config import Settings
from cvguard.enforcement import McnMeasureKind, Violation, ViolationListener
from cvguard.enforcement.mcn import (
    AUTOMATIC,
    McnFigures,
    McnMeasure,
    McnViolation,
    aggregate,
    assess,
    by_hand,
    recheck,
)
from cvguard.enforcement.mcn_thresholds import McnThresholds, default_thresholds, load_thresholds
from cvguard.errors import StoreError
from cvguard.events import Event
from cvguard.policy.feed import PlannedAction, action_key
from cvguard.store.actions import ActionFeed
from cvguard.store.audit import AuditLog
from cvguard.store.mcns import McnStore

__all__ = ["MAX_KNOWN", "MAX_MEMBERS", "POLL_S", "McnDesk", "mcn_thresholds", "register"]

log = logging.getLogger(__name__)

MAX_KNOWN = 1_000_000  # (mcn, account) pairs remembered as written
MAX_MEMBERS = 1_000_000  # current memberships held in memory (beyond: the store is asked)
POLL_S = 1.0  # how often another process's membership changes are looked for
MEASURE = "mcn_measure"
LIFT = "lift_mcn_measure"


class McnDesk:
    """MCN joint handling over the store, the feed and (optionally) the audit trail."""

    def __init__(
        self,
        store: McnStore,
        feed: ActionFeed | None = None,
        *,
        thresholds: McnThresholds | None = None,
        audit: AuditLog | None = None,
    ) -> None:
        self.store = store
        self.feed = feed
        self.thresholds = thresholds if thresholds is not None else default_thresholds()
        self.audit = audit
        self._known: set[tuple[str, str]] = set()
        self._pending: dict[tuple[str, str], datetime | None] = {}
        self._lock = threading.RLock()
        # every current membership (account -> MCN), reloaded when memberships change
        self._members: dict[str, str] | None = None
        self._loaded = False
        self._members_stamp: datetime | None = None
        self._members_polled = -float("inf")
        self._generation = 0
        self.poll_s = POLL_S
        self._monotonic = time.monotonic

    # -- membership -----------------------------------------------------------------------------

    def observe(self, events: Iterable[Event]) -> int:
        """Note each author's MCN; the pairs new to the store. A store failure is logged and keeps
        them for the next call (never raised: the batch they came with is stored already)."""
        with self._lock:
            known, pending = self._known, self._pending
            for e in events:
                mcn_id = e.author.mcn_id
                if mcn_id and (mcn_id, e.author.id) not in known:
                    pending.setdefault((mcn_id, e.author.id), e.occurred_at)
            if not pending:
                return 0
            try:
                new = self.store.add_members([(k[0], k[1], t) for k, t in pending.items()])
            except StoreError as exc:
                log.warning("mcn members not written (%d pending, retried with the next batch): %s",
                            len(pending), exc)
                return 0
            if len(known) + len(pending) > MAX_KNOWN:
                known.clear()
            known.update(pending)
            if new:
                self._wrote_members(k[1] for k in pending)
            pending.clear()
            return new

    # -- ViolationListener ----------------------------------------------------------------------

    def on_violations(self, violations: Sequence[Violation], *, now: datetime) -> None:
        """Put each violation on its MCN (its ``mcn_id``, else the account's MCN now), then assess
        every MCN concerned."""
        if not violations:
            return
        with self._lock:
            missing = [v.account_id for v in violations if v.mcn_id is None]
            current = self.mcns_of(missing) if missing else {}
            rows: list[tuple[str, McnViolation]] = []
            seen: list[tuple[str, str, datetime | None]] = []
            for v in violations:
                mcn_id = v.mcn_id or current.get(v.account_id)
                if mcn_id is None:
                    continue
                if v.mcn_id is not None and (mcn_id, v.account_id) not in self._known:
                    seen.append((mcn_id, v.account_id, v.at))
                rows.append((mcn_id, McnViolation(v.violation_id, v.account_id, tuple(v.roles), v.at)))
            if seen:
                if self.store.add_members(seen):
                    self._wrote_members(s[1] for s in seen)
                self._known.update((s[0], s[1]) for s in seen)
            self.store.add_violations(rows)
            for mcn_id in sorted({r[0] for r in rows}):
                self.assess(mcn_id, now=now)

    def on_reversed(self, violations: Sequence[Violation], *, now: datetime) -> None:
        """Mark them reversed (the counts corrected) and lift what no longer holds."""
        if not violations:
            return
        with self._lock:
            ids = [v.violation_id for v in violations]
            self.store.reverse(ids, at=now)
            for mcn_id in self.store.mcns_with(ids):
                self.correct(mcn_id, now=now)

    def mcns_of(self, account_ids: Sequence[str]) -> dict[str, str]:
        """Each account's MCN now (``McnStore.mcns_of``), from memory: every current membership is
        held (up to ``MAX_MEMBERS``; beyond, the store is asked), as most accounts that violate
        belong to none and asking the store for them every batch cost more than the rest of the
        desk. What this desk writes is taken in at once; the platform's member lists through its
        store, at the next call; another process's, within ``poll_s`` (the newest membership stamp)."""
        with self._lock:
            members = self._current()
            if members is None:
                return self.store.mcns_of(account_ids)
            return {a: mcn for a in account_ids if (mcn := members.get(a)) is not None}

    def _current(self) -> dict[str, str] | None:
        now = self._monotonic()
        generation = self.store.generation
        due = now - self._members_polled >= self.poll_s or generation != self._generation
        if due:
            self._members_polled, self._generation = now, generation
            stamp = self.store.members_stamp()
            if stamp != self._members_stamp:
                self._members_stamp = stamp
                self._members = self.store.current_members(limit=MAX_MEMBERS)
                self._loaded = True
        if not self._loaded:
            self._members = self.store.current_members(limit=MAX_MEMBERS)
            self._loaded = True
        return self._members

    def _wrote_members(self, account_ids: Iterable[str]) -> None:
        """After this desk's own ``add_members``: those accounts read again, and its stamp taken as
        seen (a newer one, another process's, still reloads everything)."""
        if self._members is None:
            return
        ids = sorted(set(account_ids))
        for a in ids:
            self._members.pop(a, None)
        self._members.update(self.store.mcns_of(ids))
        if self.store.last_written is not None and (
            self._members_stamp is None or self.store.last_written > self._members_stamp
        ):
            self._members_stamp = self.store.last_written

    # -- assessing ------------------------------------------------------------------------------

    def figures(self, mcn_id: str, *, now: datetime, window: timedelta | None = None) -> McnFigures:
        w = window if window is not None else self.thresholds.longest_window
        return aggregate(
            mcn_id, self.store.roster(mcn_id), self.store.violations(mcn_id, since=now - w),
            since=now - w, until=now,
        )

    def assess(self, mcn_id: str, *, now: datetime) -> list[McnMeasure]:
        """Take the measures the thresholds call for now; the ones newly taken."""
        with self._lock:
            roster, violations, measures = self.store.assessing(
                mcn_id, since=now - self.thresholds.longest_window)
            plan = assess(self.thresholds, mcn_id, roster, violations, measures, now=now)
            if not plan.take:
                return []
            self._append([a for x in plan.take for a in _measure_actions(x)])
            new = self.store.add_measures(plan.take)
            for x in new:
                log.info("mcn %s: %s taken (%s)", mcn_id, x.kind, x.measure_id)
                assert x.threshold_id is not None
                self._record(
                    AUTOMATIC, "mcn.measure", x,
                    inputs={"threshold": x.threshold_id, "thresholds_version": self.thresholds.version,
                            "figures": plan.figures[x.threshold_id].to_dict(),
                            "violation_ids": list(x.violation_ids)},
                    before={"in_force": [y.measure_id for y in measures if y.state_at(now) == "active"]},
                    after=x.to_dict(now),
                )
            return new

    def correct(self, mcn_id: str, *, now: datetime) -> list[McnMeasure]:
        """Lift the automatic measures that no longer hold on their own basis; the ones lifted."""
        with self._lock:
            lifted: list[McnMeasure] = []
            measures = self.store.measures(mcn_id)
            active = [x for x in measures if x.state_at(now) == "active"]
            if not active:
                return []
            # a measure rests on violations of its window before it started: none older is needed
            oldest = min(x.starts_at for x in active) - self.thresholds.longest_window
            violations = self.store.violations(mcn_id, since=oldest - timedelta(seconds=1))
            for x, why in recheck(self.thresholds, violations, measures, now=now):
                done = self._lift(x, by=AUTOMATIC, reason=why, now=now)
                if done is not None:
                    lifted.append(done)
            return lifted

    # -- by hand --------------------------------------------------------------------------------

    def take(
        self,
        mcn_id: str,
        kind: McnMeasureKind,
        *,
        duration: timedelta | None,
        reason: str,
        actor: str,
        now: datetime,
    ) -> McnMeasure:
        """A measure a person takes against the MCN (and its members)."""
        with self._lock:
            measures = self.store.measures(mcn_id)
            n = 1 + sum(1 for x in measures if x.by_person)
            members = self.store.roster(mcn_id)
            current = [x.account_id for x in members if x.left_at is None or x.left_at > now]
            figures = self.figures(mcn_id, now=now)
            x = by_hand(mcn_id, kind, n=n, now=now, duration=duration, reason=reason, actor=actor,
                        figures=figures, accounts=[*current, *figures.per_member])
            self._append(_measure_actions(x))
            for stored in self.store.add_measures([x]):
                self._record(actor, "mcn.measure", stored, inputs={"kind": kind, "reason": reason},
                             before=None, after=stored.to_dict(now))
            return x

    def lift(self, measure_id: str, *, actor: str, reason: str, now: datetime) -> McnMeasure | None:
        """A person lifts a measure in force; the measure as lifted, None when none is in force."""
        with self._lock:
            x = self.store.measure(measure_id)
            if x is None or x.state_at(now) != "active":
                return None
            return self._lift(x, by=actor, reason=reason, now=now)

    # -- feed and audit -------------------------------------------------------------------------

    def _lift(self, x: McnMeasure, *, by: str, reason: str, now: datetime) -> McnMeasure | None:
        self._append(_lift_actions(x, by=by, reason=reason))
        done = self.store.lift(x.measure_id, at=now, by=by, reason=reason)
        if done is not None:
            log.info("mcn %s: %s lifted (%s)", x.mcn_id, x.kind, x.measure_id)
            self._record(by, "mcn.measure.lift", done, inputs={"reason": reason},
                         before=x.to_dict(now), after=done.to_dict(now))
        return done

    def _append(self, actions: Sequence[PlannedAction]) -> None:
        if self.feed is not None and actions:
            self.feed.append(actions)

    def _record(self, actor: str, action: str, x: McnMeasure, **fields: Any) -> None:
        if self.audit is not None:
            self.audit.append(actor=actor, action=action, subject_type="mcn", subject_id=x.mcn_id, **fields)


def _subjects(x: McnMeasure) -> list[tuple[str, str]]:
    return [("mcn", x.mcn_id), *(("account", a) for a in x.accounts)]


def _key(x: McnMeasure, subject_type: str, subject: str, kind: str) -> str:
    return action_key(f"{MEASURE}:{x.measure_id}", subject_type, subject, kind)


def _measure_actions(x: McnMeasure) -> list[PlannedAction]:
    params = {
        "measure_id": x.measure_id, "mcn_id": x.mcn_id, "kind": x.kind,
        "expires_at": None if x.expires_at is None else x.expires_at.isoformat(),
        "statement": dict(x.statement),
    }
    return [
        PlannedAction(
            key=_key(x, st, subject, MEASURE), kind=MEASURE, surface=st, subject_type=st, subject=subject,
            reason=x.reason, params=params, rule_id=x.threshold_id,
        )
        for st, subject in _subjects(x)
    ]


def _lift_actions(x: McnMeasure, *, by: str, reason: str) -> list[PlannedAction]:
    params = {"measure_id": x.measure_id, "mcn_id": x.mcn_id, "kind": x.kind, "lifted_by": by,
              "reason": reason}
    return [
        PlannedAction(
            key=_key(x, st, subject, LIFT), kind=LIFT, surface=st, subject_type=st, subject=subject,
            reason=reason, params=params, rule_id=x.threshold_id, undoes=_key(x, st, subject, MEASURE),
        )
        for st, subject in _subjects(x)
    ]


def mcn_thresholds(settings: Settings) -> McnThresholds:
    """The thresholds the settings name (``mcn_thresholds_file``), else the shipped ones;
    ``McnThresholdError`` listing every issue of a bad file."""
    path = settings.mcn_thresholds_file
    return default_thresholds() if path is None else load_thresholds(path)


def _listens(desk: McnDesk) -> ViolationListener:
    return desk  # the type checker holds McnDesk to the ledger's listener protocol


class _Listeners(Protocol):
    def add_listener(self, listener: ViolationListener) -> object: ...


def register(desk: McnDesk | None, listeners: list[ViolationListener] | _Listeners) -> bool:
    """Make ``desk`` one of the ledger's listeners (a list of them, or an object with
    ``add_listener``); False when there is no desk or it is there already."""
    if desk is None:
        return False
    if isinstance(listeners, list):
        if any(x is desk for x in listeners):
            return False
        listeners.append(desk)
        return True
    listeners.add_listener(desk)
    return True
