"""What writers did after a nudge (``nudge_outcomes``), and the shares of each outcome.

A nudge is a decision whose action is ``nudge`` (the pop-up before publishing); its id is the
event id of that decision. The platform reports what the writer did, once: ``edited``,
``cancelled`` or ``posted_anyway``, with the time they did it. Reporting the same outcome again
is a no-op (a retried request); a different one is refused (:class:`OutcomeConflict`).

:meth:`NudgeOutcomes.stats` counts, over the nudges decided in a period (the decision's time, i.e.
the event's), how many got each outcome and how many none yet, by rule and by surface, from the
``decisions`` table (active decisions only, not shadow ones) joined with the outcomes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

from sqlalchemy import RowMapping, and_, func, select, text

from cvguard.errors import InputError
from cvguard.store import models as m
from cvguard.store.base import StoreBase
from cvguard.store.models import NUDGES_ONLY

Outcome = Literal["edited", "cancelled", "posted_anyway"]
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)


class OutcomeConflict(InputError):
    """The nudge already has another outcome (the first one stays)."""


@dataclass(frozen=True, slots=True)
class NudgeOutcome:
    nudge_id: str
    outcome: str
    occurred_at: datetime  # when the writer acted
    recorded_at: datetime  # wall clock
    recorded_by: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "nudge_id": self.nudge_id,
            "outcome": self.outcome,
            "occurred_at": self.occurred_at.isoformat(),
            "recorded_at": self.recorded_at.isoformat(),
            "recorded_by": self.recorded_by,
        }


@dataclass(slots=True)
class Tally:
    """Nudges and their outcomes, for one group (or all)."""

    nudges: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))

    @property
    def answered(self) -> int:
        return sum(self.outcomes.values())

    @property
    def no_outcome(self) -> int:
        return self.nudges - self.answered

    def shares(self) -> dict[str, float | None]:
        """Each outcome's share of the nudges answered (None when none was answered)."""
        n = self.answered
        return {k: (round(v / n, 4) if n else None) for k, v in self.outcomes.items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "nudges": self.nudges,
            "answered": self.answered,
            "no_outcome": self.no_outcome,
            "counts": dict(self.outcomes),
            "shares": self.shares(),
        }


@dataclass(slots=True)
class NudgeStats:
    total: Tally
    by_rule: dict[str, Tally]
    by_surface: dict[str, Tally]


class NudgeOutcomes(StoreBase):
    """``record``, ``get``, ``stats``."""

    _failure = "the nudge outcome store failed"

    def record(
        self, nudge_id: str, outcome: str, occurred_at: datetime, *, by: str
    ) -> tuple[NudgeOutcome, bool]:
        """Record the outcome; (the stored one, True when it is new). The same outcome again returns
        the stored one; another raises :class:`OutcomeConflict`."""
        if outcome not in OUTCOMES:
            known = ", ".join(OUTCOMES)
            raise InputError(f"unknown outcome {outcome!r}: use one of {known}", field="outcome")
        if occurred_at.tzinfo is None:
            raise InputError("the time must carry a timezone", field="at")
        t = m.nudge_outcomes
        now = self._clock()
        with self._tx() as conn:
            stmt = self._insert(t).values(
                nudge_id=nudge_id, outcome=outcome, occurred_at=occurred_at, recorded_at=now,
                recorded_by=by[:m.ACTOR],
            ).on_conflict_do_nothing(index_elements=[t.c.nudge_id]).returning(t.c.nudge_id)
            created = conn.execute(stmt).first() is not None
            row = conn.execute(select(t).where(t.c.nudge_id == nudge_id)).mappings().one()
        stored = _outcome(row)
        if stored.outcome != outcome:
            raise OutcomeConflict(
                f"nudge {nudge_id!r} already has the outcome {stored.outcome!r} (one outcome per nudge)",
                field="outcome",
            )
        return stored, created

    def get(self, nudge_id: str) -> NudgeOutcome | None:
        t = m.nudge_outcomes
        with self._tx() as conn:
            row = conn.execute(select(t).where(t.c.nudge_id == nudge_id)).mappings().first()
        return None if row is None else _outcome(row)

    def stats(self, *, since: datetime | None = None, until: datetime | None = None) -> NudgeStats:
        """Nudges decided in ``[since, until)`` and their outcomes, in all, by rule, by surface."""
        d, o = m.decisions, m.nudge_outcomes
        where: list[Any] = [text(NUDGES_ONLY)]  # written as the partial index's own condition
        if since is not None:
            where.append(d.c.decided_at >= since)
        if until is not None:
            where.append(d.c.decided_at < until)
        stmt = (
            select(d.c.rule_id, d.c.surface, o.c.outcome, func.count().label("n"))
            .select_from(d.outerjoin(o, o.c.nudge_id == d.c.event_id))
            .where(and_(*where))
            .group_by(d.c.rule_id, d.c.surface, o.c.outcome)
        )
        total, by_rule, by_surface = Tally(), dict[str, Tally](), dict[str, Tally]()
        with self._tx() as conn:
            rows = conn.execute(stmt).all()
        for rule_id, surface, outcome, n in rows:
            for tally in (total, by_rule.setdefault(rule_id or "", Tally()),
                          by_surface.setdefault(surface, Tally())):
                tally.nudges += int(n)
                if outcome is not None:
                    tally.outcomes[outcome] = tally.outcomes.get(outcome, 0) + int(n)
        return NudgeStats(total, dict(sorted(by_rule.items())), dict(sorted(by_surface.items())))


def _outcome(row: RowMapping) -> NudgeOutcome:
    return NudgeOutcome(row["nudge_id"], row["outcome"], row["occurred_at"], row["recorded_at"],
                        row["recorded_by"])
