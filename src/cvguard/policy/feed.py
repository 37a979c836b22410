"""Planning the action feed: what an alert changes about content already published, and its undo.

When behaviour emits an alert (raised, escalated) the decisions about things published before it
may change: replies that got through become "hide from the target" once the pile-on against that
target is at warning; a topic gets its guidance note, then is locked when critical. When the alert
resolves, everything it caused is undone. :func:`plan_alert` works that out purely, by asking
:func:`~cvguard.policy.decide.decide` twice per thing concerned: once in the context before this
emission (the alert absent, or at its previous level) and once with it. Where the action differs
and the new one is something to do to published content, that is a :class:`PlannedAction`.

    planned = plan_alert(policy, alert, concerned=[DecisionInput.from_event(e, v, ...) , ...],
                         previous_level=None)          # raised
    planned = plan_alert(policy, closing_alert, caused=feed.caused_by(alert.alert_id))  # resolved

Each action has an idempotency key derived from the alert id (which carries the episode), the
subject and the action (:func:`action_key`): replaying the same emissions plans the same keys, and
the feed (``store.actions``) appends a key once. An escalation adds what the higher level changes
and keeps what the lower level did; the resolution undoes all of it. An undo's key is derived from
the key it undoes, and it names that key in ``undoes``.

Who gathers ``concerned`` (the caller, with the store): for a pile-on or incitement alert on a
user, the events aimed at that user in the last hour (their verdicts, the author's relationship to
the target); for a brigade, the events of the cluster; for a topic alert, the events of the topic
(the topic itself is added here). Each input carries the context of everything *but* this alert.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any, Protocol
from urllib.parse import quote

from cvguard.policy.decide import CompiledPolicy, DecisionInput, decide
from cvguard.policy.vocabulary import FALLBACK, LEVEL_RANK

__all__ = [
    "KEY_LENGTH",
    "UNDO",
    "AlertLike",
    "CausedLike",
    "PlannedAction",
    "action_key",
    "plan_alert",
    "plan_undo",
    "spare_people_decisions",
]

KEY_LENGTH = 512  # the longest idempotency key (store.models.ACTION_KEY)

# What reverses each action on published content (an undo names the key it reverses in ``undoes``).
UNDO: Mapping[str, str] = MappingProxyType(
    {
        "fold": "unfold",
        "hide_from_target": "restore",
        "hold_for_review": "restore",
        "block": "restore",
        "limit_visibility": "restore",
        "exclude_from_recommendation": "restore",
        "remove": "restore",
        "filter_folder": "restore",
        "mute_member": "unmute_member",
        "lock_topic": "unlock_topic",
        "guidance_note": "remove_guidance_note",
        "pull": "restore",
        "suppress": "restore",
        "filter_results": "restore",
        "exclude": "restore",
    }
)
# Decided before publishing only: nothing to do to what is already out.
_PRE_PUBLISH = frozenset({"nudge"})
_EMPTY: Mapping[str, Any] = MappingProxyType({})


class AlertLike(Protocol):
    """What planning needs of an alert emission (``behavior.alerts.Alert`` has it all)."""

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
    def resolved_at(self) -> datetime | None: ...


class CausedLike(Protocol):
    """An action already in the feed (``store.actions.FeedEntry``)."""

    @property
    def key(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def surface(self) -> str: ...
    @property
    def subject_type(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def params(self) -> Mapping[str, Any]: ...
    @property
    def undoes(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class PlannedAction:
    """One action for the feed (``store.actions.ActionFeed.append`` takes it as it is)."""

    key: str
    kind: str
    surface: str
    subject_type: str  # "event" or "topic"
    subject: str
    reason: str
    params: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    rule_id: str | None = None
    matched: tuple[str, ...] = ()  # every rule that matched, for the record
    alert_id: str | None = None
    policy_version: str | None = None
    undoes: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.kind,
            "surface": self.surface,
            "subject_type": self.subject_type,
            "subject": self.subject,
            "params": dict(self.params),
            "reason": self.reason,
            "rule_id": self.rule_id,
            "matched": list(self.matched),
            "alert_id": self.alert_id,
            "policy_version": self.policy_version,
            "undoes": self.undoes,
        }


def _fit(key: str) -> str:
    return key if len(key) <= KEY_LENGTH else "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def action_key(alert_id: str, subject_type: str, subject: str, kind: str) -> str:
    """``alert_id/subject_type:subject/kind``, each part escaped (``/`` and ``%``) so no two
    different triples give the same key; a SHA-256 form past ``KEY_LENGTH`` characters. The alert
    id carries its episode (``kind:subject_type:subject_id:episode``)."""

    def part(s: str) -> str:
        return quote(s, safe=":")

    return _fit(f"{part(alert_id)}/{part(subject_type)}:{part(subject)}/{part(kind)}")


def undo_key(key: str) -> str:
    return _fit(f"{key}/undo")


def again_key(key: str, n: int) -> str:
    """The key of action ``key`` done again the ``n``-th time (an alert reopened by a person)."""
    return _fit(f"{key}/again/{n}")


def _context(inp: DecisionInput, alert: AlertLike, level: str | None) -> DecisionInput | None:
    """``inp`` with ``alert`` at ``level`` (None: absent) folded into its context; None when the
    alert's kind is no context a rule reads."""
    if alert.kind in ("pile_on", "incitement") and alert.subject_type == "user":
        if LEVEL_RANK.get(level, 0) > LEVEL_RANK.get(inp.pile_on_level, 0):
            return replace(inp, pile_on_level=level, pile_on_alert_id=alert.alert_id)
        return inp
    if alert.kind == "topic":
        if LEVEL_RANK.get(level, 0) > LEVEL_RANK.get(inp.topic_level, 0):
            return replace(inp, topic_level=level, topic_alert_id=alert.alert_id)
        return inp
    if alert.kind == "brigade":
        if level is not None and inp.brigade_alert_id is None:
            return replace(inp, brigade_alert_id=alert.alert_id)
        return inp
    return None


def plan_alert(
    policy: CompiledPolicy,
    alert: AlertLike,
    *,
    concerned: Sequence[DecisionInput] = (),
    previous_level: str | None = None,
    caused: Sequence[CausedLike] = (),
) -> list[PlannedAction]:
    """The feed actions for one alert emission.

    Raised (``previous_level`` None) or escalated (``previous_level`` the level last emitted): for
    each input in ``concerned`` (and, for a topic alert, the topic itself), the action the new
    context decides where it differs from the old context's and is something to do to published
    content. Resolved (``alert.resolved_at`` set): the undo of every action in ``caused`` (what
    the feed holds for this alert) not undone yet; ``concerned`` is not read.

    ``previous_level`` None at an escalation is safe too (a caller that does not track levels):
    what the lower level already caused is planned again under the same keys, which the feed
    appends once; only inputs first seen now may add actions the lower level would have caused."""
    if alert.resolved_at is not None:
        return plan_undo(alert.alert_id, caused, policy_version=policy.version)
    inputs = list(concerned)
    if alert.kind == "topic" and alert.subject_type == "topic":
        inputs.insert(0, DecisionInput(surface="topic", event_id=alert.subject_id))
    out: list[PlannedAction] = []
    seen: set[str] = set()
    for inp in inputs:
        inp = replace(inp, published=True)  # decided again: content already out there
        new_inp = _context(inp, alert, alert.level)
        if new_inp is None:
            return []
        old_inp = _context(inp, alert, previous_level)
        assert old_inp is not None
        new, old = decide(policy, new_inp), decide(policy, old_inp)
        if new.action == old.action or new.action == FALLBACK[inp.surface] or new.action in _PRE_PUBLISH:
            continue
        subject_type = "topic" if inp.surface == "topic" else "event"
        key = action_key(alert.alert_id, subject_type, inp.event_id, new.action)
        if key in seen:
            continue
        seen.add(key)
        params = dict(new.params)
        if new.action == "hide_from_target" and alert.subject_type == "user":
            params["target_id"] = alert.subject_id  # hidden from whom
        out.append(
            PlannedAction(
                key=key,
                kind=new.action,
                surface=inp.surface,
                subject_type=subject_type,
                subject=inp.event_id,
                reason=new.reason,
                params=MappingProxyType(params),
                rule_id=new.rule_id,
                matched=tuple(m.rule_id for m in new.matched),
                alert_id=alert.alert_id,
                policy_version=new.policy_version,
            )
        )
    return out


def plan_undo(
    alert_id: str, caused: Sequence[CausedLike], *, policy_version: str | None = None, reason: str = ""
) -> list[PlannedAction]:
    """The undo of every action in ``caused`` that is not an undo itself nor undone already, in
    reverse order (the last thing done is undone first). Also for an alert a person closed as a
    false positive."""
    undone = {c.undoes for c in caused if c.undoes is not None}
    why = reason or f"alert {alert_id} resolved: what it caused is undone"
    out: list[PlannedAction] = []
    for c in reversed(caused):
        if c.undoes is not None or c.key in undone:
            continue
        params: Mapping[str, Any] = (
            MappingProxyType({"target_id": c.params["target_id"]}) if "target_id" in c.params else _EMPTY
        )
        out.append(
            PlannedAction(
                key=undo_key(c.key),
                kind=UNDO.get(c.kind, "restore"),
                surface=c.surface,
                subject_type=c.subject_type,
                subject=c.subject,
                reason=why,
                params=params,
                alert_id=alert_id,
                policy_version=policy_version,
                undoes=c.key,
            )
        )
    return out


def spare_people_decisions(
    planned: Sequence[PlannedAction], decided: Callable[[Sequence[str]], Collection[str]]
) -> list[PlannedAction]:
    """``planned`` without the actions on content a person decided (``decided`` answers which of
    the events named are): a person's decision beats an automatic one, and no later alert, nor
    its undo, overwrites it. One ``decided`` call, only when an event is planned at all."""
    events = sorted({p.subject for p in planned if p.subject_type == "event"})
    if not events:
        return list(planned)
    spared = set(decided(events))
    if not spared:
        return list(planned)
    return [p for p in planned if p.subject_type != "event" or p.subject not in spared]
