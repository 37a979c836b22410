"""Enforcement on the ingest path: violations from decisions, graded into sanctions, and their undo.

    ledger = Ledger(EnforcementStore(engine))            # standings cached in memory, polled
    enforcer = Enforcer(ledger, feed=ActionFeed(engine), audit=AuditLog(engine))
    enforcer.listeners.append(mcn_handler)               # told of violations confirmed and reversed
    enforcer.on_decisions(items, inputs, decisions, policy=policy)   # after each batch is decided
    enforcer.on_escalations(escalations)                 # repeated abusive DMs (protection.dm)
    enforcer.reverse(sanction_id, actor="person:bob", reason="appeal upheld", now=t)

**What is a violation.** A decision whose winning rule says ``confirms_violation`` (the author's
content at ``event:<event id>``), a DM escalation (the sender, ``dm:<escalation id>``), or a person's
confirmation (``POST /v1/violations``). Each records the account's roles (``enforcement.grading``;
the attack role: ``initiator`` for behaviour's incitement initiator and for anyone whose content
itself calls others to attack, screened ``pile_on_incitement``; ``copycat`` for behaviour's
copycats and anyone abusing a target under an open pile-on or brigade alert),
the verdict's categories and score, the alert it was part of, the policy and model versions, the
author's MCN and what the decision did to the content.

**Graded, then issued.** Each new violation is graded against the account's history (the ladder,
``enforcement.ladder``); a sanction due is written, appended to the action feed (``sanction``,
subject ``account``, with its statement of reasons; keyed by the sanction, so appended once) and
recorded in the audit trail. Event time throughout: a sanction starts at its violation's time.

**Cheap reads.** :class:`Ledger` keeps every account's violations and sanctions that the store
holds in dicts (few accounts have any); the decision context asks it for ``prior_violations`` and
``author_restricted`` with one dict lookup per event. Another process's writes are seen by
:meth:`Ledger.refresh`, at most every ``poll_s`` seconds (as ``pipeline.protection.PeopleBook``).
Granularity: a sanction issued by a batch restricts the author from the next batch on.

**Reversal, exactly.** :meth:`Enforcer.reverse` strikes the violations the sanction was for, lifts
it and every active sanction whose strikes counted any of them, gives back the content those
violations held back (``restore``), tells the platform (``lift_sanction``) and the listeners.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType

from sqlalchemy import Connection

from cvguard.enforcement import (
    RESTRICTS,
    Reversal,
    Sanction,
    SanctionKind,
    Violation,
    ViolationListener,
)
from cvguard.enforcement.grading import Grade, counting, grade, roles_of, strike_points
from cvguard.enforcement.ladder import Ladder, default_ladder
from cvguard.enforcement.statement import statement_of
from cvguard.events import Event
from cvguard.evidence.chain import canonical
from cvguard.policy import CompiledPolicy, Decision, DecisionInput
from cvguard.policy.feed import PlannedAction, action_key
from cvguard.policy.vocabulary import CATEGORY_THRESHOLD
from cvguard.protection.dm import Escalation
from cvguard.store.actions import ActionFeed
from cvguard.store.audit import AuditLog, Draft
from cvguard.store.base import same_database
from cvguard.store.enforcement import EnforcementStore
from cvguard.verdict import Verdict

__all__ = ["HELD_BACK", "Enforcer", "Ledger", "Standing"]

log = logging.getLogger(__name__)

POLL_S = 1.0
_OVERLAP = timedelta(seconds=5)  # clock skew between processes stamping updated_at
# what a decision did that a reversal gives back (``restore``)
HELD_BACK = frozenset({
    "block", "remove", "hide_from_target", "hold_for_review", "fold", "filter_folder",
    "limit_visibility", "exclude_from_recommendation", "mute_member",
})
_ID = 250  # the audit trail's subject id width, less room
INCITING = "pile_on_incitement"  # the taxonomy's category of calls to attack a person


def _short(value: str, width: int = _ID) -> str:
    """An id that fits ``width``: itself, or a prefix and its SHA-256."""
    if len(value) <= width:
        return value
    return value[: width - 66] + "~" + hashlib.sha256(value.encode()).hexdigest()


@dataclass(slots=True)
class Standing:
    """One account's record: its violations (any status) and sanctions, as the store holds them."""

    violations: dict[str, Violation] = field(default_factory=dict)
    sanctions: dict[str, Sanction] = field(default_factory=dict)

    def active_sanctions(self, at: datetime) -> list[Sanction]:
        return [s for s in self.sanctions.values() if s.active_at(at)]

    def restricted(self, surface: str, at: datetime) -> bool:
        sanctions = self.sanctions.values()
        return any(surface in RESTRICTS.get(s.kind, ()) and s.active_at(at) for s in sanctions)

    def active_step(self, at: datetime) -> int:
        steps = [s.step for s in self.active_sanctions(at) if s.step is not None]
        return max(steps, default=-1)


class Ledger:
    """Every account's standing in memory over an :class:`EnforcementStore` (module docstring)."""

    def __init__(
        self,
        store: EnforcementStore,
        *,
        ladder: Ladder | None = None,
        poll_s: float = POLL_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.ladder = ladder if ladder is not None else default_ladder()
        self.poll_s, self._monotonic = poll_s, monotonic
        self._accounts: dict[str, Standing] = {}
        self._seen: datetime | None = None
        self._polled = -float("inf")
        self._lock = threading.RLock()
        self.refresh(force=True)

    def refresh(self, *, force: bool = False) -> None:
        """Take in what other processes wrote (at most every ``poll_s`` seconds unless ``force``)."""
        now = self._monotonic()
        if not force and now - self._polled < self.poll_s:
            return
        with self._lock:
            first = self._polled == -float("inf")
            self._polled = now
            if first:  # everything, whoever wrote it
                changes = self.store.changed_since(None)
                self.put(changes.violations, changes.sanctions)
                self._see(changes.newest or self.store.now())
                return
            # what this process wrote through the store since is in memory already (put as
            # written): it counts as seen, and is not read back
            self._see(self.store.last_written)
            assert self._seen is not None
            changes = self.store.changed_since(self._seen - _OVERLAP, others_only=True)
            self.put(changes.violations, changes.sanctions)
            self._see(changes.newest)

    def _see(self, stamp: datetime | None) -> None:
        if stamp is not None and (self._seen is None or stamp > self._seen):
            self._seen = stamp

    def put(self, violations: Iterable[Violation] = (), sanctions: Iterable[Sanction] = ()) -> None:
        with self._lock:
            for v in violations:
                self._standing(v.account_id).violations[v.violation_id] = v
            for s in sanctions:
                self._standing(s.account_id).sanctions[s.sanction_id] = s

    def forget(
        self, violations: Iterable[tuple[str, str]] = (), sanctions: Iterable[tuple[str, str]] = ()
    ) -> None:
        """Take out what was put but not written after all (a transaction rolled back), each as
        ``(account id, violation or sanction id)``."""
        with self._lock:
            for account_id, vid in violations:
                st = self._accounts.get(account_id)
                if st is not None:
                    st.violations.pop(vid, None)
            for account_id, sid in sanctions:
                st = self._accounts.get(account_id)
                if st is not None:
                    st.sanctions.pop(sid, None)

    def _standing(self, account_id: str) -> Standing:
        found = self._accounts.get(account_id)
        if found is None:
            found = self._accounts[account_id] = Standing()
        return found

    # -- reads (the decision context's, per event) ---------------------------------------------

    def of(self, account_id: str) -> Standing | None:
        return self._accounts.get(account_id)

    def standing(self, account_id: str, surface: str, at: datetime) -> tuple[int, bool]:
        """``(prior violations counting at at, restricted on surface at at)`` (a dict lookup for
        most accounts: those with no record)."""
        st = self._accounts.get(account_id)
        if st is None:
            return 0, False
        prior = len(counting(st.violations.values(), at, self.ladder))
        return prior, st.restricted(surface, at)

    def history(self, account_id: str) -> list[Violation]:
        st = self._accounts.get(account_id)
        return [] if st is None else list(st.violations.values())

    def strikes(self, account_id: str, at: datetime) -> float:
        return strike_points(self.history(account_id), at, self.ladder)


@dataclass(frozen=True, slots=True)
class Issued:
    """A sanction issued, with the grade behind it (None: a person's) and the violations it is for."""

    sanction: Sanction
    grade: Grade | None
    violations: tuple[Violation, ...]


class Enforcer:
    """Violations in, sanctions out, and their exact undo (module docstring); implements
    ``enforcement.Enforcement``."""

    def __init__(
        self,
        ledger: Ledger,
        *,
        feed: ActionFeed | None = None,
        audit: AuditLog | None = None,
        listeners: Iterable[ViolationListener] = (),
    ) -> None:
        self.ledger = ledger
        self.store = ledger.store
        self.feed = feed
        self.audit = audit
        self.listeners: list[ViolationListener] = list(listeners)
        self._confirming: dict[int, tuple[CompiledPolicy, frozenset[str], Mapping[str, str]]] = {}
        self._lock = threading.RLock()

    @property
    def ladder(self) -> Ladder:
        return self.ledger.ladder

    # -- from the pipeline --------------------------------------------------------------------------

    def _rules(self, policy: CompiledPolicy) -> tuple[frozenset[str], Mapping[str, str]]:
        found = self._confirming.get(id(policy))
        if found is None or found[0] is not policy:
            rules = policy.policy.rules
            found = (policy, frozenset(r.id for r in rules if r.confirms_violation),
                     MappingProxyType({r.id: r.reason for r in rules}))
            self._confirming[id(policy)] = found
        return found[1], found[2]

    def on_decisions(
        self,
        items: Sequence[tuple[Event, Verdict]],
        inputs: Sequence[DecisionInput],
        decisions: Sequence[Decision],
        *,
        policy: CompiledPolicy,
    ) -> list[Issued]:
        """Every decision won by a rule that confirms violations: a violation of the author,
        graded; the sanctions issued."""
        confirming, reasons = self._rules(policy)
        if not confirming:
            return []
        found: list[Violation] = []
        for (event, verdict), inp, d in zip(items, inputs, decisions, strict=True):
            if d.rule_id not in confirming:
                continue
            found.append(self._from_decision(event, verdict, inp, d, found))
        return self._record(found, reasons) if found else []

    def _from_decision(
        self, event: Event, verdict: Verdict, inp: DecisionInput, d: Decision, batch: list[Violation]
    ) -> Violation:
        account = event.author.id
        # the attack: content that itself calls others to attack makes its author an inciter
        # (behaviour names only the first caller initiator, later callers its copycats); else
        # behaviour's incitement role, else abuse in a pile-on or brigade already open
        role = inp.author_role
        if verdict.categories.get(INCITING, 0.0) >= CATEGORY_THRESHOLD:
            role = "initiator"
        elif role is None and (inp.pile_on_alert_id is not None or inp.brigade_alert_id is not None):
            role = "copycat"
        alert = inp.incitement_alert_id or inp.pile_on_alert_id or inp.brigade_alert_id
        history = [*self.ledger.history(account), *(v for v in batch if v.account_id == account)]
        vid = f"event:{event.event_id}"
        return Violation(
            violation_id=vid, account_id=account, at=event.occurred_at, confirmed_by=f"policy:{d.rule_id}",
            roles=roles_of(history, at=event.occurred_at, author_role=role, ladder=self.ladder,
                           alert_id=alert),
            event_id=event.event_id, surface=d.surface,
            categories=tuple(sorted(c for c, s in verdict.categories.items() if s >= CATEGORY_THRESHOLD)),
            score=round(verdict.score, 4), alert_id=alert, policy_version=d.policy_version,
            model_version=_model_version(verdict.versions), mcn_id=event.author.mcn_id, action=d.action,
        )

    def on_escalations(self, escalations: Sequence[Escalation]) -> list[Issued]:
        """Repeated abusive private messages: a violation of the sender per escalation."""
        found: list[Violation] = []
        for e in escalations:
            vid = f"dm:{e.escalation_id}"
            history = [*self.ledger.history(e.sender_id), *(v for v in found if v.account_id == e.sender_id)]
            found.append(Violation(
                violation_id=_short(vid, 500), account_id=e.sender_id, at=e.raised_at,
                confirmed_by=_short(f"dm:{e.escalation_id}", 500),
                roles=roles_of(history, at=e.raised_at, author_role=None, ladder=self.ladder),
                event_id=e.event_ids[-1] if e.event_ids else None, surface="dm", alert_id=None,
            ))
        return self._record(found, {}) if found else []

    # -- from people ----------------------------------------------------------------------------------

    def confirm(
        self,
        *,
        account_id: str,
        actor: str,
        at: datetime,
        reason: str,
        event_id: str | None = None,
        surface: str | None = None,
        categories: Sequence[str] = (),
        attack_role: str | None = None,
        mcn_id: str | None = None,
    ) -> tuple[Violation, Issued | None]:
        """A person confirms a violation; it is graded like any other (the sanction, if due)."""
        with self._lock:
            self.ledger.refresh(force=True)
            vid = f"person:{uuid.uuid4().hex}"
            v = Violation(
                violation_id=vid, account_id=account_id, at=at, confirmed_by=f"person:{actor}",
                roles=roles_of(self.ledger.history(account_id), at=at, author_role=attack_role,
                               ladder=self.ladder),
                event_id=event_id, surface=surface, categories=tuple(sorted(set(categories))), mcn_id=mcn_id,
            )
            issued = self._record([v], {}, reason=reason)
            return v, (issued[0] if issued else None)

    def issue(
        self,
        *,
        account_id: str,
        kind: SanctionKind,
        days: int | None,
        actor: str,
        reason: str,
        at: datetime,
        violation_ids: Sequence[str] = (),
    ) -> Sanction:
        """A person issues a sanction by hand (ValueError: a violation that is not the account's,
        or a kind that needs ``days`` without them)."""
        if kind != "permanent_ban" and days is None:
            raise ValueError(f"a {kind} needs days")
        with self._lock:
            self.ledger.refresh(force=True)
            mine = {v.violation_id: v for v in self.ledger.history(account_id)}
            missing = [i for i in violation_ids if i not in mine]
            if missing:
                raise ValueError(f"violation {missing[0]!r} is not one of {account_id!r}'s")
            vs = [mine[i] for i in violation_ids]
            sid = f"s:person:{uuid.uuid4().hex}"
            expires = None if kind == "permanent_ban" or days is None else at + timedelta(days=days)
            decided = f"person:{actor}"
            sanction = Sanction(
                sanction_id=sid, account_id=account_id, kind=kind, starts_at=at, expires_at=expires,
                violation_ids=tuple(violation_ids),
                statement=statement_of(sanction_id=sid, account_id=account_id, kind=kind, starts_at=at,
                                       expires_at=expires, violations=vs, ladder=self.ladder,
                                       decided_by=decided, reason=reason),
                decided_by=decided, rests_on=tuple(violation_ids),
            )
            self._issue([Issued(sanction, None, tuple(vs))], actor=decided)
            return sanction

    # -- recording -----------------------------------------------------------------------------------

    def _record(
        self, found: Sequence[Violation], reasons: Mapping[str, str], *, reason: str | None = None
    ) -> list[Issued]:
        """Write the violations new to the store, grade them and write the sanctions due, their
        feed actions and audit entries: one transaction (a store failure writes none of it)."""
        with self._lock:
            fresh: list[Violation] = []
            try:
                with self._transaction() as c:
                    new = set(self.store.add_violations(found, connection=c))
                    fresh = [v for v in found if v.violation_id in new]
                    if not fresh:
                        return []
                    issued = self._grade(fresh, reasons, reason)
                    written = self._write(c, issued, actor="cvguard")
            except BaseException:  # rolled back: the ledger forgets what grading put in it
                self.ledger.forget([(v.account_id, v.violation_id) for v in fresh],
                                   [(v.account_id, _sanction_id(v)) for v in fresh])
                raise
            self._issued(written, issued)
            for listener in self.listeners:
                listener.on_violations(fresh, now=max(v.at for v in fresh))
            return written

    def _grade(
        self, fresh: Sequence[Violation], reasons: Mapping[str, str], reason: str | None
    ) -> list[Issued]:
        """The sanctions the new violations call for, in order; each violation and sanction is put
        in the ledger as it goes (the next one grades against it; ``Ledger.forget`` undoes it)."""
        self.ledger.put(fresh)
        issued: list[Issued] = []
        decided = f"ladder:{self.ladder.version}"
        for v in fresh:
            st = self.ledger.of(v.account_id)
            history = [] if st is None else list(st.violations.values())
            g = grade(history, v, self.ladder, v.at, active_step=-1 if st is None else st.active_step(v.at))
            if g.kind is None:
                continue
            sid = _sanction_id(v)
            sanction = Sanction(
                sanction_id=sid, account_id=v.account_id, kind=g.kind, starts_at=g.starts_at,
                expires_at=g.expires_at, violation_ids=(v.violation_id,),
                statement=statement_of(
                    sanction_id=sid, account_id=v.account_id, kind=g.kind, starts_at=g.starts_at,
                    expires_at=g.expires_at, violations=[v], ladder=self.ladder, rule_reasons=reasons,
                    grade=g, decided_by=decided, reason=reason,
                ),
                decided_by=decided, step=g.step, rests_on=g.counted,
            )
            issued.append(Issued(sanction, g, (v,)))
            self.ledger.put(sanctions=[sanction])
        return issued

    def _transaction(self) -> AbstractContextManager[Connection]:
        """One transaction for the ledger's rows, the feed's and the audit trail's: the feed's
        (its append lock held) when it is on the store's database, else the store's own."""
        feed = self.feed
        if feed is not None and same_database(feed.engine, self.store.engine):
            return feed.transaction()
        return self.store.transaction()

    def _issue(self, issued: Sequence[Issued], *, actor: str) -> None:
        """Write sanctions issued by hand, with their feed actions and audit entries."""
        if not issued:
            return
        with self._transaction() as c:
            written = self._write(c, issued, actor=actor)
        self._issued(written, issued)

    def _write(self, c: Connection, issued: Sequence[Issued], *, actor: str) -> list[Issued]:
        """Inside ``c``: the sanctions not stored yet, then their feed actions and audit entries
        (the feed idempotent by key; only sanctions new to the store get an entry); those."""
        if not issued:
            return []
        # each statement encoded once, for its sanction's row and inside its feed action's params
        said = {i.sanction.sanction_id: canonical(dict(i.sanction.statement)).decode("utf-8") for i in issued}
        new = set(self.store.add_sanctions([i.sanction for i in issued], connection=c, statements=said))
        fresh = [i for i in issued if i.sanction.sanction_id in new]
        if not fresh:
            return []
        feed, audit = self.feed, self.audit
        actions = [_sanction_action(i.sanction) for i in fresh]
        entries = [_sanction_draft(i, actor) for i in fresh] if audit is not None else []
        together = feed is not None and same_database(feed.engine, self.store.engine)
        if feed is not None:
            if together:  # their sanctions are new in this transaction: their keys are too
                encoded = [_params_with(a, said[i.sanction.sanction_id])
                           for a, i in zip(actions, fresh, strict=True)]
                feed.append_in(c, actions, new=True, encoded=encoded)
            else:
                feed.append(actions, read_back=False)
        if audit is not None:
            if audit.shares(self.store.engine):
                audit.append_in(c, entries)  # last: the trail's lock is always the last one taken
            else:
                audit.append_many(entries)
        return fresh

    def _issued(self, written: Sequence[Issued], issued: Sequence[Issued]) -> None:
        """After the commit: the ledger holds what was written (a sanction another process wrote
        first stays as the store has it, read at the next poll)."""
        kept = {i.sanction.sanction_id for i in written}
        self.ledger.forget(sanctions=[(i.sanction.account_id, i.sanction.sanction_id)
                                      for i in issued if i.sanction.sanction_id not in kept])
        self.ledger.put(sanctions=[i.sanction for i in written])
        for i in written:
            s = i.sanction
            log.info("sanction %s: %s for %s until %s", s.sanction_id, s.kind, s.account_id, s.expires_at)

    # -- the Enforcement protocol -----------------------------------------------------------------------

    def sanction(self, sanction_id: str) -> Sanction | None:
        return self.store.sanction(sanction_id)

    def reverse(self, sanction_id: str, *, actor: str, reason: str, now: datetime) -> Reversal:
        """Undo ``sanction_id`` exactly (module docstring); KeyError: no such sanction, ValueError:
        already lifted."""
        with self._lock:
            s = self.store.sanction(sanction_id)
            if s is None:
                raise KeyError(sanction_id)
            if s.status != "active":
                raise ValueError(f"sanction {sanction_id!r} is {s.status} already")
            struck = self.store.reverse_violations(s.violation_ids, at=now, by=actor)
            struck_ids = [v.violation_id for v in struck]
            later = [x.sanction_id for x in self.store.resting_on(struck_ids) if x.sanction_id != sanction_id]
            lifted = self.store.lift_sanctions([sanction_id, *later], at=now, by=actor, reason=reason)
            self.ledger.put(struck, lifted)
            actions = [_lift_action(x, reason) for x in lifted]
            restored = [v for v in struck if v.event_id is not None and v.action in HELD_BACK]
            actions += [_restore_action(sanction_id, v, reason) for v in restored]
            if self.feed is not None and actions:
                self.feed.append(actions)
            for listener in self.listeners:
                listener.on_reversed(struck, now=now)
            if self.audit is not None:
                self.audit.append(
                    actor=actor, action="sanction.reverse", subject_type="sanction",
                    subject_id=_short(sanction_id),
                    inputs={"reason": reason, "account_id": s.account_id},
                    before={"sanctions_active": [x.sanction_id for x in lifted],
                            "violations_active": struck_ids},
                    after={"sanctions_lifted": [x.sanction_id for x in lifted],
                           "violations_reversed": struck_ids,
                           "content_restored": [v.event_id for v in restored]},
                    policy_version=next((v.policy_version for v in struck if v.policy_version), None),
                    model_version=next((v.model_version for v in struck if v.model_version), None),
                )
            log.info("sanction %s reversed: %d violations struck, %d sanctions lifted",
                     sanction_id, len(struck), len(lifted))
            return Reversal(
                sanction_id=sanction_id,
                violations_reversed=tuple(struck_ids),
                sanctions_lifted=tuple(x.sanction_id for x in lifted),
                content_restored=tuple(v.event_id for v in restored if v.event_id is not None),
                feed_keys=tuple(a.key for a in actions),
            )


def _iso(s: Sanction, name: str) -> str | None:
    """``starts_at`` or ``expires_at`` in ISO 8601: the statement's text (written once), else made."""
    said = s.statement.get(name)
    if isinstance(said, str):
        return said
    at: datetime | None = getattr(s, name)
    return None if at is None else at.isoformat()


def _sanction_id(v: Violation) -> str:
    """The id of the sanction the ladder issues for ``v`` (at most one)."""
    return _short(f"s:{v.violation_id}", 500)


def _sanction_draft(i: Issued, actor: str) -> Draft:
    """The audit entry of a sanction issued: what it rests on, by id (the violations hold the
    rest), the standing before and after."""
    s = i.sanction
    v = i.violations[0] if i.violations else None
    return Draft(
        actor=actor, action="sanction.issue", subject_type="sanction", subject_id=_short(s.sanction_id),
        inputs={"account_id": s.account_id,
                "violations": [{"violation_id": x.violation_id, "event_id": x.event_id,
                                "confirmed_by": x.confirmed_by, "roles": list(x.roles)}
                               for x in i.violations],
                "grade": None if i.grade is None else {
                    "points": i.grade.points, "step": i.grade.step, "counted": len(i.grade.counted)}},
        before=None if i.grade is None else {"step": i.grade.step_before, "points": i.grade.points_before},
        after={"kind": s.kind, "starts_at": _iso(s, "starts_at"), "expires_at": _iso(s, "expires_at"),
               "step": s.step},
        policy_version=None if v is None else v.policy_version,
        model_version=None if v is None else v.model_version,
    )


def _model_version(versions: Mapping[str, str]) -> str | None:
    parts = [f"{k}={v}" for k, v in sorted(versions.items()) if k.startswith(("model", "lexicon"))]
    return "+".join(parts)[:64] or None


def _sanction_key(s: Sanction, kind: str) -> str:
    return action_key(f"sanction:{s.sanction_id}", "account", s.account_id, kind)


def _sanction_action(s: Sanction) -> PlannedAction:
    return PlannedAction(
        key=_sanction_key(s, "sanction"), kind="sanction", surface="account", subject_type="account",
        subject=s.account_id, reason=str(s.statement.get("what", s.kind)),
        params=MappingProxyType({
            "sanction_id": s.sanction_id, "kind": s.kind,
            "expires_at": _iso(s, "expires_at"),
            "statement": dict(s.statement),
        }),
        policy_version=next(iter(s.statement.get("policy_versions") or []), None),
    )


_STATEMENT = "\x00statement"  # where the statement's JSON goes (a string no id or kind holds)
_STATEMENT_JSON = canonical(_STATEMENT).decode("utf-8") + "}"


def _params_with(action: PlannedAction, statement: str) -> str:
    """The canonical JSON of a sanction action's params, its statement (the last key) spliced in
    from its JSON, already made for the sanction's row."""
    head = canonical({**action.params, "statement": _STATEMENT}).decode("utf-8")
    assert head.endswith(_STATEMENT_JSON), "the statement is the params' last key"
    return head[: -len(_STATEMENT_JSON)] + statement + "}"


def _lift_action(s: Sanction, reason: str) -> PlannedAction:
    return PlannedAction(
        key=_sanction_key(s, "lift_sanction"), kind="lift_sanction", surface="account",
        subject_type="account", subject=s.account_id, reason=reason or "sanction lifted",
        params=MappingProxyType({"sanction_id": s.sanction_id, "kind": s.kind}),
        undoes=_sanction_key(s, "sanction"),
    )


def _restore_action(sanction_id: str, v: Violation, reason: str) -> PlannedAction:
    assert v.event_id is not None
    return PlannedAction(
        key=action_key(f"sanction:{sanction_id}", "event", v.event_id, "restore"), kind="restore",
        surface=v.surface or "comment", subject_type="event", subject=v.event_id,
        reason=reason or "the violation was reversed",
        params=MappingProxyType({"sanction_id": sanction_id, "violation_id": v.violation_id,
                                 "undoes_action": v.action}),
        policy_version=v.policy_version,
    )
