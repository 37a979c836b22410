"""People state on the ingest path: key groups and shields cached in memory, and what they cause.

    book = PeopleBook(PeopleStore(store.engine), extra_groups=settings.extra_key_groups)
    book.groups_of("u1")                     # frozenset of key groups: a dict lookup
    book.shield_of("u1")                     # the person's shield (on or not), or None
    steps = book.plan(alerts)                # a pile-on warning: auto-shield or an offer, as feed actions
    feed.append([a for _, a in steps]); book.apply(steps)
    book.watch(items, feed)                  # the early signal: the same, before the warning
    feed.append(book.reminders(now))         # protection_ending, a day before a shield ends
    book.file(items, decisions)              # hide_from_target / filter_folder → filtered folders

**Cheap reads.** Groups and shields are few (people marked, people protected) and read for every
event's targets, so they live in dicts. A write through this book updates its dicts at once; writes
by another process (scale-out: several API nodes and workers share PostgreSQL) are seen by
:meth:`refresh`, which at most every ``poll_s`` seconds (wall clock) reads the rows whose
``updated_at`` is at or after the newest one seen, less a little overlap for clock skew between
processes. Until then another process's change is up to ``poll_s`` late.

**Durable, ordered, idempotent.** An auto-shield (``protection_on``) and a prompt
(``offer_protection``) are feed actions keyed by the alert (with its episode) and the person, so
the feed appends each once; they are appended *before* the shield or the offer time is written
(:meth:`apply`), so a failed append is planned again with the next batch. They carry the alert in
``params`` rather than as the entry's ``alert_id``: what the alert caused is undone when it
resolves, and a shield outlives the pile-on that turned it on (its own duration).

**Earlier than the warning.** :meth:`watch` feeds every screened event fed to behaviour to a
:class:`~cvguard.protection.early.ConvergenceWatch` (abuse from a few people the person does not
follow converging on them within minutes, or one threat or doxxing message) and answers each signal
like a warning (:func:`~cvguard.protection.plan.plan_early`): the same keys, cool-down and order
(append, then write). A dict lookup per abusive event; no store read.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING

from cvguard.behavior import Alert
from cvguard.errors import StoreError
from cvguard.events import Event
from cvguard.policy import Decision
from cvguard.policy.feed import PlannedAction, action_key

if TYPE_CHECKING:
    from cvguard.store.actions import ActionFeed
from cvguard.policy.vocabulary import KEY_GROUPS
from cvguard.protection import (
    BASE_GROUPS,
    DURATIONS,
    ConvergenceWatch,
    EarlyConfig,
    EarlySignal,
    ProtectionStep,
    Shield,
    ShieldChange,
    extend_shield,
    new_shield,
    plan_early,
    plan_protection,
    reminder_due,
)
from cvguard.store.audit import AuditLog, Draft
from cvguard.store.audit_batches import AUTOMATON
from cvguard.store.people import FilteredItem, PeopleStore
from cvguard.verdict import Verdict

__all__ = ["FILED_ACTIONS", "PeopleBook"]

log = logging.getLogger(__name__)

FILED_ACTIONS = frozenset({"hide_from_target", "filter_folder"})  # held back, kept for the person
POLL_S = 1.0
_OVERLAP = timedelta(seconds=5)  # clock skew between processes stamping updated_at


class _Planned:
    """What the steps planned so far in one call did (a shield turned on, an offer made), seen by
    the next ones over the book's state: one offer per person per cool-down."""

    def __init__(self, shields: Mapping[str, Shield], offered: Mapping[str, datetime | None]) -> None:
        self._book_shields, self._book_offered = shields, offered
        self._shields: dict[str, Shield | None] = {}
        self._offered: dict[str, datetime | None] = {}

    def shield(self, uid: str) -> Shield | None:
        return self._shields[uid] if uid in self._shields else self._book_shields.get(uid)

    def offered_at(self, uid: str) -> datetime | None:
        return self._offered[uid] if uid in self._offered else self._book_offered.get(uid)

    def took(self, uid: str, step: ProtectionStep) -> None:
        if step.kind == "auto":
            self._shields[uid] = step.shield
        else:
            self._offered[uid] = step.at


class PeopleBook:
    """Key groups and shields in memory over a :class:`PeopleStore` (see the module docstring)."""

    def __init__(
        self,
        store: PeopleStore,
        *,
        extra_groups: Iterable[str] = (),
        poll_s: float = POLL_S,
        monotonic: Callable[[], float] = time.monotonic,
        early: EarlyConfig | None = None,
    ) -> None:
        self.store = store
        self.allowed_groups: frozenset[str] = frozenset((*BASE_GROUPS, *KEY_GROUPS, *extra_groups))
        self.poll_s, self._monotonic = poll_s, monotonic
        self._groups: dict[str, frozenset[str]] = {}
        self._shields: dict[str, Shield] = {}
        self._offered: dict[str, datetime | None] = {}
        self._seen: datetime | None = None
        self._polled = -float("inf")
        self._lock = threading.RLock()
        self._reminded: set[str] = set()
        self._unfiled: list[FilteredItem] = []  # folder items the store has not taken yet
        self.audit: AuditLog | None = None  # automatic shields and offers recorded there; None: not
        self.early = ConvergenceWatch(early)  # the early signal (protection.early)
        self._watched = 0
        self._unprompted: list[EarlySignal] = []  # signals whose prompts the feed did not take yet
        self.refresh(force=True)

    # -- reads ------------------------------------------------------------------------------------

    def refresh(self, *, force: bool = False) -> None:
        """Take in what other processes wrote (at most every ``poll_s`` seconds unless ``force``)."""
        now = self._monotonic()
        if not force and now - self._polled < self.poll_s:
            return
        with self._lock:
            self._polled = now
            since = None if self._seen is None else self._seen - _OVERLAP
            changes = self.store.changed_since(since)
            self._groups.update((u, g) for u, g in changes.groups.items())
            for u in [u for u, g in self._groups.items() if not g]:
                del self._groups[u]
            self._offered.update(changes.offered)
            self._shields.update(changes.shields)
            if changes.newest is not None and (self._seen is None or changes.newest > self._seen):
                self._seen = changes.newest

    def groups_of(self, user_id: str) -> frozenset[str]:
        """The key groups ``user_id`` is marked with (empty for most people)."""
        return self._groups.get(user_id, frozenset())

    def shield_of(self, user_id: str) -> Shield | None:
        """``user_id``'s shield, on or not (``Shield.on_at``), or None."""
        return self._shields.get(user_id)

    def history(self, user_id: str) -> list[ShieldChange]:
        return self.store.history(user_id)

    # -- writes (through to the store, then the cache) ---------------------------------------------

    def set_groups(self, user_id: str, groups: frozenset[str], *, actor: str) -> frozenset[str]:
        unknown = sorted(groups - self.allowed_groups)
        if unknown:
            raise ValueError(
                f"unknown key group {unknown[0]!r}: use some of {', '.join(sorted(self.allowed_groups))}"
            )
        with self._lock:
            self.store.set_groups(user_id, groups, actor=actor)
            if groups:
                self._groups[user_id] = groups
            else:
                self._groups.pop(user_id, None)
        return groups

    def turn_on(
        self,
        user_id: str,
        *,
        at: datetime,
        duration_days: int,
        scopes: frozenset[str],
        audience: str,
        close_friends: frozenset[str],
        actor: str,
        reason: str,
    ) -> Shield:
        """Turn ``user_id``'s shield on, or change the one that is on (ValueError on a bad value)."""
        with self._lock:
            current = self._shields.get(user_id)
            on = current is not None and current.on_at(at.timestamp())
            shield = new_shield(
                user_id, at=at, duration_days=duration_days, scopes=scopes, audience=audience,
                close_friends=close_friends, actor=actor, reason=reason, current=current,
            )
            self._put(shield, ShieldChange("update" if on else "on", at, actor, reason))
            return shield

    def extend(self, user_id: str, *, at: datetime, days: int, actor: str, reason: str) -> Shield:
        with self._lock:
            current = self._shields.get(user_id)
            if current is None:
                raise ValueError("no shield to extend: turn it on first")
            shield = extend_shield(current, at=at, days=days)
            self._put(shield, ShieldChange("extend", at, actor, reason or f"extended by {days} days"))
            return shield

    def turn_off(self, user_id: str, *, at: datetime, actor: str, reason: str) -> Shield | None:
        """Turn the shield off from ``at`` (None when none is on)."""
        with self._lock:
            current = self._shields.get(user_id)
            if current is None or not current.on_at(at.timestamp()):
                return None
            shield = replace(current, off_at=at, off_by=actor)
            self._put(shield, ShieldChange("off", at, actor, reason or "turned off"))
            return shield

    def _put(self, shield: Shield, change: ShieldChange) -> None:
        self.store.put_shield(shield, change)
        self._shields[shield.user_id] = shield

    # -- what alerts and decisions cause -----------------------------------------------------------

    def plan(self, alerts: Sequence[Alert]) -> list[tuple[ProtectionStep, PlannedAction]]:
        """For each pile-on / incitement emission at warning or above against a user: the auto-shield
        or the offer it calls for, as a feed action (nothing is written: :meth:`apply` after the
        append). Emissions of one call see each other's steps (one offer per person per cool-down)."""
        self.refresh()
        out: list[tuple[ProtectionStep, PlannedAction]] = []
        batch = _Planned(self._shields, self._offered)
        for a in alerts:
            if a.kind not in ("pile_on", "incitement") or a.subject_type != "user":
                continue
            uid = a.subject_id
            step = plan_protection(
                alert_id=a.alert_id, kind=a.kind, subject_type=a.subject_type, subject_id=uid, level=a.level,
                at=a.updated_at, resolved=a.resolved_at is not None, groups=self.groups_of(uid),
                shield=batch.shield(uid), offered_at=batch.offered_at(uid),
            )
            if step is not None:
                batch.took(uid, step)
                out.append((step, _action(step)))
        return out

    def plan_early(self, signals: Sequence[EarlySignal]) -> list[tuple[ProtectionStep, PlannedAction]]:
        """For each early signal: the auto-shield or offer it calls for (like :meth:`plan`)."""
        self.refresh()
        out: list[tuple[ProtectionStep, PlannedAction]] = []
        batch = _Planned(self._shields, self._offered)
        for s in signals:
            uid = s.user_id
            step = plan_early(
                signal_id=s.signal_id, user_id=uid, at=s.at, reason=s.reason, groups=self.groups_of(uid),
                shield=batch.shield(uid), offered_at=batch.offered_at(uid),
            )
            if step is not None:
                batch.took(uid, step)
                out.append((step, _action(step, signal=s)))
        return out

    def watch(
        self, items: Sequence[tuple[Event, Verdict]], feed: ActionFeed | None, alerts: Sequence[Alert] = ()
    ) -> list[EarlySignal]:
        """Feed the early signal the batch's events (those behaviour takes: on time); append what its
        signals call for to ``feed`` and write it after. A failed append writes nothing and does not
        stop the batch (its alerts are still to be stored): the signals are planned again with the
        next call. The signals raised by this call.

        Called before the batch's ``alerts`` are planned (:meth:`plan`): a signal later in event
        time than a warning of the same batch against the same person is left to the warning, so
        whichever came first prompts (the other is then within the cool-down)."""
        early = self.early
        signals: list[EarlySignal] = []
        for event, verdict in items:
            if verdict.violation and event.target_ids:
                signals += early.update(event, verdict, event.occurred_at.timestamp())
        self._watched += len(items)
        if self._watched >= 10_000:
            self._watched = 0
            early.prune()
        if feed is None:
            return signals
        raised = signals
        signals = [*self._unprompted, *signals]
        if not signals:
            return raised
        if alerts:
            warned: dict[str, datetime] = {}
            for a in alerts:
                if a.kind in ("pile_on", "incitement") and a.subject_type == "user" and a.level in (
                    "warning", "critical"
                ):
                    first = warned.get(a.subject_id)
                    warned[a.subject_id] = a.updated_at if first is None else min(first, a.updated_at)
            signals = [s for s in signals if not (s.user_id in warned and warned[s.user_id] <= s.at)]
        steps = self.plan_early(signals)
        if steps:
            try:
                feed.append([a for _, a in steps])
            except StoreError as exc:
                log.warning("early protection prompts not appended (%s): planned with the next batch", exc)
                self._unprompted = signals
                return raised
            self.apply(steps)
        self._unprompted = []
        return raised

    def apply(self, steps: Sequence[tuple[ProtectionStep, PlannedAction]]) -> None:
        """Write what :meth:`plan` planned, once its feed actions are appended (and, with ``audit``,
        one audit entry per shield turned on or offer made, in one append)."""
        drafts: list[Draft] = []
        with self._lock:
            for step, action in steps:
                t = step.at.timestamp()
                if step.kind == "auto" and step.shield is not None:
                    current = self._shields.get(step.user_id)
                    if current is not None and current.on_at(t):
                        continue  # a person (or another process) turned one on meanwhile
                    self._put(step.shield, ShieldChange("on", step.at, "cvguard", step.reason, step.alert_id))
                    log.info("shield on for %s (automatic, alert %s)", step.user_id, step.alert_id)
                    before = None if current is None else current.to_dict(t)
                    drafts.append(_draft("shield.auto_on", step, action, before, step.shield.to_dict(t)))
                else:
                    offered = self._offered.get(step.user_id)
                    self.store.set_offered(step.user_id, step.at)
                    self._offered[step.user_id] = step.at
                    before = {"offered_at": None if offered is None else offered.isoformat()}
                    drafts.append(_draft("shield.offer", step, action, before,
                                         {"offered_at": step.at.isoformat()}))
        if self.audit is not None and drafts:
            self.audit.append_many(drafts)

    def reminders(self, now: datetime) -> list[PlannedAction]:
        """``protection_ending`` for every shield within a day of its end at ``now`` (event time),
        once per shield end (an extension brings a new reminder)."""
        t = now.timestamp()
        out: list[PlannedAction] = []
        for shield in list(self._shields.values()):
            if not reminder_due(shield, t):
                continue
            key = action_key(f"shield:{shield.user_id}:{shield.ends_at.isoformat()}", "user",
                             shield.user_id, "protection_ending")
            if key in self._reminded:
                continue
            out.append(
                PlannedAction(
                    key=key, kind="protection_ending", surface="user", subject_type="user",
                    subject=shield.user_id,
                    reason=f"protection ends at {shield.ends_at.isoformat()}: extend it or let it end",
                    params=MappingProxyType(
                        {"ends_at": shield.ends_at.isoformat(), "extend_days": list(DURATIONS)}
                    ),
                )
            )
        return out

    def reminded(self, actions: Iterable[PlannedAction]) -> None:
        """Reminders the feed took (not planned again by this process)."""
        self._reminded.update(a.key for a in actions)

    def file(self, items: Sequence[tuple[Event, Verdict]], decisions: Sequence[Decision]) -> int:
        """Every decision that holds an event back from the people it is aimed at goes into each of
        their filtered folders; how many items were new. Items a failed write could not store are
        written with the next call (the events will not be decided again)."""
        filed: list[FilteredItem] = []
        for (event, _), d in zip(items, decisions, strict=True):
            if d.action not in FILED_ACTIONS or not event.target_ids:
                continue
            for target in event.target_ids:
                if target != event.author.id:
                    filed.append(
                        FilteredItem(target, event.event_id, d.surface, d.action, d.rule_id, d.reason,
                                     tuple(d.alert_ids), event.occurred_at)
                    )
        self._unfiled.extend(filed)
        if not self._unfiled:
            return 0
        new = self.store.add_filtered(self._unfiled)  # a StoreError keeps them for the next batch
        self._unfiled = []
        return new


def _draft(
    action: str, step: ProtectionStep, planned: PlannedAction, before: object, after: object
) -> Draft:
    """The audit entry of an automatic shield or offer: the alert behind it and the feed action."""
    return Draft(
        actor=AUTOMATON, action=action, subject_type="user", subject_id=step.user_id,
        inputs={"alert_id": step.alert_id, "at": step.at.isoformat(), "reason": step.reason,
                "feed_key": planned.key},
        before=before, after=after,
    )


def _action(step: ProtectionStep, *, signal: EarlySignal | None = None) -> PlannedAction:
    kind = "protection_on" if step.kind == "auto" else "offer_protection"
    params: dict[str, object] = {"alert_id": step.alert_id, "at": step.at.isoformat()}
    if signal is not None:  # an early signal, not an alert: what it saw
        params = {"alert_id": None, "signal_id": signal.signal_id, "at": step.at.isoformat(),
                  "signal": signal.kind, "authors": signal.authors, "event_ids": list(signal.event_ids)}
    if step.shield is not None:
        params |= {"ends_at": step.shield.ends_at.isoformat(), "scopes": sorted(step.shield.scopes),
                   "audience": step.shield.audience, "actor": "cvguard"}
    else:
        params |= {"durations_days": [3, 7, 30]}
    return PlannedAction(
        key=action_key(step.alert_id, "user", step.user_id, kind), kind=kind, surface="user",
        subject_type="user", subject=step.user_id, reason=step.reason, params=MappingProxyType(params),
    )
