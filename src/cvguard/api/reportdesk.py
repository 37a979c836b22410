"""The app's report desk: the report store (opened on first use), the rules from settings, and
who is a minor (``app.state.reports``).

``groups`` is the key-groups reader (``reports.groups.GroupsReader``): the app wires
:class:`MarkedOrFlagged` (the key groups people are marked with, ``PUT /v1/users/{id}/groups``,
and ``author.minor`` from the events table); a desk left alone reads only the latter. ``clock`` stamps
filing and decisions and tells what is overdue: the wall clock, injected in tests.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from cvguard.config import Settings
from cvguard.reports.groups import GroupsReader
from cvguard.reports.priority import ReportRules
from cvguard.reports.rings import RingRule
from cvguard.store.reports import EventMinorFlags, ReportStore


def _now() -> datetime:
    return datetime.now(UTC)


def rules_of(settings: Settings) -> ReportRules:
    """The report rules the settings configure (``CVGUARD_REPORT_*``)."""
    return ReportRules(
        sla_urgent=timedelta(hours=settings.report_sla_urgent_h),
        sla_high=timedelta(hours=settings.report_sla_high_h),
        sla_normal=timedelta(hours=settings.report_sla_normal_h),
        promote_at=settings.report_promote_at,
        crowd_window=timedelta(hours=settings.report_crowd_window_h),
        ring=RingRule(
            created_within=timedelta(hours=settings.report_ring_created_within_h),
            reported_within=timedelta(minutes=settings.report_ring_reported_within_min),
            min_ring=settings.report_ring_min_size,
        ),
    )


class MarkedOrFlagged:
    """A person's key groups as marked (the pipeline's ``PeopleBook``, refreshed on use), plus
    ``minor`` when events flag them as a minor author: either makes a report about them a minor's."""

    def __init__(self, people: Callable[[], GroupsReader | None], flags: Callable[[], GroupsReader]) -> None:
        self._people = people
        self._flags = flags

    def groups_of(self, user_id: str) -> frozenset[str]:
        people = self._people()
        marked = people.groups_of(user_id) if people is not None else frozenset()
        return marked | self._flags().groups_of(user_id)


class ReportDesk:
    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = _now,
        groups: GroupsReader | None = None,
    ) -> None:
        self._url = settings.database_url
        self.rules = rules_of(settings)
        self.max_text = settings.report_max_text_chars
        self._clock = clock
        self._groups = groups
        self._store: ReportStore | None = None
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return self._clock()

    @property
    def clock(self) -> Callable[[], datetime]:
        return self._clock

    @clock.setter
    def clock(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock

    @property
    def store(self) -> ReportStore:
        if self._store is None:
            with self._lock:
                if self._store is None:
                    self._store = ReportStore.open(self._url, clock=self.now)  # follows a clock set later
        return self._store

    @property
    def groups(self) -> GroupsReader:
        return self._groups if self._groups is not None else EventMinorFlags(self.store)

    @groups.setter
    def groups(self, reader: GroupsReader | None) -> None:
        self._groups = reader

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None
