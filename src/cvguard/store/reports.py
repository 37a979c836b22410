"""Reports people file, kept for the staff queue: priority, SLA, crowd and ring, decisions, history.

    reports = ReportStore.open(settings.database_url)
    filed = reports.file(NewReport(...), rules=rules, minor=False, priority_reasons=...)
    reports.queue(now=..., limit=50)                 # priority, then due time (keyset pages)
    reports.decide(report_id, outcome="upheld", note="...", actor="alice (k1)")

What it guarantees:

- **One transaction a change.** Filing writes the report, its ``filed`` history entry and the
  crowd against the reported account (every report against it in ``rules.crowd_window``
  re-assessed: one ``report_crowds`` row with the reporters, independent reporters and suspected
  rings; the priority each pending report gets from it, and its ``due_at``) at once; a priority that
  moves is recorded in that report's history (actor ``cvguard``).
  Reports against one account are filed one at a time (a PostgreSQL advisory lock on the account;
  SQLite's single writer), so each assessment sees every report filed before it.
- **Idempotent filing.** A ``client_key`` the reporter used before returns that report.
- **Decisions are recorded** with actor, wall-clock time and note, in ``report_history``; the
  first decision stays in ``first_decided_at`` (response figures), later ones replace the current
  outcome and count up ``decision_no``. The same decision again (outcome and note) changes nothing.
- A person's assessment beats the crowd's: a decided report keeps its priority and due time.
- **SLA** runs from ``sla_from``: the filing, or the reporter's answer to ``needs_more_info``
  (``add_info``), which opens the report again.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from sqlalchemy import Connection, Engine, RowMapping, and_, func, insert, or_, select, text, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from cvguard.errors import InputError
from cvguard.reports.priority import Priority, ReportRules, Timing, queue_priority
from cvguard.reports.rings import CrowdAssessment, ReporterFacts, assess_crowd
from cvguard.store import models as m
from cvguard.store.base import StoreBase, _db_text, _utcnow

__all__ = [
    "FINAL",
    "PENDING",
    "EventMinorFlags",
    "HistoryEntry",
    "NewReport",
    "Outcome",
    "ReportStatus",
    "ReportStore",
    "StoredReport",
]

ReportStatus = Literal["open", "assigned", "needs_more_info", "upheld", "rejected"]
STATUSES: tuple[ReportStatus, ...] = get_args(ReportStatus)
Outcome = Literal["upheld", "rejected", "needs_more_info"]
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)
PENDING: frozenset[str] = frozenset({"open", "assigned", "needs_more_info"})  # still in the queue
FINAL: frozenset[str] = frozenset({"upheld", "rejected"})
_RUNNING: frozenset[str] = frozenset({"open", "assigned"})  # the SLA clock runs (not waiting on the reporter)
AUTOMATIC = "cvguard"  # the actor of what the crowd assessment changes
MAX_CROWD = 500  # reports against one account assessed together (the newest): bounds a filing's cost
MAX_PAGE = 500
_ACCOUNT_LOCK = 0x63767270  # "cvrp": advisory lock space of reports against one account


@dataclass(frozen=True, slots=True)
class NewReport:
    """A report as filed (validated by the API): who, about what, with what evidence."""

    reporter_id: str
    category: str
    account_id: str | None = None
    event_ids: tuple[str, ...] = ()
    evidence_event_ids: tuple[str, ...] = ()
    evidence_case_ids: tuple[str, ...] = ()
    text: str | None = None
    reporter_created_at: datetime | None = None
    reporter_follows: tuple[str, ...] = ()
    client_key: str | None = None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    at: datetime
    actor: str
    action: str
    previous_status: str | None
    status: str
    outcome: str | None
    note: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "previous_status": self.previous_status,
            "status": self.status,
            "outcome": self.outcome,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class StoredReport:
    report_id: str
    reporter_id: str
    client_key: str | None
    category: str
    account_id: str | None
    event_ids: tuple[str, ...]
    evidence_event_ids: tuple[str, ...]
    evidence_case_ids: tuple[str, ...]
    text: str | None
    minor: bool
    base_priority: Priority
    priority: Priority
    priority_reasons: tuple[str, ...]
    sla_from: datetime
    due_at: datetime
    status: ReportStatus
    assigned_to: str | None
    outcome: str | None
    decision_no: int
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None
    reply: str | None  # the decision's message to the reporter
    first_action_at: datetime | None
    first_decided_at: datetime | None
    reporters: int  # the crowd against the account, as last assessed (1 without an account)
    independent_reporters: int
    ring: dict[str, Any] | None  # the suspected ring this reporter is in
    filed_at: datetime
    updated_at: datetime
    history: tuple[HistoryEntry, ...] = field(default=())

    def overdue(self, now: datetime) -> bool:
        """Past its due time while still waiting for staff (not while waiting on the reporter)."""
        return self.status in _RUNNING and now > self.due_at


class ReportStore(StoreBase):
    """Reports in the store's database (SQLite or PostgreSQL)."""

    _failure = "the report store failed"

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = _utcnow) -> None:
        super().__init__(engine, clock=clock)

    @property
    def clock(self) -> Callable[[], datetime]:
        return self._clock

    # -- filing --------------------------------------------------------------------------------

    def file(
        self,
        report: NewReport,
        *,
        rules: ReportRules,
        base_priority: Priority,
        priority_reasons: Sequence[str],
        minor: bool,
    ) -> StoredReport:
        """Store ``report`` and re-assess the crowd against its account; the report as stored (the
        earlier one when its ``client_key`` was used before by the same reporter)."""
        if report.client_key is not None:
            known = self._by_client_key(report.reporter_id, report.client_key)
            if known is not None:
                return known
        now = self._clock()
        report_id = f"rep_{secrets.token_hex(10)}"
        try:
            with self._engine.begin() as c:
                if report.account_id is not None:
                    self._lock_account(c, report.account_id)
                c.execute(
                    insert(m.reports).values(
                        report_id=report_id,
                        reporter_id=report.reporter_id,
                        client_key=report.client_key,
                        category=report.category,
                        account_id=report.account_id,
                        event_ids=list(report.event_ids),
                        evidence_event_ids=list(report.evidence_event_ids),
                        evidence_case_ids=list(report.evidence_case_ids),
                        text=_db_text(report.text) if report.text is not None else None,
                        reporter_created_at=report.reporter_created_at,
                        reporter_follows=sorted(set(report.reporter_follows)),
                        minor=minor,
                        base_priority=int(base_priority),
                        priority=int(base_priority),
                        priority_reasons=list(priority_reasons),
                        sla_from=now,
                        due_at=rules.due(now, base_priority),
                        status="open",
                        decision_no=0,
                        filed_at=now,
                        updated_at=now,
                    )
                )
                self._history(c, report_id, now, report.reporter_id, "filed", None, "open", None, None)
                if report.account_id is not None:
                    self._reassess(c, report.account_id, now, rules, filed=report_id)
        except IntegrityError as exc:  # the same client_key filed at the same moment
            known = self._by_client_key(report.reporter_id, report.client_key) if report.client_key else None
            if known is None:
                raise self._error(exc) from exc
            return known
        except SQLAlchemyError as exc:
            raise self._error(exc) from exc
        found = self.get(report_id)
        assert found is not None
        return found

    def _lock_account(self, c: Connection, account_id: str) -> None:
        if self._engine.dialect.name == "postgresql":
            digest = hashlib.sha256(account_id.encode("utf-8")).digest()
            key = int.from_bytes(digest[:4], "big", signed=True)
            c.execute(
                text("SELECT pg_advisory_xact_lock(:space, :key)"), {"space": _ACCOUNT_LOCK, "key": key}
            )

    def _by_client_key(self, reporter_id: str, client_key: str) -> StoredReport | None:
        with self._tx() as c:
            row = c.execute(
                select(m.reports.c.report_id).where(
                    m.reports.c.reporter_id == reporter_id, m.reports.c.client_key == client_key
                )
            ).first()
        return self.get(row[0]) if row is not None else None

    def _history(
        self,
        c: Connection,
        report_id: str,
        at: datetime,
        actor: str,
        action: str,
        previous: str | None,
        status: str,
        outcome: str | None,
        note: str | None,
    ) -> None:
        c.execute(
            insert(m.report_history).values(
                report_id=report_id,
                at=at,
                actor=actor[: m.ACTOR],
                action=action,
                previous_status=previous,
                status=status,
                outcome=outcome,
                note=_db_text(note) if note is not None else None,
            )
        )

    def _reassess(
        self, c: Connection, account_id: str, now: datetime, rules: ReportRules, *, filed: str
    ) -> None:
        r = m.reports.c
        rows = list(
            c.execute(
                select(
                    r.report_id,
                    r.reporter_id,
                    r.reporter_created_at,
                    r.reporter_follows,
                    r.filed_at,
                    r.sla_from,
                    r.status,
                    r.base_priority,
                    r.priority,
                    r.priority_reasons,
                    r.due_at,
                )
                .where(r.account_id == account_id, r.filed_at >= now - rules.crowd_window)
                .order_by(r.filed_at.desc(), r.report_id)
                .limit(MAX_CROWD)
            ).mappings()
        )
        crowd = assess_crowd(_reporter_facts(c, rows), rules.ring)
        # one row per account, whatever the size of the crowd
        values = {
            "reporters": crowd.reporters,
            "independent_reporters": crowd.independent_reporters,
            "rings": [ring.to_dict() for ring in crowd.rings],
            "assessed_at": now,
        }
        c.execute(
            self._insert(m.report_crowds)
            .values(account_id=account_id, **values)
            .on_conflict_do_update(index_elements=["account_id"], set_=values)
        )
        for row in rows:
            if row["status"] in PENDING:  # a decided report keeps what it was decided under
                self._reprioritise(c, row, crowd, rules, now, filed=filed)

    def _reprioritise(
        self,
        c: Connection,
        row: RowMapping,
        crowd: CrowdAssessment,
        rules: ReportRules,
        now: datetime,
        *,
        filed: str,
    ) -> None:
        """The report's priority, reasons and due time under this crowd; a change is recorded."""
        base = Priority(row["base_priority"])
        reasons = [x for x in row["priority_reasons"] if not x.startswith(_CROWD_REASON)]
        priority, why = queue_priority(base, crowd.independent_reporters, rules.promote_at)
        if why is not None:
            reasons.append(f"{_CROWD_REASON}{why}")
        values: dict[str, Any] = {
            "priority": int(priority),
            "priority_reasons": reasons,
            "due_at": rules.due(row["sla_from"], priority),
        }
        changed = {k: v for k, v in values.items() if row[k] != v}
        if not changed:
            return
        c.execute(update(m.reports).where(m.reports.c.report_id == row["report_id"]).values(**changed))
        if "priority" in changed and row["report_id"] != filed:
            note = (
                f"priority {Priority(row['priority']).label} -> {priority.label}: "
                f"{crowd.independent_reporters} independent of {crowd.reporters} reporters of the account"
            )
            self._history(
                c, row["report_id"], now, AUTOMATIC, "reprioritised", row["status"], row["status"], None, note
            )

    # -- reading -------------------------------------------------------------------------------

    def get(self, report_id: str, *, history: bool = True) -> StoredReport | None:
        with self._tx() as c:
            row = c.execute(select(m.reports).where(m.reports.c.report_id == report_id)).mappings().first()
            if row is None:
                return None
            entries = self._entries(c, report_id) if history else ()
            crowds = _crowds(c, [row])
        return _report(row, entries, crowds)

    @staticmethod
    def _entries(c: Connection, report_id: str) -> tuple[HistoryEntry, ...]:
        h = m.report_history.c
        rows = c.execute(
            select(m.report_history).where(h.report_id == report_id).order_by(h.entry_id)
        ).mappings()
        return tuple(
            HistoryEntry(
                at=x["at"],
                actor=x["actor"],
                action=x["action"],
                previous_status=x["previous_status"],
                status=x["status"],
                outcome=x["outcome"],
                note=x["note"],
            )
            for x in rows
        )

    def for_reporter(
        self, reporter_id: str, *, after: tuple[datetime, str] | None = None, limit: int = 50
    ) -> list[StoredReport]:
        """The reports ``reporter_id`` filed, newest first (keyset on filing time and id)."""
        _check_limit(limit)
        r = m.reports.c
        query = select(m.reports).where(r.reporter_id == reporter_id)
        if after is not None:
            at, report_id = after
            query = query.where(or_(r.filed_at < at, and_(r.filed_at == at, r.report_id > report_id)))
        query = query.order_by(r.filed_at.desc(), r.report_id).limit(limit)
        with self._tx() as c:
            return _reports(c, list(c.execute(query).mappings()))

    def queue(
        self,
        *,
        now: datetime,
        statuses: Iterable[str] | None = None,
        overdue: bool | None = None,
        category: str | None = None,
        after: tuple[int, datetime, str] | None = None,
        limit: int = 50,
    ) -> list[StoredReport]:
        """Reports by priority, then due time, then id (keyset ``after``); by default those still
        pending (open, assigned, needs_more_info). ``overdue``: only those past due (True) or not."""
        _check_limit(limit)
        r = m.reports.c
        wanted = sorted(set(statuses) if statuses is not None else PENDING)
        query = select(m.reports).where(r.status.in_(wanted))
        if category is not None:
            query = query.where(r.category == category)
        if overdue is True:
            query = query.where(r.status.in_(sorted(_RUNNING)), r.due_at < now)
        elif overdue is False:
            query = query.where(or_(r.status.not_in(sorted(_RUNNING)), r.due_at >= now))
        if after is not None:
            # spelled out (not a row-value comparison) so each value binds as its column's type
            p, due, report_id = after
            query = query.where(
                or_(
                    r.priority > p,
                    and_(
                        r.priority == p, or_(r.due_at > due, and_(r.due_at == due, r.report_id > report_id))
                    ),
                )
            )
        query = query.order_by(r.priority, r.due_at, r.report_id).limit(limit)
        with self._tx() as c:
            return _reports(c, list(c.execute(query).mappings()))

    def timings(self, *, since: datetime) -> list[Timing]:
        """The times of every report filed since ``since``, for ``reports.response_figures``."""
        r = m.reports.c
        with self._tx() as c:
            rows = c.execute(
                select(r.priority, r.filed_at, r.first_action_at, r.first_decided_at).where(
                    r.filed_at >= since
                )
            )
            return [Timing(Priority(p), f, a, d) for p, f, a, d in rows]

    def overdue_counts(self, now: datetime) -> dict[Priority, int]:
        """How many reports are past due now, per priority."""
        r = m.reports.c
        with self._tx() as c:
            rows = c.execute(
                select(r.priority, func.count())
                .where(r.status.in_(sorted(_RUNNING)), r.due_at < now)
                .group_by(r.priority)
            )
            found = {Priority(p): int(n) for p, n in rows}
        return {p: found.get(p, 0) for p in Priority}

    # -- staff ---------------------------------------------------------------------------------

    def assign(self, report_id: str, *, assignee: str, actor: str) -> StoredReport | None:
        """Give ``report_id`` to ``assignee`` (an open report becomes assigned); None when unknown."""
        now = self._clock()
        with self._tx() as c:
            row = self._claim(c, report_id, now)
            if row is None:
                return None
            status = "assigned" if row["status"] == "open" else row["status"]
            c.execute(
                update(m.reports)
                .where(m.reports.c.report_id == report_id)
                .values(
                    assigned_to=assignee[: m.ACTOR],
                    status=status,
                    first_action_at=row["first_action_at"] or now,
                )
            )
            self._history(c, report_id, now, actor, "assigned", row["status"], status, None, f"to {assignee}")
        return self.get(report_id)

    def decide(
        self, report_id: str, *, outcome: str, note: str | None, actor: str, reply: str | None = None
    ) -> tuple[StoredReport, bool] | None:
        """Record ``outcome`` (upheld, rejected, needs_more_info) with ``note`` (for staff) and
        ``reply`` (for the reporter: what is asked, or why); the report and whether this was a new
        decision (False: the same outcome, note and reply as the current one). None when there is
        no such report."""
        if outcome not in OUTCOMES:
            raise InputError(f"outcome must be one of {', '.join(OUTCOMES)}", field="outcome")
        now = self._clock()
        note = _db_text(note) if note is not None else None
        reply = _db_text(reply) if reply is not None else None
        with self._tx() as c:
            row = self._claim(c, report_id, now)
            if row is None:
                return None
            fresh = (row["outcome"], row["decision_note"], row["reply"]) != (outcome, note, reply)
            if fresh:
                c.execute(
                    update(m.reports)
                    .where(m.reports.c.report_id == report_id)
                    .values(
                        status=outcome,
                        outcome=outcome,
                        decision_no=row["decision_no"] + 1,
                        decided_by=actor[: m.ACTOR],
                        decided_at=now,
                        decision_note=note,
                        reply=reply,
                        first_action_at=row["first_action_at"] or now,
                        first_decided_at=row["first_decided_at"] or (now if outcome in FINAL else None),
                    )
                )
                self._history(c, report_id, now, actor, "decided", row["status"], outcome, outcome, note)
        found = self.get(report_id)
        assert found is not None
        return found, fresh

    def add_info(
        self,
        report_id: str,
        *,
        text: str | None,
        evidence_event_ids: Sequence[str] = (),
        evidence_case_ids: Sequence[str] = (),
        rules: ReportRules,
    ) -> StoredReport | None:
        """The reporter answers ``needs_more_info``: the evidence is added, the text kept in the
        history entry, and the report is open again with its SLA counted from now. InputError
        when the report is not waiting for information; None when there is no such report."""
        now = self._clock()
        with self._tx() as c:
            row = self._claim(c, report_id, now)
            if row is None:
                return None
            if row["status"] != "needs_more_info":
                raise InputError(f"report {report_id} is {row['status']}: it is not waiting for information")
            events = list(dict.fromkeys([*row["evidence_event_ids"], *evidence_event_ids]))
            cases = list(dict.fromkeys([*row["evidence_case_ids"], *evidence_case_ids]))
            c.execute(
                update(m.reports)
                .where(m.reports.c.report_id == report_id)
                .values(
                    status="open",
                    evidence_event_ids=events,
                    evidence_case_ids=cases,
                    sla_from=now,
                    due_at=rules.due(now, Priority(row["priority"])),
                )
            )
            note = _db_text(text) if text is not None else None
            self._history(
                c, report_id, now, row["reporter_id"], "info_added", row["status"], "open", None, note
            )
        return self.get(report_id)

    def _claim(self, c: Connection, report_id: str, now: datetime) -> RowMapping | None:
        """Lock the report's row for this transaction (an UPDATE first: SQLite's write lock and
        PostgreSQL's row lock), then read it."""
        touched = c.execute(
            update(m.reports).where(m.reports.c.report_id == report_id).values(updated_at=now)
        ).rowcount
        if not touched:
            return None
        return c.execute(select(m.reports).where(m.reports.c.report_id == report_id)).mappings().first()

    # -- what the events table knows --------------------------------------------------------------

    def event_people(self, event_ids: Sequence[str]) -> tuple[dict[str, str], set[str]]:
        """Of the stored ``event_ids``: each one's author, and everyone they are aimed at."""
        if not event_ids:
            return {}, set()
        with self._tx() as c:
            authors = {
                e: a
                for e, a in c.execute(
                    select(m.events.c.event_id, m.events.c.author_id).where(
                        m.events.c.event_id.in_(list(event_ids))
                    )
                )
            }
            targets = {
                t
                for (t,) in c.execute(
                    select(m.event_targets.c.target_id).where(m.event_targets.c.event_id.in_(list(event_ids)))
                )
            }
        return authors, targets

    def minor_authors(self, user_ids: Iterable[str]) -> set[str]:
        """Which of ``user_ids`` authored an event flagged ``author.minor``."""
        wanted = sorted(set(user_ids))
        if not wanted:
            return set()
        e = m.events.c
        with self._tx() as c:
            rows = c.execute(
                select(e.author_id).where(e.author_id.in_(wanted), e.author_minor.is_(True)).distinct()
            )
            return {a for (a,) in rows}


_CROWD_REASON = "crowd: "


class EventMinorFlags:
    """A ``GroupsReader`` from what events say of their authors: ``minor`` for anyone who wrote an
    event flagged ``author.minor``. The stand-in until key groups are wired."""

    def __init__(self, store: ReportStore) -> None:
        self._store = store

    def groups_of(self, user_id: str) -> frozenset[str]:
        return frozenset({"minor"}) if self._store.minor_authors([user_id]) else frozenset()


def _reporter_facts(c: Connection, rows: Sequence[RowMapping]) -> list[ReporterFacts]:
    """One ``ReporterFacts`` per reporter: first report time, creation time (the report's facts,
    else the events they wrote), whom they follow (the reports' facts and the events' hints)."""
    first: dict[str, datetime] = {}
    created: dict[str, datetime] = {}
    follows: dict[str, set[str]] = {}
    for row in rows:
        who = row["reporter_id"]
        if who not in first or row["filed_at"] < first[who]:
            first[who] = row["filed_at"]
        if row["reporter_created_at"] is not None:
            created.setdefault(who, row["reporter_created_at"])
        follows.setdefault(who, set()).update(row["reporter_follows"] or ())
    people = sorted(first)
    e, t = m.events.c, m.event_targets.c
    for i in range(0, len(people), 500):
        chunk = people[i : i + 500]
        unknown = [p for p in chunk if p not in created]
        if unknown:
            for author, at in c.execute(
                select(e.author_id, func.min(e.author_created_at))
                .where(e.author_id.in_(unknown), e.author_created_at.is_not(None))
                .group_by(e.author_id)
            ):
                if at is not None:
                    created[author] = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
        hints = c.execute(
            select(e.author_id, t.target_id, e.author_follows_target, e.target_follows_author)
            .select_from(m.events.join(m.event_targets, t.event_id == e.event_id))
            .where(e.author_id.in_(chunk), t.target_id.in_(people))
        )
        for author, target, author_follows, target_follows in hints:
            if author_follows:
                follows.setdefault(author, set()).add(target)
            if target_follows:
                follows.setdefault(target, set()).add(author)
    return [
        ReporterFacts(
            reporter_id=p,
            reported_at=first[p],
            created_at=created.get(p),
            follows=frozenset(follows.get(p, ())),
        )
        for p in people
    ]


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE + 1:
        raise InputError(f"limit must be 1 to {MAX_PAGE}", field="limit")


def _crowds(c: Connection, rows: Sequence[RowMapping]) -> dict[str, RowMapping]:
    """The crowd rows of the accounts ``rows`` report."""
    accounts = sorted({r["account_id"] for r in rows if r["account_id"] is not None})
    found: dict[str, RowMapping] = {}
    for i in range(0, len(accounts), 500):
        chunk = accounts[i : i + 500]
        query = select(m.report_crowds).where(m.report_crowds.c.account_id.in_(chunk))
        found.update((x["account_id"], x) for x in c.execute(query).mappings())
    return found


def _reports(c: Connection, rows: Sequence[RowMapping]) -> list[StoredReport]:
    crowds = _crowds(c, rows)
    return [_report(x, (), crowds) for x in rows]


def _report(
    row: RowMapping, history: tuple[HistoryEntry, ...], crowds: dict[str, RowMapping]
) -> StoredReport:
    crowd = crowds.get(row["account_id"]) if row["account_id"] is not None else None
    ring = None
    if crowd is not None:
        ring = next((x for x in crowd["rings"] if row["reporter_id"] in x["members"]), None)
    return StoredReport(
        report_id=row["report_id"],
        reporter_id=row["reporter_id"],
        client_key=row["client_key"],
        category=row["category"],
        account_id=row["account_id"],
        event_ids=tuple(row["event_ids"] or ()),
        evidence_event_ids=tuple(row["evidence_event_ids"] or ()),
        evidence_case_ids=tuple(row["evidence_case_ids"] or ()),
        text=row["text"],
        minor=bool(row["minor"]),
        base_priority=Priority(row["base_priority"]),
        priority=Priority(row["priority"]),
        priority_reasons=tuple(row["priority_reasons"] or ()),
        sla_from=row["sla_from"],
        due_at=row["due_at"],
        status=row["status"],
        assigned_to=row["assigned_to"],
        outcome=row["outcome"],
        decision_no=int(row["decision_no"]),
        decided_by=row["decided_by"],
        decided_at=row["decided_at"],
        decision_note=row["decision_note"],
        reply=row["reply"],
        first_action_at=row["first_action_at"],
        first_decided_at=row["first_decided_at"],
        reporters=int(crowd["reporters"]) if crowd is not None else 1,
        independent_reporters=int(crowd["independent_reporters"]) if crowd is not None else 1,
        ring=ring,
        filed_at=row["filed_at"],
        updated_at=row["updated_at"],
        history=history,
    )


# -- cursors ---------------------------------------------------------------------------------------


def _bad_cursor() -> InputError:
    return InputError("cursor is not one this API returned: pass next_cursor back unchanged", field="cursor")


def encode_cursor(parts: Sequence[object]) -> str:
    raw = json.dumps([p.isoformat() if isinstance(p, datetime) else p for p in parts], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii").rstrip("=")


def _decode(cursor: str, size: int) -> list[Any]:
    try:
        parts = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(parts, list) or len(parts) != size:
            raise ValueError("not a cursor")
        return parts
    except (ValueError, TypeError, binascii.Error, RecursionError) as exc:
        raise _bad_cursor() from exc


def _time(value: object) -> datetime:
    if not isinstance(value, str):
        raise _bad_cursor()
    try:
        at = datetime.fromisoformat(value)
    except ValueError as exc:
        raise _bad_cursor() from exc
    if at.tzinfo is None:
        raise _bad_cursor()
    return at.astimezone(UTC)


def _id(value: object) -> str:
    if not isinstance(value, str) or "\x00" in value or len(value) > m.REPORT_ID:
        raise _bad_cursor()
    return value


def queue_cursor(report: StoredReport) -> str:
    return encode_cursor([int(report.priority), report.due_at, report.report_id])


def decode_queue_cursor(cursor: str) -> tuple[int, datetime, str]:
    priority, due, report_id = _decode(cursor, 3)
    if not isinstance(priority, int) or isinstance(priority, bool) or not 1 <= priority <= 3:
        raise _bad_cursor()
    return priority, _time(due), _id(report_id)


def reporter_cursor(report: StoredReport) -> str:
    return encode_cursor([report.filed_at, report.report_id])


def decode_reporter_cursor(cursor: str) -> tuple[datetime, str]:
    filed, report_id = _decode(cursor, 2)
    return _time(filed), _id(report_id)
