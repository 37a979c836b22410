"""MCNs in the store's database: organisations, members, the violations put on each, measures.

    mcns = McnStore.open(settings.database_url)
    mcns.put("m1", name="Star Media", contact="ops@example.com", members=["u1", "u2"], at=t)
    mcns.add_members([("m1", "u3", t)])              # seen on an event: only new pairs are written
    mcns.add_violations([("m1", McnViolation(...))])  # idempotent by (mcn, violation)
    mcns.reverse(["v1"], at=t)                        # marked reversed: counts corrected exactly
    mcns.add_measures([measure]); mcns.lift("m1:inciters-warning:1", at=t, by="cvguard", reason="...")

What it guarantees: a violation and a measure are written once (the first stays; a retried call
writes nothing twice); a reversal changes only rows still active; a lift changes only a measure
still active and records who and why. The platform's member list (``put`` with ``members``) is
the list: members it no longer names get ``left_at``; a member seen on an event is added only if
the pair is unknown (a member the platform took off stays off until it lists them again).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

from sqlalchemy import Connection, RowMapping, and_, func, select, update

from cvguard.enforcement.mcn import McnMeasure, McnViolation, Member
from cvguard.errors import InputError
from cvguard.store import models as m
from cvguard.store.base import StoreBase

__all__ = ["McnOverview", "McnStore", "Organisation"]

_CHUNK = 500
_VIOLATION_COLUMNS = ("mcn_id", "violation_id", "account_id", "roles", "at", "status", "reversed_at",
                      "recorded_at")


@dataclass(frozen=True, slots=True)
class Organisation:
    mcn_id: str
    name: str | None
    contact: str | None
    status: Literal["active", "closed"]
    updated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"mcn_id": self.mcn_id, "name": self.name, "contact": self.contact, "status": self.status,
                "updated_at": self.updated_at.isoformat()}


@dataclass(frozen=True, slots=True)
class McnOverview:
    """One MCN's counts for a list: members now, active violations and inciters since a time."""

    organisation: Organisation
    members: int
    violations: int
    members_with_violations: int
    inciters: int

    @property
    def violations_per_member(self) -> float:
        members = max(self.members, self.members_with_violations)
        return self.violations / members if members else 0.0


class McnStore(StoreBase):
    """MCNs (SQLite or PostgreSQL)."""

    _failure = "the MCN store failed"
    generation = 0  # bumped by each member list this instance writes (``put`` with ``members``)
    last_written: datetime | None = None  # the ``updated_at`` of this instance's latest ``add_members``

    # -- organisations and members --------------------------------------------------------------

    def put(
        self,
        mcn_id: str,
        *,
        name: str | None,
        contact: str | None,
        status: Literal["active", "closed"] = "active",
        members: Sequence[str] | None = None,
        at: datetime,
    ) -> Organisation:
        """Declare or update an organisation; ``members`` (when given) is its member list now."""
        now = self._clock()
        values = {"name": name, "contact": contact, "status": status, "updated_at": now}
        with self._tx() as c:
            stmt = self._insert(m.mcns).values(mcn_id=mcn_id, **values)
            c.execute(stmt.on_conflict_do_update(index_elements=["mcn_id"], set_=values))
            if members is not None:
                self._set_members(c, mcn_id, sorted(set(members)), at, now)
                self.generation += 1
            row = c.execute(select(m.mcns).where(m.mcns.c.mcn_id == mcn_id)).mappings().one()
        return _organisation(row)

    def _set_members(
        self, c: Connection, mcn_id: str, accounts: list[str], at: datetime, now: datetime
    ) -> None:
        t = m.mcn_members
        listed = set(accounts)
        rows = c.execute(select(t.c.account_id, t.c.left_at).where(t.c.mcn_id == mcn_id))
        known = {r.account_id: r for r in rows}
        gone = [a for a, r in known.items() if a not in listed and r.left_at is None]
        for i in range(0, len(gone), _CHUNK):
            c.execute(update(t).where(t.c.mcn_id == mcn_id, t.c.account_id.in_(gone[i : i + _CHUNK]))
                      .values(left_at=at, updated_at=now))
        back = [a for a in accounts if a in known]
        for i in range(0, len(back), _CHUNK):
            c.execute(update(t).where(t.c.mcn_id == mcn_id, t.c.account_id.in_(back[i : i + _CHUNK]))
                      .values(source="platform", left_at=None, updated_at=now))
        new = [{"mcn_id": mcn_id, "account_id": a, "since": at, "source": "platform", "left_at": None,
                "updated_at": now} for a in accounts if a not in known]
        for i in range(0, len(new), _CHUNK):
            c.execute(self._insert(t).on_conflict_do_nothing(), new[i : i + _CHUNK])

    def add_members(self, pairs: Sequence[tuple[str, str, datetime | None]], *, source: str = "event") -> int:
        """(mcn, account, since) pairs seen; unknown pairs are written (and unknown MCNs declared,
        nameless); how many pairs were new."""
        if source not in ("event", "platform"):
            raise InputError("a member's source is event or platform", field="source")
        if not pairs:
            return 0
        now = self.last_written = self._clock()
        first: dict[tuple[str, str], datetime | None] = {}
        for mcn_id, account_id, since in pairs:
            first.setdefault((mcn_id, account_id), since)
        rows = [{"mcn_id": k[0], "account_id": k[1], "since": s, "source": source, "left_at": None,
                 "updated_at": now} for k, s in first.items()]
        orgs = [{"mcn_id": i, "name": None, "contact": None, "status": "active", "updated_at": now}
                for i in sorted({k[0] for k in first})]
        t = m.mcn_members
        with self._tx() as c:
            for i in range(0, len(orgs), _CHUNK):
                c.execute(self._insert(m.mcns).on_conflict_do_nothing(), orgs[i : i + _CHUNK])
            accounts = sorted({k[1] for k in first})
            there: set[tuple[str, str]] = set()
            for i in range(0, len(accounts), _CHUNK):
                found = c.execute(select(t.c.mcn_id, t.c.account_id).where(
                    t.c.account_id.in_(accounts[i : i + _CHUNK])))
                there.update((r[0], r[1]) for r in found)
            fresh = [r for r in rows if (r["mcn_id"], r["account_id"]) not in there]
            for i in range(0, len(fresh), _CHUNK):
                c.execute(self._insert(t).on_conflict_do_nothing(), fresh[i : i + _CHUNK])
        return len(fresh)

    def current_members(self, *, limit: int) -> dict[str, str] | None:
        """Every account's MCN now (as :meth:`mcns_of` gives it), or None when there are more than
        ``limit`` current memberships."""
        t = m.mcn_members
        out: dict[str, str] = {}
        with self._tx() as c:
            rows = c.execute(select(t.c.account_id, t.c.mcn_id).where(t.c.left_at.is_(None))
                             .order_by(t.c.mcn_id).limit(limit + 1)).all()
        if len(rows) > limit:
            return None
        for account_id, mcn_id in rows:
            out.setdefault(account_id, mcn_id)
        return out

    def members_stamp(self) -> datetime | None:
        """The newest ``updated_at`` among memberships (indexed): it moves with every membership
        written, by any process (what a cache of memberships polls)."""
        with self._tx() as c:
            return c.execute(select(func.max(m.mcn_members.c.updated_at))).scalar()

    def get(self, mcn_id: str) -> Organisation | None:
        with self._tx() as c:
            row = c.execute(select(m.mcns).where(m.mcns.c.mcn_id == mcn_id)).mappings().first()
        return None if row is None else _organisation(row)

    def members(self, mcn_id: str) -> list[Member]:
        t = m.mcn_members
        with self._tx() as c:
            rows = c.execute(select(t.c.account_id, t.c.since, t.c.source, t.c.left_at)
                             .where(t.c.mcn_id == mcn_id).order_by(t.c.account_id))
            return [Member(*r) for r in rows]

    def roster(self, mcn_id: str) -> list[Member]:
        """The members as counting needs them (``since`` left out: reading fewer times is faster)."""
        with self._tx() as c:
            return _roster(c, mcn_id)

    def assessing(
        self, mcn_id: str, *, since: datetime
    ) -> tuple[list[Member], list[McnViolation], list[McnMeasure]]:
        """What assessing the MCN reads, in one transaction: :meth:`roster`, :meth:`violations`
        after ``since`` and :meth:`measures`."""
        with self._tx() as c:
            return _roster(c, mcn_id), _violations(c, mcn_id, since), _measures(c, mcn_id)

    def mcns_of(self, account_ids: Sequence[str]) -> dict[str, str]:
        """Each account's MCN now (a member who has not left; with several, the first by id)."""
        t = m.mcn_members
        out: dict[str, str] = {}
        ids = sorted(set(account_ids))
        with self._tx() as c:
            for i in range(0, len(ids), _CHUNK):
                rows = c.execute(
                    select(t.c.account_id, t.c.mcn_id)
                    .where(t.c.account_id.in_(ids[i : i + _CHUNK]), t.c.left_at.is_(None))
                    .order_by(t.c.mcn_id)
                )
                for account_id, mcn_id in rows:
                    out.setdefault(account_id, mcn_id)
        return out

    # -- violations -----------------------------------------------------------------------------

    def add_violations(self, rows: Sequence[tuple[str, McnViolation]]) -> list[tuple[str, str]]:
        """Put violations on MCNs; the (mcn, violation) pairs that were new."""
        if not rows:
            return []
        now = self._clock()
        t = m.mcn_violations
        b = self._bulk
        stamp = b.time(now)
        values = {
            (mcn_id, v.violation_id): (mcn_id, v.violation_id, v.account_id, b.labels(tuple(v.roles)),
                                       b.time(v.at), v.status, None, stamp)
            for mcn_id, v in rows
        }
        with self._tx() as c:  # one statement a chunk; the pairs written come back
            written = {(str(x), str(y)) for x, y in b.insert_returning(
                c, t, _VIOLATION_COLUMNS, list(values.values()), unique=("mcn_id", "violation_id"),
                returning=("mcn_id", "violation_id"))}
            orgs = [{"mcn_id": i, "name": None, "contact": None, "status": "active", "updated_at": now}
                    for i in sorted({k[0] for k in values})]
            c.execute(self._insert(m.mcns).on_conflict_do_nothing(), orgs)
        return [k for k in values if k in written]

    def reverse(self, violation_ids: Sequence[str], *, at: datetime) -> list[str]:
        """Mark these violations reversed wherever they were put; the MCNs whose counts changed."""
        t = m.mcn_violations
        ids = sorted(set(violation_ids))
        changed: set[str] = set()
        with self._tx() as c:
            for i in range(0, len(ids), _CHUNK):
                where = and_(t.c.violation_id.in_(ids[i : i + _CHUNK]), t.c.status == "active")
                changed.update(r[0] for r in c.execute(select(t.c.mcn_id).where(where)))
                c.execute(update(t).where(where).values(status="reversed", reversed_at=at))
        return sorted(changed)

    def mcns_with(self, violation_ids: Sequence[str]) -> list[str]:
        """The MCNs these violations were put on (whatever their status)."""
        t = m.mcn_violations
        ids = sorted(set(violation_ids))
        found: set[str] = set()
        with self._tx() as c:
            for i in range(0, len(ids), _CHUNK):
                found.update(r[0] for r in c.execute(
                    select(t.c.mcn_id).where(t.c.violation_id.in_(ids[i : i + _CHUNK]))))
        return sorted(found)

    def violations(self, mcn_id: str, *, since: datetime | None = None) -> list[McnViolation]:
        """The violations put on the MCN (reversed ones too), oldest first; ``since``: dated after."""
        with self._tx() as c:
            return _violations(c, mcn_id, since)

    def overview(self, *, since: datetime) -> list[McnOverview]:
        """Every MCN with its members now and active violations dated after ``since``."""
        mem, vio = m.mcn_members, m.mcn_violations
        with self._tx() as c:
            orgs = [_organisation(r) for r in c.execute(select(m.mcns).order_by(m.mcns.c.mcn_id)).mappings()]
            members: dict[str, int] = {
                str(r[0]): int(r[1]) for r in c.execute(
                    select(mem.c.mcn_id, func.count()).where(mem.c.left_at.is_(None)).group_by(mem.c.mcn_id))
            }
            counted = c.execute(
                select(vio.c.mcn_id, vio.c.account_id, vio.c.roles)
                .where(vio.c.status == "active", vio.c.at > since)
            ).all()
        violations: dict[str, int] = {}
        violators: dict[str, set[str]] = {}
        inciters: dict[str, set[str]] = {}
        for mcn_id, account_id, roles in counted:
            violations[mcn_id] = violations.get(mcn_id, 0) + 1
            violators.setdefault(mcn_id, set()).add(account_id)
            if "initiator" in (roles or ()):
                inciters.setdefault(mcn_id, set()).add(account_id)
        return [
            McnOverview(o, int(members.get(o.mcn_id, 0)), violations.get(o.mcn_id, 0),
                        len(violators.get(o.mcn_id, ())), len(inciters.get(o.mcn_id, ())))
            for o in orgs
        ]

    # -- measures -------------------------------------------------------------------------------

    def add_measures(self, measures: Sequence[McnMeasure]) -> list[McnMeasure]:
        """Write measures; the ones that were new (an id already there keeps the first)."""
        now = self._clock()
        t = m.mcn_measures
        new: list[McnMeasure] = []
        with self._tx() as c:
            for x in measures:
                stmt = self._insert(t).values(
                    measure_id=x.measure_id, mcn_id=x.mcn_id, kind=x.kind, starts_at=x.starts_at,
                    expires_at=x.expires_at, reason=x.reason, statement=dict(x.statement),
                    decided_by=x.decided_by, threshold_id=x.threshold_id,
                    violation_ids=list(x.violation_ids), accounts=list(x.accounts), status=x.status,
                    lifted_at=x.lifted_at, lifted_by=x.lifted_by, lift_reason=x.lift_reason, updated_at=now,
                ).on_conflict_do_nothing(index_elements=[t.c.measure_id])
                if c.execute(stmt).rowcount:
                    new.append(x)
        return new

    def lift(self, measure_id: str, *, at: datetime, by: str, reason: str) -> McnMeasure | None:
        """Lift a measure still active; the measure as lifted, or None (unknown, or not active)."""
        t = m.mcn_measures
        with self._tx() as c:
            done = c.execute(
                update(t).where(t.c.measure_id == measure_id, t.c.status == "active")
                .values(status="lifted", lifted_at=at, lifted_by=by, lift_reason=reason,
                        updated_at=self._clock())
            ).rowcount
            if not done:
                return None
            row = c.execute(select(t).where(t.c.measure_id == measure_id)).mappings().one()
        return _measure(row)

    def measure(self, measure_id: str) -> McnMeasure | None:
        t = m.mcn_measures
        with self._tx() as c:
            row = c.execute(select(t).where(t.c.measure_id == measure_id)).mappings().first()
        return None if row is None else _measure(row)

    def measures(self, mcn_id: str) -> list[McnMeasure]:
        """The MCN's measures, oldest first (every state)."""
        with self._tx() as c:
            return _measures(c, mcn_id)


def _roster(c: Connection, mcn_id: str) -> list[Member]:
    t = m.mcn_members
    rows = c.execute(select(t.c.account_id, t.c.source, t.c.left_at).where(t.c.mcn_id == mcn_id))
    return [Member(a, None, source, left) for a, source, left in rows]


def _violations(c: Connection, mcn_id: str, since: datetime | None) -> list[McnViolation]:
    t = m.mcn_violations
    stmt = select(t).where(t.c.mcn_id == mcn_id)
    if since is not None:
        stmt = stmt.where(t.c.at > since)
    rows = c.execute(stmt.order_by(t.c.at, t.c.violation_id)).mappings()
    return [McnViolation(r["violation_id"], r["account_id"], tuple(r["roles"]), r["at"], r["status"])
            for r in rows]


def _measures(c: Connection, mcn_id: str) -> list[McnMeasure]:
    t = m.mcn_measures
    rows = c.execute(select(t).where(t.c.mcn_id == mcn_id).order_by(t.c.starts_at, t.c.measure_id))
    return [_measure(r) for r in rows.mappings()]


def _organisation(row: RowMapping) -> Organisation:
    return Organisation(row["mcn_id"], row["name"], row["contact"], row["status"], row["updated_at"])


def _measure(row: RowMapping) -> McnMeasure:
    return McnMeasure(
        measure_id=row["measure_id"], mcn_id=row["mcn_id"], kind=row["kind"], starts_at=row["starts_at"],
        expires_at=row["expires_at"], reason=row["reason"], statement=dict(row["statement"] or {}),
        decided_by=row["decided_by"], threshold_id=row["threshold_id"],
        violation_ids=tuple(row["violation_ids"] or ()), accounts=tuple(row["accounts"] or ()),
        status=cast(Literal["active", "lifted"], row["status"]), lifted_at=row["lifted_at"],
        lifted_by=row["lifted_by"], lift_reason=row["lift_reason"],
    )
