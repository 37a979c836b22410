"""Deciding: a verdict and its behaviour context in, what the platform does on that surface out.

A :class:`Policy` is compiled once into one plain Python function per surface that tests every
rule of that surface in turn, each rule reduced to the comparisons its conditions need (values
bound as constants, nothing looked up by name at decision time). :func:`decide` calls it and picks
the winner: the matching rule with the highest priority, the one written first among equals. No
rule matching means the surface's fallback (``allow``, or ``deliver`` for DMs). Pure and
deterministic: the same policy and input give the same decision, in microseconds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

from cvguard.policy.schema import Policy, Rule
from cvguard.policy.vocabulary import (
    CATEGORY_THRESHOLD,
    FALLBACK,
    LEVEL_RANK,
    SEVERITY_RANK,
    SURFACES,
    relationship_of,
)

if TYPE_CHECKING:
    from cvguard.events import Event


class SpanLike(Protocol):
    """What a decision needs of a verdict's span (``cvguard.verdict.Span``)."""

    @property
    def category(self) -> str: ...

    def to_dict(self) -> dict[str, Any]: ...


class VerdictLike(Protocol):
    """What a decision needs of a verdict (``cvguard.verdict.Verdict`` has it all)."""

    @property
    def violation(self) -> bool: ...
    @property
    def score(self) -> float: ...
    @property
    def severity(self) -> str | None: ...
    @property
    def categories(self) -> Mapping[str, float]: ...
    @property
    def spans(self) -> Sequence[SpanLike]: ...


# Not frozen: made per event on the ingest path, where a frozen dataclass's __init__ costs ~2 µs
# (object.__setattr__ per field) against ~0.3 µs; nothing changes one after it is made.
@dataclass(slots=True)
class DecisionInput:
    """One thing to decide about, with everything the rules may ask; context fields left at their
    defaults mean "nothing known" (no alert, no group, a stranger, an unknown history). For an
    event aimed at several targets the caller passes the most severe: the highest pile-on level
    with its alert, the union of their groups, protected if any is, the most distant relationship."""

    surface: str
    event_id: str = ""
    verdict: VerdictLike | None = None
    # behaviour context: the level of the open alert and its id
    pile_on_level: str | None = None  # the target's pile-on / incitement alert (the higher one)
    pile_on_alert_id: str | None = None
    topic_level: str | None = None
    topic_alert_id: str | None = None
    brigade_alert_id: str | None = None  # set when the event belongs to a brigade cluster
    author_role: str | None = None  # "initiator" / "copycat" in an incitement against the target
    incitement_alert_id: str | None = None
    # the target and the author
    target_groups: frozenset[str] = frozenset()
    target_protected: bool = False
    relationship: str = "stranger"
    account_age_days: float | None = None
    prior_violations: int | None = None  # from enforcement; None: not known
    published: bool = False  # already published: the feed decides again when an alert changes
    dm_unanswered: bool = False  # dm: a stranger's earlier message to the recipient is unanswered
    dm_over_rate: bool = False  # dm: the sender is over the per-sender rate to the recipient
    # an active sanction of the author restricts this surface (enforcement.RESTRICTS)
    author_restricted: bool = False

    @classmethod
    def from_event(cls, event: Event, verdict: VerdictLike | None, **context: Any) -> DecisionInput:
        """The input for a published event: surface, id, relationship and account age from the
        event; the behaviour and target context as keyword arguments."""
        rel = event.relationship
        context.setdefault(
            "relationship", relationship_of(rel.target_follows_author, rel.author_follows_target)
        )
        context.setdefault("account_age_days", event.account_age_days())
        return cls(surface=event.surface.value, event_id=event.event_id, verdict=verdict, **context)


@dataclass(frozen=True, slots=True)
class RuleMatch:
    rule_id: str
    action: str
    priority: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "action": self.action,
            "priority": self.priority,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class Nudge:
    """The pre-publish pop-up: why, and which words."""

    reason: str
    spans: tuple[SpanLike, ...]


_EMPTY: Mapping[str, Any] = MappingProxyType({})


# Not frozen: made per event on the ingest path, where a frozen dataclass's __init__ costs ~2 µs
# (object.__setattr__ per field) against ~0.3 µs; nothing changes one after it is made.
@dataclass(slots=True)
class Decision:
    event_id: str
    surface: str
    action: str
    rule_id: str | None  # the winning rule; None: no rule matched, the surface's fallback
    reason: str
    matched: tuple[RuleMatch, ...]  # every rule that matched, in file order
    policy: str
    policy_version: str
    params: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    score: float = 0.0
    severity: str | None = None
    categories: Mapping[str, float] = field(default_factory=lambda: _EMPTY)
    spans: tuple[SpanLike, ...] = ()
    alert_ids: tuple[str, ...] = ()  # the alerts the winning rule's conditions rest on
    nudge: Nudge | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "surface": self.surface,
            "action": self.action,
            "params": dict(self.params),
            "rule_id": self.rule_id,
            "reason": self.reason,
            "matched": [m.to_dict() for m in self.matched],
            "score": round(self.score, 4),
            "severity": self.severity,
            "categories": {k: round(v, 4) for k, v in self.categories.items() if v >= 0.01},
            "spans": [s.to_dict() for s in self.spans],
            "alert_ids": list(self.alert_ids),
            "policy": self.policy,
            "policy_version": self.policy_version,
            "nudge": None
            if self.nudge is None
            else {"reason": self.nudge.reason, "spans": [s.to_dict() for s in self.nudge.spans]},
        }


# The matcher's arguments, computed once per decision.
_ARGS = (
    "violation, score, cats, sev, pile, topic, brigade, role, groups, protected, rel, age, prior,"
    " published, unanswered, over_rate, restricted"
)
Matcher = Callable[..., list[int]]


def _condition(rule: Rule, consts: dict[str, object]) -> tuple[str, tuple[str, ...]]:
    """The rule's conditions as one Python expression over ``_ARGS``, and the alert fields they read."""

    def const(value: object) -> str:
        name = f"k{len(consts)}"
        consts[name] = value
        return name

    w = rule.when
    parts: list[str] = []
    alerts: list[str] = []
    if w.violation is not None:
        parts.append("violation" if w.violation else "not violation")
    if w.categories is not None:
        floor = const(CATEGORY_THRESHOLD if w.min_score is None else w.min_score)
        parts.append("(" + " or ".join(f"cats.get({const(c)}, 0.0) >= {floor}" for c in w.categories) + ")")
    elif w.min_score is not None:
        parts.append(f"score >= {const(w.min_score)}")
    if w.severity_at_least is not None:
        parts.append(f"sev >= {const(SEVERITY_RANK[w.severity_at_least])}")
    if w.pile_on_at_least is not None:
        parts.append(f"pile >= {const(LEVEL_RANK[w.pile_on_at_least])}")
        alerts.append("pile_on_alert_id")
    if w.topic_alert_at_least is not None:
        parts.append(f"topic >= {const(LEVEL_RANK[w.topic_alert_at_least])}")
        alerts.append("topic_alert_id")
    if w.brigade is not None:
        parts.append("brigade" if w.brigade else "not brigade")
        if w.brigade:
            alerts.append("brigade_alert_id")
    if w.author_role is not None:
        parts.append(f"role in {const(frozenset(w.author_role))}")
        alerts.append("incitement_alert_id")
    if w.target_groups is not None:
        parts.append(f"not groups.isdisjoint({const(frozenset(w.target_groups))})")
    if w.target_protected is not None:
        parts.append("protected" if w.target_protected else "not protected")
    if w.relationship is not None:
        parts.append(f"rel in {const(frozenset(w.relationship))}")
    if w.account_age_days_below is not None:
        parts.append(f"(age is not None and age < {const(w.account_age_days_below)})")
    if w.prior_violations_at_least is not None:
        parts.append(f"(prior is not None and prior >= {const(w.prior_violations_at_least)})")
    flags = (
        ("published", "published"), ("dm_unanswered", "unanswered"), ("dm_over_rate", "over_rate"),
        ("author_restricted", "restricted"),
    )
    for name, arg in flags:
        flag = getattr(w, name)
        if flag is not None:
            parts.append(arg if flag else f"not {arg}")
    return (" and ".join(parts) or "True"), tuple(alerts)


@dataclass(frozen=True, slots=True)
class _Surface:
    match: Matcher
    matches: tuple[RuleMatch, ...]  # by position in the surface's rule list
    rank: tuple[int, ...]  # positions, best first (priority, then file order)
    params: tuple[Mapping[str, Any], ...]
    alerts: tuple[tuple[str, ...], ...]
    source: str


def _compile_surface(rules: Sequence[Rule]) -> _Surface:
    consts: dict[str, object] = {}
    lines = [f"def match({_ARGS}):", "    m = []"]
    alerts: list[tuple[str, ...]] = []
    for i, rule in enumerate(rules):
        expr, refs = _condition(rule, consts)
        label = re.sub(r"[^a-z0-9_.-]", "?", rule.id)  # ids are validated; this keeps a comment a comment
        lines.append(f"    if {expr}:  # {label}")
        lines.append(f"        m.append({i})")
        alerts.append(refs)
    lines.append("    return m")
    source = "\n".join(lines)
    namespace: dict[str, Any] = dict(consts)
    # Only names of constants go into the source: no text from the policy file becomes code.
    exec(compile(source, "<policy>", "exec"), namespace)
    return _Surface(
        match=namespace["match"],
        matches=tuple(RuleMatch(r.id, r.action, r.priority, r.reason) for r in rules),
        rank=tuple(sorted(range(len(rules)), key=lambda i: (-rules[i].priority, i))),
        params=tuple(MappingProxyType(dict(r.params)) for r in rules),
        alerts=tuple(alerts),
        source=source,
    )


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    """A validated policy ready to decide with; build it with :func:`compile_policy`."""

    policy: Policy
    surfaces: Mapping[str, _Surface] = field(repr=False)

    @property
    def name(self) -> str:
        return self.policy.name

    @property
    def version(self) -> str:
        return self.policy.version

    def source(self, surface: str) -> str:
        """The generated matcher of one surface (for reading, and for tests)."""
        return self.surfaces[surface].source

    def decide(self, inp: DecisionInput) -> Decision:
        return decide(self, inp)


def compile_policy(policy: Policy) -> CompiledPolicy:
    surfaces = {s: _compile_surface([r for r in policy.rules if s in r.surfaces]) for s in SURFACES}
    return CompiledPolicy(policy, MappingProxyType(surfaces))


_NO_SPANS: tuple[SpanLike, ...] = ()


def decide(policy: CompiledPolicy, inp: DecisionInput) -> Decision:
    """The decision for one input under ``policy``."""
    compiled = policy.surfaces.get(inp.surface)
    if compiled is None:
        raise ValueError(f"unknown surface {inp.surface!r}")
    v = inp.verdict
    if v is None:
        violation, score, severity, cats, spans = False, 0.0, None, _EMPTY, _NO_SPANS
    else:
        violation, score, severity, cats, spans = (
            v.violation,
            v.score,
            v.severity,
            v.categories,
            tuple(v.spans),
        )
    found = compiled.match(
        violation,
        score,
        cats,
        SEVERITY_RANK.get(severity, -1),
        LEVEL_RANK.get(inp.pile_on_level, 0),
        LEVEL_RANK.get(inp.topic_level, 0),
        inp.brigade_alert_id is not None,
        inp.author_role,
        inp.target_groups,
        inp.target_protected,
        inp.relationship,
        inp.account_age_days,
        inp.prior_violations,
        inp.published,
        inp.dm_unanswered,
        inp.dm_over_rate,
        inp.author_restricted,
    )
    if not found:  # most decisions; positionally, in Decision's field order
        p = policy.policy
        return Decision(
            inp.event_id, inp.surface, FALLBACK[inp.surface], None, "no rule matched", (),
            p.name, p.version, _EMPTY, score, severity, cats, spans,
        )
    best = found[0]
    if len(found) > 1:
        chosen = set(found)
        best = next(i for i in compiled.rank if i in chosen)
    win = compiled.matches[best]
    params = compiled.params[best]
    return Decision(
        event_id=inp.event_id,
        surface=inp.surface,
        action=win.action,
        rule_id=win.rule_id,
        reason=win.reason,
        matched=tuple(compiled.matches[i] for i in found),
        policy=policy.name,
        policy_version=policy.version,
        params=params,
        score=score,
        severity=severity,
        categories=cats,
        spans=spans,
        alert_ids=tuple(a for name in compiled.alerts[best] if (a := getattr(inp, name)) is not None),
        nudge=Nudge(params.get("message") or win.reason, spans) if win.action == "nudge" else None,
    )
