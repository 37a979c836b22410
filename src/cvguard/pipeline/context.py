"""Decision context: the one place an event's :class:`~cvguard.policy.DecisionInput` is built.

The policy core is pure; what it needs to know about the world comes from here, from the event's
verdict and the behaviour state as of that event:

- the target's open pile-on (or incitement) alert, level and id: for several targets the most
  severe one;
- the topic's open alert, level and id (the most severe of the event's topics);
- a brigade alert id when the event is in one: an open brigade episode about one of the event's
  targets, its thread or one of its topics;
- the author's role (``initiator`` beats ``copycat``) in an incitement under way against one of
  the targets (an open incitement alert), with that alert's id;
- the target's key groups: the union over the event's targets of the groups the platform or a
  moderator marked them with (``PUT /v1/users/{id}/groups``; ``author.minor`` describes the
  *author*, not the person the event is aimed at);
- ``target_protected``: a shield of one of the event's targets is on at the batch's time, covers
  the event's surface, and holds back this author (``protection.holds_back``);
- relationship (from the event's hints) and account age, from the event itself;
- prior violations and ``author_restricted`` from the violation ledger (``pipeline.enforce.Ledger``)
  when the context is given one (``standing=``): the author's violations whose strikes count at the
  event's time, and whether an active sanction of theirs restricts the event's surface; without
  one, ``None`` (unknown) and False;
- on ``dm``, ``dm_unanswered`` and ``dm_over_rate`` from the private-message state
  (``protection.dm``) as of the message itself, when the context is given one (``dm=``).

Reading is cheap: a :class:`DecisionContext` is made once per batch, as of one time (the batch's
event clock after behaviour processed it), and looks each target and topic up once, straight in
the engine's alert book when the behaviour is a :class:`~cvguard.behavior.BehaviourEngine` (or
wraps one, as the scale-out replica does), else through ``target_state`` / ``topic_state``::

    ctx = DecisionContext(pipeline.behaviour, at=pipeline.clock.now())
    decisions = [policy.decide(ctx.input_for(event, verdict)) for event, verdict in fresh]

Granularity: the state is the batch's, after behaviour saw the whole batch, so an alert raised by
an event of the batch counts for every event of that batch, the earlier ones included (a pile-on
warned by this batch already hides the strangers' abuse in it). API batches are small; a replay
batch is a few thousand events, i.e. seconds to minutes of a busy stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from cvguard.behavior import BehaviourEngine, TargetState, TopicState
from cvguard.behavior.windows import seconds
from cvguard.events import Event
from cvguard.policy import CompiledPolicy, DecisionInput, relationship_of
from cvguard.protection import Shield, holds_back
from cvguard.verdict import Verdict
from cvguard.vocabulary import LEVEL_RANK

PILE_KINDS = ("pile_on", "incitement")


class PolicySource(Protocol):
    """A policy that may change (``PolicyHolder``, the app's ``FixedPolicy``): the active one now."""

    @property
    def policy(self) -> CompiledPolicy: ...


PolicyLike = CompiledPolicy | PolicySource


def compiled(source: PolicyLike) -> CompiledPolicy:
    """The policy to decide with now (a holder is asked once per batch: one version per batch)."""
    return source if isinstance(source, CompiledPolicy) else source.policy


class DmReader(Protocol):
    """The private-message state (``protection.dm.DmGuard``): ``(dm_unanswered, dm_over_rate)``."""

    def flags(self, event: Event) -> tuple[bool, bool]: ...


class StandingReader(Protocol):
    """The authors' standing (``pipeline.enforce.Ledger``): ``(prior violations, restricted)``."""

    def standing(self, account_id: str, surface: str, at: datetime) -> tuple[int, bool]: ...


class StateReader(Protocol):
    """What a context reads when the behaviour is not an engine it can read directly (a twin)."""

    def target_state(self, target_id: str, t: Any) -> TargetState: ...

    def topic_state(self, topic_id: str, t: Any) -> TopicState: ...


class PeopleView(Protocol):
    """The targets' key groups and shields (``pipeline.protection.PeopleBook``): cheap lookups."""

    def groups_of(self, user_id: str) -> frozenset[str]: ...

    def shield_of(self, user_id: str) -> Shield | None: ...


@dataclass(frozen=True, slots=True)
class TargetContext:
    """One target's open alerts, as the policy reads them."""

    pile_on_level: str | None = None  # the higher of its open pile-on and incitement alerts
    pile_on_alert_id: str | None = None
    incitement_alert_id: str | None = None
    brigade_alert_id: str | None = None


@dataclass(frozen=True, slots=True)
class Opened:
    level: str | None = None
    alert_id: str | None = None


_NONE_TARGET = TargetContext()
_NO_GROUPS: frozenset[str] = frozenset()
_NONE = Opened()


def engine_of(behaviour: object) -> BehaviourEngine | None:
    """The engine itself, or the one a replica wraps (``SharedBehaviour.engine``); None for a twin."""
    if isinstance(behaviour, BehaviourEngine):
        return behaviour
    inner = getattr(behaviour, "engine", None)
    return inner if isinstance(inner, BehaviourEngine) else None


def _higher(a: Opened, b: Opened) -> Opened:
    return b if LEVEL_RANK[b.level] > LEVEL_RANK[a.level] else a


class DecisionContext:
    """Behaviour context for the events of one batch, as of ``at``; each subject looked up once."""

    def __init__(
        self,
        behaviour: object,
        at: datetime | float | None,
        dm: DmReader | None = None,
        people: PeopleView | None = None,
        standing: StandingReader | None = None,
    ) -> None:
        self._standing = standing
        self._dm = dm  # private-message state (protection.dm), the batch already observed
        self._engine = engine_of(behaviour)
        self._people = people
        self._reader: Any = behaviour
        self._t = None if at is None else seconds(at)
        self._at = at
        self._targets: dict[str, TargetContext] = {}
        self._topics: dict[str, Opened] = {}
        self._brigades: dict[tuple[str, str], str | None] = {}
        self._roles: dict[tuple[str, str], str | None] = {}

    # -- subjects -------------------------------------------------------------------------------

    def target(self, target_id: str) -> TargetContext:
        found = self._targets.get(target_id)
        if found is None:
            found = self._targets[target_id] = self._read_target(target_id)
        return found

    def topic(self, topic_id: str) -> Opened:
        found = self._topics.get(topic_id)
        if found is None:
            found = self._topics[topic_id] = self._read_topic(topic_id)
        return found

    def _read_target(self, target_id: str) -> TargetContext:
        if self._t is None:
            return _NONE_TARGET
        engine = self._engine
        if engine is not None:
            book, t = engine.book, self._t
            pile = book.current("pile_on", "user", target_id, t)
            inc = book.current("incitement", "user", target_id, t)
            brig = book.current("brigade", "user", target_id, t)
            best = _NONE
            for a in (pile, inc):
                if a is not None and a.resolved_at is None:
                    best = _higher(best, Opened(a.level, a.alert_id))
            found = TargetContext(
                best.level,
                best.alert_id,
                inc.alert_id if inc is not None and inc.resolved_at is None else None,
                brig.alert_id if brig is not None and brig.resolved_at is None else None,
            )
            return _NONE_TARGET if found == _NONE_TARGET else found
        state: TargetState = self._reader.target_state(target_id, self._at)
        best, inc_id, brig_id = _NONE, None, None
        for alert in state.alerts:
            if alert.get("resolved_at"):
                continue
            kind, alert_id, level = alert.get("kind"), alert.get("alert_id"), alert.get("level")
            if kind in PILE_KINDS and level in LEVEL_RANK:
                best = _higher(best, Opened(level, alert_id))
            if kind == "incitement":
                inc_id = alert_id
            elif kind == "brigade":
                brig_id = alert_id
        found = TargetContext(best.level, best.alert_id, inc_id, brig_id)
        return _NONE_TARGET if found == _NONE_TARGET else found

    def _read_topic(self, topic_id: str) -> Opened:
        if self._t is None:
            return _NONE
        engine = self._engine
        if engine is not None:
            a = engine.book.current("topic", "topic", topic_id, self._t)
            return _NONE if a is None or a.resolved_at is not None else Opened(a.level, a.alert_id)
        state: TopicState = self._reader.topic_state(topic_id, self._at)
        best = _NONE
        for alert in state.alerts:
            level = alert.get("level")
            if alert.get("kind") == "topic" and not alert.get("resolved_at") and level in LEVEL_RANK:
                best = _higher(best, Opened(level, alert.get("alert_id")))
        return best

    def _brigade(self, subject_type: str, subject_id: str) -> str | None:
        key = (subject_type, subject_id)
        if key not in self._brigades:
            engine = self._engine
            alert = (
                None
                if engine is None or self._t is None
                else engine.book.current("brigade", subject_type, subject_id, self._t)
            )
            self._brigades[key] = None if alert is None or alert.resolved_at is not None else alert.alert_id
        return self._brigades[key]

    def role(self, author_id: str, target_id: str) -> str | None:
        key = (author_id, target_id)
        if key not in self._roles:
            self._roles[key] = self._read_role(author_id, target_id)
        return self._roles[key]

    def _read_role(self, author_id: str, target_id: str) -> str | None:
        engine = self._engine
        if engine is not None:
            return engine.role_of(author_id, target_id)
        role_of = getattr(self._reader, "role_of", None)
        role = role_of(author_id, target_id) if callable(role_of) else None
        return role if isinstance(role, str) else None

    # -- the input --------------------------------------------------------------------------------

    def input_for(self, event: Event, verdict: Verdict | None) -> DecisionInput:
        """The decision input for ``event`` (see the module docstring for each field)."""
        pile = _NONE
        brigade: str | None = None
        role: str | None = None
        incitement: str | None = None
        targets = self._targets
        for target_id in event.target_ids:
            tc = targets.get(target_id)
            if tc is None:
                tc = targets[target_id] = self._read_target(target_id)
            if tc is _NONE_TARGET:  # most targets: no open alert
                continue
            if tc.pile_on_level is not None:
                pile = _higher(pile, Opened(tc.pile_on_level, tc.pile_on_alert_id))
            brigade = brigade or tc.brigade_alert_id
            # a role counts in an incitement under way: an open incitement alert against the target
            r = self.role(event.author.id, target_id) if tc.incitement_alert_id is not None else None
            if r is not None and (role is None or (r == "initiator" and role != "initiator")):
                role, incitement = r, tc.incitement_alert_id
        topic = _NONE
        for topic_id in event.topic_ids:
            topic = _higher(topic, self.topic(topic_id))
            brigade = brigade or self._brigade("topic", topic_id)
        if brigade is None and event.thread_id is not None:
            brigade = self._brigade("thread", event.thread_id)
        rel = event.relationship
        created = event.author.created_at
        # private messages: a stranger writing again unanswered, a sender over rate (protection.dm)
        unanswered = over_rate = False
        if self._dm is not None and event.surface._value_ == "dm":
            unanswered, over_rate = self._dm.flags(event)
        relationship = relationship_of(rel.target_follows_author, rel.author_follows_target)
        age = None if created is None else (event.occurred_at - created).total_seconds() / 86400.0
        groups, protected = _NO_GROUPS, False
        if self._people is not None and event.target_ids:
            groups, protected = self._protection(
                event, relationship, age, verdict is not None and verdict.violation
            )
        prior: int | None = None
        restricted = False
        if self._standing is not None:
            prior, restricted = self._standing.standing(
                event.author.id, event.surface._value_, event.occurred_at
            )
        # positionally, in DecisionInput's field order (what DecisionInput.from_event builds)
        return DecisionInput(
            event.surface._value_,  # (.value goes through a descriptor: this is per event)
            event.event_id,
            verdict,
            pile.level,
            pile.alert_id,
            topic.level,
            topic.alert_id,
            brigade,
            role,
            incitement,
            groups,
            protected,
            relationship,
            age,
            prior,
            False,  # published: at publish time
            unanswered,
            over_rate,
            restricted,
        )

    def _protection(
        self, event: Event, relationship: str, age: float | None, abusive: bool
    ) -> tuple[frozenset[str], bool]:
        """The union of the targets' key groups, and whether a target's shield holds this back."""
        people = self._people
        assert people is not None
        groups, protected = _NO_GROUPS, False
        t = self._t if self._t is not None else event.occurred_at.timestamp()  # no clock yet: its own
        for target_id in event.target_ids:
            g = people.groups_of(target_id)
            if g:
                groups = g if not groups else groups | g
            shield = people.shield_of(target_id)
            if shield is not None and not protected:
                protected = holds_back(
                    shield, surface=event.surface._value_, t=t, author_id=event.author.id,
                    relationship=relationship, account_age_days=age, abusive=abusive,
                )
        return groups, protected


def decision_input(
    event: Event, verdict: Verdict | None, behaviour: object, at: datetime | float | None
) -> DecisionInput:
    """One event's input on its own (a batch should share one :class:`DecisionContext`)."""
    return DecisionContext(behaviour, at).input_for(event, verdict)
