"""The audit trail: what people (and keys) changed, chained so that no entry can be edited,
removed or reordered unnoticed.

An entry is ``seq`` (1, 2, 3, ...), ``at`` (wall clock, UTC), ``actor``, ``action`` (e.g.
``alert.status``, ``key.create``, ``key.revoke``), its ``subject`` (type and id), the ``inputs`` of
the request, the state ``before`` and ``after`` it (JSON, or null) and, optionally, the policy and
model versions in force. Its digest covers the digest before it and its canonical JSON
(``evidence.chain``):

    digest[1] = SHA-256(bytes.fromhex(GENESIS) + canonical(entry[1]))
    digest[n] = SHA-256(bytes.fromhex(digest[n-1]) + canonical(entry[n]))

:func:`check` walks stored entries in ``seq`` order and names the first that does not hold: an
entry edited (its record is not canonical, or its digest does not match it), one missing (a gap
in ``seq``, or a broken link), one reordered (its record names another ``seq``). Removing the
*last* entries leaves a shorter chain that holds: compare the head with one kept elsewhere.
No secret ever goes in an entry (a key is named by its id, never by its secret).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cvguard.evidence.chain import canonical, link, sha256

__all__ = ["FORMAT", "GENESIS", "Entry", "Problem", "Stored", "check", "digest_of", "parse", "record"]

FORMAT = "cvguard-audit/1"
GENESIS = sha256(canonical({"format": FORMAT}))  # where the chain starts


@dataclass(frozen=True, slots=True)
class Entry:
    """One audit entry as stored, with its place in the chain."""

    seq: int
    at: datetime
    actor: str
    action: str
    subject_type: str
    subject_id: str
    inputs: Any
    before: Any
    after: Any
    policy_version: str | None
    model_version: str | None
    prev: str
    digest: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq, "at": self.at.isoformat(), "actor": self.actor, "action": self.action,
            "subject": {"type": self.subject_type, "id": self.subject_id}, "inputs": self.inputs,
            "before": self.before, "after": self.after, "policy_version": self.policy_version,
            "model_version": self.model_version, "prev": self.prev, "digest": self.digest,
        }


def record(
    *,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: str,
    inputs: Any = None,
    before: Any = None,
    after: Any = None,
    policy_version: str | None = None,
    model_version: str | None = None,
) -> bytes:
    """The canonical JSON an entry is hashed as (ValueError for what JSON cannot hold)."""
    return canonical({
        "format": FORMAT, "seq": seq, "at": at.isoformat(), "actor": actor, "action": action,
        "subject": {"type": subject_type, "id": subject_id}, "inputs": inputs, "before": before,
        "after": after, "policy_version": policy_version, "model_version": model_version,
    })


@dataclass(frozen=True, slots=True)
class Stored:
    """An entry as read back: its row's ``seq``, the record as stored, the digests as stored."""

    seq: int
    record: bytes
    prev: str
    digest: str


@dataclass(frozen=True, slots=True)
class Problem:
    """Where the trail stops holding: the entry (its ``seq``) and why."""

    seq: int
    reason: str
    held: int = 0  # entries checked that held before it
    head: str = GENESIS  # the digest of the last of them

    def describe(self) -> str:
        return f"audit entry {self.seq}: {self.reason}"


def parse(raw: bytes) -> dict[str, Any] | None:
    """The stored record as a dict when it is the canonical JSON of one, else None."""
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(value, dict) or canonical(value) != raw:
        return None
    return value


def check(entries: Iterable[Stored], *, first_seq: int = 1, prev: str = GENESIS) -> Problem | None:
    """The first of ``entries`` (in stored ``seq`` order, from ``first_seq`` after digest ``prev``)
    that does not hold; None when they all do."""
    for held, e in enumerate(entries):
        found = _problem(e, first_seq + held, prev)
        if found is not None:
            return Problem(found[0], found[1], held, prev)
        prev = e.digest
    return None


def _problem(e: Stored, expected: int, prev: str) -> tuple[int, str] | None:
    if e.seq != expected:
        if e.seq > expected:
            return expected, f"it is missing (the next stored entry is {e.seq})"
        return e.seq, f"it is stored twice or out of order (expected entry {expected})"
    value = parse(e.record)
    if value is None:
        return e.seq, "its record is not the canonical JSON it was written as (edited)"
    if value.get("seq") != e.seq:
        return e.seq, f"it holds the record of entry {value.get('seq')} (entries reordered)"
    if e.prev != prev:
        return e.seq, ("the previous digest it names is not the one before it "
                       "(an entry before it was removed, replaced or reordered)")
    if link(prev, e.record) != e.digest:
        return e.seq, "its digest does not match its record (edited)"
    return None


def digest_of(prev: str, raw: bytes) -> str:
    """The digest of an entry whose canonical record is ``raw``, after ``prev``."""
    return link(prev, raw)

