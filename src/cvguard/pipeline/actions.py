"""Feed actions from alerts: what an alert changes about content already published, wired once.

Both places that store alerts call :meth:`AlertActions.on_alerts` right after the store took them:
the embedded :class:`~cvguard.pipeline.engine.Pipeline` (every batch, and the alerts raised again
while it resumes) and, in scale-out, the behaviour leader's outbox flush in ``cvguard worker``.
For each emission, in alert order:

- **raised or escalated**: gather the things concerned that are already published, as
  :class:`~cvguard.policy.DecisionInput`\\ s, and append :func:`~cvguard.policy.feed.plan_alert`'s
  actions to the feed:

  - a pile-on or incitement on a user: the events aimed at the target in the hour up to the
    emission (its event time; what comes after it is decided at publish time), with their verdicts
    and the author's relationship to the target and account age, and the context of the other
    alerts (``pipeline.context``); one batched store read for all the targets of a call;
  - a topic alert: the topic itself (``plan_alert`` adds it);
  - a brigade: the events of its cluster (the alert's ``event_ids``).

- **closing** (``resolved_at`` set): the undo of everything the feed holds for the alert
  (``ActionFeed.caused_by``), last first.

With a :class:`~cvguard.pipeline.protection.PeopleBook` (``protection``), a pile-on or incitement
at warning or above against a user also turns a key-group member's shield on (``protection_on``)
or offers one to anyone else (``offer_protection``), appended in the same call, after the alert's
own actions; the shield or offer is written once the append succeeded.

Content a person decided (``store.review``: ``people_decided``) is left alone: no action planned
here, nor its undo, touches it (a person's decision beats an automatic one).

An alert a person marked ``false_positive`` acts no more (its actions were undone when it was
marked: ``api/routes/alerts.py`` appends :func:`undo_false_positive`). A person who reopens it
(``open`` or ``acknowledged`` again) has what the marking undid done again
(:func:`redo_reopened`, under new keys: each reopening once).

Idempotent: the keys are derived from the alert id (with its episode), the subject and the action,
so an alert planned again (a crash before the append, a resumed pipeline raising it again, a new
leader flushing a dead one's outbox) appends nothing twice. ``previous_level`` is the level of an
earlier emission of the same alert in the same call, else None, which ``plan_alert`` documents as
safe (what a lower level caused is planned again under the same keys).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Protocol

from cvguard.behavior import Alert
from cvguard.config import Settings
from cvguard.events import Event
from cvguard.pipeline.context import DecisionContext
from cvguard.policy import CompiledPolicy, DecisionInput, PolicyHolder, default_policy
from cvguard.policy.feed import PlannedAction, again_key, plan_alert, plan_undo, spare_people_decisions
from cvguard.store.actions import ActionFeed, FeedEntry
from cvguard.store.records import StoredAlert
from cvguard.verdict import Verdict

if TYPE_CHECKING:
    from cvguard.pipeline.protection import PeopleBook

__all__ = ["LOOKBACK", "AlertActions", "ConcernedStore", "policy_of", "redo_reopened", "undo_false_positive"]

log = logging.getLogger(__name__)

LOOKBACK = timedelta(hours=1)  # a pile-on confirmed: the replies to its target from the last hour
_TARGET_KINDS = frozenset({"pile_on", "incitement"})


class ConcernedStore(Protocol):
    """The store reads the wiring needs (``EventStore`` and ``MemoryStore`` have them)."""

    def events_aimed_at(
        self, target_ids: Sequence[str], *, since: datetime, until: datetime | None = None
    ) -> dict[str, list[tuple[Event, Verdict]]]: ...

    def stored_pairs(self, event_ids: Sequence[str]) -> list[tuple[Event, Verdict]]: ...

    def get_alert(self, alert_id: str) -> StoredAlert | None: ...


def policy_of(settings: Settings) -> Callable[[], CompiledPolicy]:
    """The policy to plan with: ``settings.policy_file`` followed for edits, or the default one
    (the same choice as the API's ``app.state.policy``)."""
    if settings.policy_file is not None:
        holder = PolicyHolder(settings.policy_file)
        return lambda: holder.policy
    fixed = default_policy()
    return lambda: fixed


def undo_false_positive(
    feed: ActionFeed,
    alert_id: str,
    policy_version: str | None = None,
    *,
    people_decided: Callable[[Sequence[str]], Collection[str]] | None = None,
) -> list[FeedEntry]:
    """A person closed ``alert_id`` as a false positive: undo everything it caused (once), but on
    content a person decided (``people_decided``, ``store.review``)."""
    planned = plan_undo(
        alert_id,
        feed.caused_by(alert_id),
        policy_version=policy_version,
        reason=f"alert {alert_id} marked a false positive: what it caused is undone",
    )
    if people_decided is not None:
        planned = spare_people_decisions(planned, people_decided)
    return feed.append(planned)


def redo_reopened(
    feed: ActionFeed,
    alert_id: str,
    policy_version: str | None = None,
    *,
    people_decided: Callable[[Sequence[str]], Collection[str]] | None = None,
) -> list[FeedEntry]:
    """A person reopened ``alert_id`` after marking it a false positive: each action the marking
    undid (the latest of each subject and kind, unless one like it is still in effect) is done
    again, under a new key (``KEY/again/N``, ``KEY`` the first such action's: done N + 1 times),
    so a later undo and a later reopening work the same way."""
    caused = feed.caused_by(alert_id)
    undone = {c.undoes for c in caused if c.undoes is not None}
    done = [c for c in caused if c.undoes is None]
    live = {(c.subject_type, c.subject, c.kind) for c in done if c.key not in undone}
    times: dict[tuple[str, str, str], int] = {}
    latest: dict[tuple[str, str, str], FeedEntry] = {}
    first: dict[tuple[str, str, str], str] = {}
    for c in done:
        ident = (c.subject_type, c.subject, c.kind)
        times[ident] = times.get(ident, 0) + 1
        first.setdefault(ident, c.key)
        if c.key in undone:
            latest[ident] = c
    planned = [
        PlannedAction(
            key=again_key(first[ident], times[ident]),
            kind=c.kind,
            surface=c.surface,
            subject_type=c.subject_type,
            subject=c.subject,
            reason=f"alert {alert_id} reopened by a person: what its false positive undid is done again",
            params=MappingProxyType(dict(c.params)),
            rule_id=c.rule_id,
            alert_id=alert_id,
            policy_version=policy_version,
        )
        for ident, c in latest.items()
        if ident not in live
    ]
    if people_decided is not None:
        planned = spare_people_decisions(planned, people_decided)
    return feed.append(planned)


class AlertActions:
    """Plans each alert emission against the policy and appends the actions to the feed."""

    def __init__(
        self,
        feed: ActionFeed,
        store: ConcernedStore,
        policy: Callable[[], CompiledPolicy],
        *,
        lookback: timedelta = LOOKBACK,
        protection: PeopleBook | None = None,
    ) -> None:
        self.feed, self.store, self.policy, self.lookback = feed, store, policy, lookback
        self.protection = protection  # auto-shields and offers (pipeline.protection); None: none
        # which of some events a person decided (store.review): nothing automatic acts on them
        self.people_decided: Callable[[Sequence[str]], Collection[str]] | None = None

    def on_alerts(
        self, alerts: Sequence[Alert], *, now: datetime | None = None, behaviour: object = None
    ) -> list[FeedEntry]:
        """Plan and append the actions of ``alerts`` (every emission, in the order behaviour made
        them); ``now`` is the newest event time seen (the behaviour state's time); ``behaviour``
        (the engine, or the scale-out replica) gives each input the context of the other alerts
        (``pipeline.context``); without it only the event's own context counts."""
        if not alerts:
            return []
        policy = self.policy()
        ctx = None if behaviour is None else DecisionContext(behaviour, now, people=self.protection)
        targets = self._concerned_of_targets(alerts, ctx)
        planned: list[PlannedAction] = []
        previous: dict[str, str] = {}
        manual: dict[str, bool] = {}
        for alert in alerts:
            if alert.alert_id not in manual:
                stored = self.store.get_alert(alert.alert_id)
                manual[alert.alert_id] = stored is not None and stored.status == "false_positive"
            if manual[alert.alert_id]:
                continue
            if alert.resolved_at is not None:
                caused = self.feed.caused_by(alert.alert_id)
                caused_now = [p for p in planned if p.alert_id == alert.alert_id]
                planned += plan_alert(policy, alert, caused=[*caused, *caused_now])
                continue
            concerned: Sequence[DecisionInput] = ()
            if alert.kind in _TARGET_KINDS and alert.subject_type == "user":
                concerned = targets.get((alert.alert_id, alert.updated_at), ())
            elif alert.kind == "brigade":
                concerned = _inputs(self.store.stored_pairs(list(alert.event_ids)), ctx, alert.alert_id)
            planned += plan_alert(
                policy, alert, concerned=concerned, previous_level=previous.get(alert.alert_id)
            )
            previous[alert.alert_id] = alert.level
        steps = [] if self.protection is None else self.protection.plan(
            [a for a in alerts if not manual[a.alert_id]]
        )
        planned += [action for _, action in steps]
        # shields near their end (the embedded pipeline also checks after every batch; a scale-out
        # leader only here, with its alert emissions)
        due = [] if self.protection is None or now is None else self.protection.reminders(now)
        planned += due
        if self.people_decided is not None:
            planned = spare_people_decisions(planned, self.people_decided)
        if not planned:
            return []
        entries = self.feed.append(planned)
        if self.protection is not None:
            self.protection.apply(steps)  # after the append: a failed one is planned again
            self.protection.reminded(due)
        return entries

    def _concerned_of_targets(
        self, alerts: Iterable[Alert], ctx: DecisionContext | None
    ) -> dict[tuple[str, datetime], list[DecisionInput]]:
        """For each open pile-on / incitement emission, the events aimed at its target in the
        ``lookback`` up to it, read in one batched call."""
        wanted = [
            a for a in alerts
            if a.kind in _TARGET_KINDS and a.subject_type == "user" and a.resolved_at is None
        ]
        if not wanted:
            return {}
        since = min(a.updated_at for a in wanted) - self.lookback
        until = max(a.updated_at for a in wanted)
        aimed = self.store.events_aimed_at(sorted({a.subject_id for a in wanted}), since=since, until=until)
        out: dict[tuple[str, datetime], list[DecisionInput]] = {}
        for a in wanted:
            start, end = a.updated_at - self.lookback, a.updated_at
            pairs = ((e, v) for e, v in aimed.get(a.subject_id, ()) if start <= e.occurred_at <= end)
            out[(a.alert_id, a.updated_at)] = _inputs(pairs, ctx, a.alert_id)
        return out


def _inputs(
    pairs: Iterable[tuple[Event, Verdict]], ctx: DecisionContext | None, alert_id: str
) -> list[DecisionInput]:
    """Stored events as decision inputs: the verdict, the author's relationship to the target and
    account age, and (with ``ctx``) the other alerts' context; each carries everything *but* the
    alert planned (``plan_alert`` adds it, at the level before and after this emission)."""
    if ctx is None:
        return [DecisionInput.from_event(e, v) for e, v in pairs]
    return [_without(ctx.input_for(e, v), alert_id) for e, v in pairs]


def _without(inp: DecisionInput, alert_id: str) -> DecisionInput:
    """``inp`` with ``alert_id`` taken out of its context."""
    changes: dict[str, object] = {}
    if inp.pile_on_alert_id == alert_id:
        changes.update(pile_on_level=None, pile_on_alert_id=None)
    if inp.topic_alert_id == alert_id:
        changes.update(topic_level=None, topic_alert_id=None)
    if inp.brigade_alert_id == alert_id:
        changes["brigade_alert_id"] = None
    return replace(inp, **changes) if changes else inp  # type: ignore[arg-type]
