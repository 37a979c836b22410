"""The action feed: what the platform should do to content already published, durable and in order.

An alert changes what should happen to things published before it (a pile-on confirmed: fold the
stranger replies to its target from the last hour; a topic turned violent: lock it; the alert
resolved: undo all of that). ``policy.feed`` plans those actions; this module keeps them, each
under a sequence number the platform reads after (its cursor), and each with an idempotency key:
appending a key that is already there is a no-op that returns the entry already stored, so a
replayed alert, a retried batch or two workers planning the same thing append nothing twice.

    feed = ActionFeed.open(settings.database_url)
    feed.append(planned)                        # -> [FeedEntry, ...], in the order given
    entries, cursor = feed.after(0, limit=100)  # then feed.after(cursor, ...) for the next page

**No entry is ever seen late.** A reader that has read through sequence ``n`` never misses an
entry numbered ``n`` or less that commits afterwards, because appends are serialised and numbered
inside that serial section:

- PostgreSQL: ``seq`` is an identity column, but a sequence alone is not enough (two transactions
  take 7 and 8, the one holding 8 commits first, a reader pages past 8, then 7 commits and is
  never read). So every append first takes a transaction-level advisory lock
  (``pg_advisory_xact_lock``), held until it commits: numbers are taken in commit order, and a
  transaction's rows are visible before its locks are released. A rolled-back append leaves a gap
  that is never filled, which a reader skips safely.
- SQLite: an append runs in a ``BEGIN IMMEDIATE`` transaction (the database's one write lock,
  taken before reading which keys exist), so the same holds; ``AUTOINCREMENT`` never reuses a number.

Appends are atomic per batch: all of it or none. With ``audit`` set, an append that adds entries
also leaves one ``feed.append`` entry in the audit trail, in the same transaction (its digest
covers the new entries: ``store.audit_batches``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Connection, RowMapping, select
from sqlalchemy.exc import SQLAlchemyError

from cvguard.errors import InputError
from cvguard.evidence.chain import canonical
from cvguard.store import models as m
from cvguard.store.audit import AuditLog
from cvguard.store.audit_batches import feed_draft_of
from cvguard.store.base import StoreBase
from cvguard.store.engine import json_default, json_dumps

__all__ = ["MAX_CURSOR", "MAX_PAGE", "ActionFeed", "ActionLike", "FeedEntry"]

# the columns an append writes (``seq`` is numbered by the database)
_COLUMNS = ("key", "kind", "surface", "subject_type", "subject", "params", "reason", "rule_id", "alert_id",
            "policy_version", "created_at", "undoes")
_APPEND_LOCK = 0x63766661  # "cvfa": the pg_advisory lock key held while appending to the feed
MAX_PAGE = 1000
MAX_CURSOR = 2**63 - 1  # a BIGINT


class ActionLike(Protocol):
    """What the feed needs of an action to append (``policy.feed.PlannedAction`` has it all)."""

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
    def reason(self) -> str: ...
    @property
    def rule_id(self) -> str | None: ...
    @property
    def alert_id(self) -> str | None: ...
    @property
    def policy_version(self) -> str | None: ...
    @property
    def undoes(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """An action as stored: ``seq`` is its place in the feed (the cursor)."""

    seq: int
    key: str
    kind: str
    surface: str
    subject_type: str
    subject: str
    params: dict[str, Any]
    reason: str
    rule_id: str | None
    alert_id: str | None
    policy_version: str | None
    created_at: datetime
    undoes: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "key": self.key,
            "kind": self.kind,
            "surface": self.surface,
            "subject_type": self.subject_type,
            "subject": self.subject,
            "params": dict(self.params),
            "reason": self.reason,
            "rule_id": self.rule_id,
            "alert_id": self.alert_id,
            "policy_version": self.policy_version,
            "created_at": self.created_at.isoformat(),
            "undoes": self.undoes,
        }



def _check(action: ActionLike) -> None:
    for name, value, width in (
        ("key", action.key, m.ACTION_KEY),
        ("kind", action.kind, 32),
        ("surface", action.surface, 32),
        ("subject_type", action.subject_type, 16),
        ("subject", action.subject, m.ID),
    ):
        if not value or len(value) > width:
            raise InputError(f"an action's {name} must have 1 to {width} characters", field=name)
    for name, optional, width in (
        ("rule_id", action.rule_id, 128),
        ("alert_id", action.alert_id, m.ALERT_ID),
        ("policy_version", action.policy_version, 64),
        ("undoes", action.undoes, m.ACTION_KEY),
    ):
        if optional is not None and not 1 <= len(optional) <= width:
            raise InputError(f"an action's {name} must have 1 to {width} characters", field=name)


class ActionFeed(StoreBase):
    """The feed in the store's database (SQLite or PostgreSQL)."""

    _failure = "the action feed failed"
    # the audit trail on the same database: each append that adds entries leaves one entry in it,
    # in the same transaction (``store.audit_batches``); None: not recorded
    audit: AuditLog | None = None

    def append(self, actions: Sequence[ActionLike], *, read_back: bool = True) -> list[FeedEntry]:
        """Append ``actions`` in order, all or none; one entry per action given, in that order:
        the new entry, or the one already stored under its key (a key given twice: the first).
        ``read_back=False``: nothing is read back or returned (a caller that needs no entries)."""
        for action in actions:
            _check(action)
        if not actions:
            return []
        with self._serialised(_APPEND_LOCK) as c:
            return self._append(c, actions, read_back=read_back)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A transaction that holds the feed's append lock until it commits, for writes that must
        commit (or roll back) together with feed entries: pass it to :meth:`append_in` and to the
        other stores' writes on the same database (the audit trail's ``append_in`` last)."""
        with self._serialised(_APPEND_LOCK) as c:
            yield c

    def append_in(
        self,
        connection: Connection,
        actions: Sequence[ActionLike],
        *,
        read_back: bool = False,
        new: bool = False,
        encoded: Sequence[str] | None = None,
    ) -> list[FeedEntry]:
        """:meth:`append` inside a :meth:`transaction` of this feed (``connection``); ``new``: the
        caller knows no key of ``actions`` is stored (written in the same transaction as what makes
        them new), so none is looked up first; ``encoded``: each action's params as their canonical
        JSON (``evidence.chain.canonical``), made by a caller that had it anyway."""
        for action in actions:
            _check(action)
        if encoded is not None and len(encoded) != len(actions):
            raise ValueError("one encoding per action")
        if not actions:
            return []
        return self._append(connection, actions, read_back=read_back, new=new, encoded=encoded)

    def _append(
        self,
        c: Connection,
        actions: Sequence[ActionLike],
        *,
        read_back: bool,
        new: bool = False,
        encoded: Sequence[str] | None = None,
    ) -> list[FeedEntry]:
        given = {} if encoded is None else {a.key: e for a, e in zip(actions, encoded, strict=True)}
        first: dict[str, ActionLike] = {}
        for action in actions:
            first.setdefault(action.key, action)
        # the keys stored already are looked up first (under the lock), so that no number is
        # spent on a row that is not written and the feed stays numbered without gaps; ``new``:
        # the caller knows its keys are new (a key stored after all is skipped, leaving a gap)
        if read_back:
            found = {e.key: e for e in self._by_keys(c, list(first))}
            stored: set[str] | dict[str, FeedEntry] = found
        else:
            found, stored = {}, (set() if new else self._keys(c, list(first)))
        now = self._clock()
        b = self._bulk
        stamp = b.time(now)
        rows: list[tuple[Any, ...]] = []
        plain: set[str] = set()  # keys whose params are not written canonically
        for k, a in first.items():
            if k in stored:
                continue
            params, exact = (given[k], True) if k in given else _params_json(a.params)
            if not exact:
                plain.add(k)
            rows.append((a.key, a.kind, a.surface, a.subject_type, a.subject, params, a.reason, a.rule_id,
                         a.alert_id, a.policy_version, stamp, a.undoes))
        # one statement a chunk, numbered in the order given; only the new rows' numbers and keys
        # come back: each new entry is built from the row written, never read back
        numbers = dict((str(k), int(seq)) for seq, k in b.insert_returning(
            c, m.actions, _COLUMNS, rows, unique=("key",), returning=("seq", "key")))
        written = sorted(((numbers[r[0]], r) for r in rows if r[0] in numbers), key=lambda x: x[0])
        created = now.astimezone(UTC)
        if self.audit is not None and written:
            lines = [(seq, r[9], _line(seq, r, created, r[0] not in plain)) for seq, r in written]
            self.audit.append_in(c, [feed_draft_of(lines)])
        if not read_back:
            return []
        found.update((r[0], _written(seq, r, created)) for seq, r in written)
        return [found[a.key] for a in actions]

    @staticmethod
    def _keys(c: Connection, keys: Sequence[str]) -> set[str]:
        out: set[str] = set()
        for i in range(0, len(keys), 500):
            key = m.actions.c.key
            out.update(r[0] for r in c.execute(select(key).where(key.in_(keys[i : i + 500]))))
        return out

    @staticmethod
    def _by_keys(c: Connection, keys: Sequence[str]) -> list[FeedEntry]:
        out: list[FeedEntry] = []
        for i in range(0, len(keys), 500):
            rows = c.execute(select(m.actions).where(m.actions.c.key.in_(keys[i : i + 500])))
            out += [_entry(r) for r in rows.mappings()]
        return out

    def after(self, cursor: int = 0, limit: int = 100) -> tuple[list[FeedEntry], int]:
        """The entries numbered above ``cursor``, oldest first, at most ``limit``, and the cursor to
        read the next page after (the last entry's number; ``cursor`` itself when there is none)."""
        if cursor < 0 or cursor > MAX_CURSOR:
            raise InputError(f"a cursor is an integer from 0 to {MAX_CURSOR}", field="after")
        if not 1 <= limit <= MAX_PAGE:
            raise InputError(f"limit must be 1 to {MAX_PAGE}", field="limit")
        try:
            with self._engine.connect() as c:
                rows = c.execute(
                    select(m.actions).where(m.actions.c.seq > cursor).order_by(m.actions.c.seq).limit(limit)
                )
                entries = [_entry(r) for r in rows.mappings()]
        except SQLAlchemyError as exc:
            raise self._error(exc) from exc
        return entries, (entries[-1].seq if entries else cursor)

    def caused_by(self, alert_id: str) -> list[FeedEntry]:
        """Every entry appended for ``alert_id`` (undos included), oldest first: what an alert that
        resolves must undo (``policy.feed.plan_alert(..., caused=...)``)."""
        try:
            with self._engine.connect() as c:
                rows = c.execute(
                    select(m.actions).where(m.actions.c.alert_id == alert_id).order_by(m.actions.c.seq)
                )
                return [_entry(r) for r in rows.mappings()]
        except SQLAlchemyError as exc:
            raise self._error(exc) from exc


def _written(seq: int, row: tuple[Any, ...], created_at: datetime) -> FeedEntry:
    """The entry a row just inserted (``_COLUMNS``, params as JSON text) reads back as."""
    key, kind, surface, subject_type, subject, params, reason, rule_id, alert_id, version, _, undoes = row
    return FeedEntry(
        seq=seq, key=key, kind=kind, surface=surface, subject_type=subject_type, subject=subject,
        params=json.loads(params), reason=reason, rule_id=rule_id, alert_id=alert_id,
        policy_version=version, created_at=created_at, undoes=undoes,
    )


# the params as the feed writes them: canonical JSON (keys sorted, compact, UTF-8 kept, no NaN),
# with the store's conversions (timestamps as ISO 8601, sets as sorted lists)
_CANONICAL = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False, default=json_default
)
_NO_PARAMS = b'"params":null'


def _params_json(params: Mapping[str, Any]) -> tuple[str, bool]:
    """The params as written, and whether that is their canonical JSON (the canonical JSON of what
    a read decodes, which the audit digest then reuses): it is unless a key is not a string (JSON
    makes it one, which changes the order) or a number is not finite (NaN)."""
    value = dict(params)
    if not value:
        return "{}", True
    for _ in range(2):
        if _string_keys(value):
            try:
                out, exact = _CANONICAL.encode(value), True
            except (TypeError, ValueError):
                out, exact = json_dumps(value), False
        else:
            out, exact = json_dumps(value), False
        if _NEGATIVE_ZERO.search(out) is None:
            break
        # PostgreSQL's jsonb has no negative zero: written as 0.0 on every database, so that what
        # is read back (and digested) is what was written
        value = _without_negative_zero(value)
    return out, exact


_NEGATIVE_ZERO = re.compile(r"-0\.0(?![0-9])")  # how the encoder writes -0.0 (or a string holding it)
_NESTED = (dict, list, tuple)


def _string_keys(value: dict[Any, Any]) -> bool:
    """Whether every key at every depth is a string (a loop, not a recursion: it runs per action)."""
    stack: list[Any] = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            for k, x in v.items():
                if type(k) is not str:
                    return False
                if isinstance(x, _NESTED):
                    stack.append(x)
        else:
            stack.extend(x for x in v if isinstance(x, _NESTED))
    return True


def _without_negative_zero(value: Any) -> Any:
    if isinstance(value, float) and value == 0.0:
        return 0.0
    if isinstance(value, dict):
        return {k: _without_negative_zero(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_without_negative_zero(v) for v in value]
    return value


def _line(seq: int, row: tuple[Any, ...], created_at: datetime, canonical_params: bool) -> bytes:
    """A new entry's canonical JSON (``FeedEntry.to_dict()``) from the row written: params written
    canonically are spliced in, not decoded and encoded again."""
    key, kind, surface, subject_type, subject, params, reason, rule_id, alert_id, version, _, undoes = row
    d: dict[str, Any] = {
        "seq": seq, "key": key, "kind": kind, "surface": surface, "subject_type": subject_type,
        "subject": subject, "params": None, "reason": reason, "rule_id": rule_id, "alert_id": alert_id,
        "policy_version": version, "created_at": created_at.isoformat(), "undoes": undoes,
    }
    if not canonical_params:
        d["params"] = json.loads(params)
        return canonical(d)
    # the key occurs once unescaped (a quote inside a string value is written \")
    return canonical(d).replace(_NO_PARAMS, b'"params":' + params.encode("utf-8"), 1)


def _entry(row: RowMapping) -> FeedEntry:
    return FeedEntry(
        seq=int(row["seq"]),
        key=row["key"],
        kind=row["kind"],
        surface=row["surface"],
        subject_type=row["subject_type"],
        subject=row["subject"],
        params=dict(row["params"] or {}),
        reason=row["reason"],
        rule_id=row["rule_id"],
        alert_id=row["alert_id"],
        policy_version=row["policy_version"],
        created_at=row["created_at"],
        undoes=row["undoes"],
    )
