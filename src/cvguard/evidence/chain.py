"""Canonical JSON and the SHA-256 chain every preserved item is linked into.

A case is a header (who preserved what, why, when, for whom) followed by its items in order. The
chain starts from the header's digest (``genesis``) and each item's digest covers the digest
before it and the item's canonical JSON:

    genesis   = SHA-256(canonical(header))
    digest[i] = SHA-256(bytes.fromhex(digest[i-1] or genesis) + canonical(item[i]))
    head      = digest[last] (genesis for a case without items)

so changing, dropping, adding or reordering any item, or the header, changes every digest after it
and the head. Canonical JSON is UTF-8, keys sorted, no whitespace, no NaN: one value, one byte
string, on every machine.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

ZERO = "0" * 64


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical(value: Any) -> bytes:
    """The canonical JSON bytes of ``value`` (see the module docstring)."""
    return _ENCODER.encode(value).encode("utf-8")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def genesis(header: Mapping[str, Any]) -> str:
    """Where a case's chain starts: the digest of its header."""
    return sha256(canonical(dict(header)))


def link(prev: str, record: bytes) -> str:
    """The digest of one item: its canonical JSON ``record`` after the digest ``prev``."""
    return hashlib.sha256(bytes.fromhex(prev) + record).hexdigest()


@dataclass(frozen=True, slots=True)
class Link:
    """One item in the chain: its canonical JSON, the digest before it and its own."""

    position: int
    record: bytes
    prev: str
    digest: str


def chain(header: Mapping[str, Any], items: Iterable[Mapping[str, Any]]) -> list[Link]:
    """The links of a case's items, in order."""
    prev = genesis(header)
    out: list[Link] = []
    for position, item in enumerate(items):
        record = canonical(dict(item))
        digest = link(prev, record)
        out.append(Link(position, record, prev, digest))
        prev = digest
    return out


@dataclass(frozen=True, slots=True)
class Break:
    """Where a chain stops holding: the item (or ``None``: the header or the case as a whole)."""

    position: int | None
    event_id: str | None
    reason: str

    def describe(self, case_id: str) -> str:
        if self.position is None:
            return f"case {case_id}: {self.reason}"
        return f"case {case_id}, item {self.position} (event {self.event_id!r}): {self.reason}"


def check(
    header: Mapping[str, Any], links: Sequence[tuple[int, str | None, bytes, str, str]], head: str
) -> Break | None:
    """The first place where stored ``links`` (position, event id, record, prev, digest) do not
    chain from ``header`` to ``head``; None when they all hold."""
    prev = genesis(header)
    for expected, (position, event_id, record, stored_prev, digest) in enumerate(links):
        if position != expected:
            return Break(expected, event_id, f"item {expected} is missing (found item {position} there)")
        if not is_canonical(record):
            return Break(position, event_id, "the record is not canonical JSON (altered)")
        if stored_prev != prev:
            if position == 0:
                return Break(None, None, "the case header (owner, actor, reason, selection) was altered")
            return Break(position, event_id, "the previous digest it names is not the one before it")
        if link(prev, record) != digest:
            return Break(position, event_id, "its digest does not match its record (altered)")
        prev = digest
    if not links and prev != head:
        return Break(None, None, "the case header (owner, actor, reason, selection) was altered")
    if prev != head:
        return Break(None, None, "the chain head does not match the last item (an item was added or removed)")
    return None


def is_canonical(record: bytes) -> bool:
    """Whether ``record`` is the canonical JSON of the value it holds."""
    try:
        return canonical(json.loads(record.decode("utf-8"))) == record
    except (UnicodeDecodeError, ValueError):
        return False
