"""What the pipeline puts in the staff review queue, right after it stored it.

The :class:`~cvguard.pipeline.engine.Pipeline` calls :class:`ReviewIntake` after each batch's
decisions, alerts and DM escalations are saved:

- :meth:`ReviewIntake.held`: the decisions ``hold_for_review`` (the only ones read: the rest of a
  batch costs one action comparison per decision);
- :meth:`ReviewIntake.alerts`: alert emissions at warning or above that are not closing;
- :meth:`ReviewIntake.escalations`: repeated abusive private messages.

Items are queued once per record (``store.review``), so a batch redelivered or a pipeline resumed
queues nothing twice. The queue's times are the wall clock (people handle it); a minor author or
recipient (``author.minor``, the people book's key groups) makes an item urgent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from cvguard.behavior import Alert
from cvguard.events import Event
from cvguard.policy import Decision
from cvguard.protection.dm import Escalation
from cvguard.review import NewItem, ReviewRules, alert_item, escalation_item, held_item, load_rules
from cvguard.store.review import ReviewStore
from cvguard.verdict import Verdict

__all__ = ["HELD", "ReviewIntake"]

HELD = "hold_for_review"


def _wall() -> datetime:
    return datetime.now(UTC)


class ReviewIntake:
    """Queues what a batch held, alerted or escalated (see the module docstring)."""

    def __init__(
        self,
        store: ReviewStore,
        *,
        rules: ReviewRules | None = None,
        wall: Callable[[], datetime] = _wall,
        minor: Callable[[str], bool] | None = None,
    ) -> None:
        self.store = store
        self.rules = rules if rules is not None else load_rules()
        self.wall = wall
        self._minor = minor  # a person marked minor (key groups); None: only what events say

    def _is_minor(self, user_id: str) -> bool:
        return self._minor is not None and self._minor(user_id)

    def held(self, fresh: Sequence[tuple[Event, Verdict]], decisions: Sequence[Decision]) -> int:
        """Queue the decisions that held content for review; how many were new."""
        held = [d for d in decisions if d.action == HELD]
        if not held:
            return 0
        events = {e.event_id: e for e, _ in fresh}
        now = self.wall()
        items = []
        for d in held:
            event = events.get(d.event_id)
            minor = event is not None and (
                bool(event.author.minor)
                or any(self._is_minor(t) for t in event.target_ids)
                or self._is_minor(event.author.id)
            )
            items.append(held_item(d, minor=minor, now=now, rules=self.rules))
        return self.store.enqueue(items)

    def alerts(self, alerts: Sequence[Alert]) -> int:
        """Queue the open alerts at warning or above; how many were new."""
        now = self.wall()
        items = [
            item for a in alerts if a.resolved_at is None
            for item in (alert_item(a, now=now, rules=self.rules),) if item is not None
        ]
        return self.store.enqueue(items) if items else 0

    def escalations(self, escalations: Sequence[Escalation]) -> int:
        """Queue DM escalations; how many were new."""
        if not escalations:
            return 0
        now = self.wall()
        items: list[NewItem] = [
            escalation_item(
                e.escalation_id, sender_id=e.sender_id, recipient_id=e.recipient_id, count=e.count,
                minor=self._is_minor(e.recipient_id), now=now, rules=self.rules,
            )
            for e in escalations
        ]
        return self.store.enqueue(items)
