"""What automated writes leave in the audit trail: one entry per batch, tying its rows to the chain.

Every row the pipeline writes is not copied into the trail (that would double the store); instead
each batch leaves one entry whose digest covers the batch, so a row of it edited, removed or
added later no longer matches an entry the chain protects:

- ``feed.append`` (subject ``feed``, ``FIRST-LAST``): one per append to the action feed that added
  entries; ``after`` = ``count``, ``first_seq``, ``last_seq`` and ``sha256``, the SHA-256 of the new
  entries' canonical JSON (``FeedEntry.to_dict()``, as ``GET /v1/actions`` gives them), one per
  line (each followed by ``\\n``), in ``seq`` order.
- ``decisions.batch`` (subject ``decisions``, ``FIRST..LAST`` event ids): one per batch of
  decisions recorded at ingest; ``after`` = ``count`` (given), ``new`` (stored), ``first_event_id``,
  ``last_event_id`` and ``sha256`` over the canonical JSON list of ``[event_id, action, rule_id,
  policy_version, shadow]``, one per decision, ordered by (event id, shadow).

The actor is ``cvguard`` (no person): the policy version is the batch's when it has one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from cvguard.evidence.chain import canonical
from cvguard.store.audit import Draft

if TYPE_CHECKING:
    from cvguard.store.actions import FeedEntry
    from cvguard.store.decisions import DecisionRecord

__all__ = ["AUTOMATON", "decisions_digest", "decisions_draft", "feed_digest", "feed_draft_of"]

AUTOMATON = "cvguard"  # the actor of what no person did


def feed_digest(entries: Sequence[FeedEntry]) -> str:
    """SHA-256 of the entries' canonical JSON, one a line, in ``seq`` order."""
    return _digest((e.seq, canonical(e.to_dict())) for e in entries)


def _digest(lines: Iterable[tuple[int, bytes]]) -> str:
    h = hashlib.sha256()
    for _, line in sorted(lines, key=lambda x: x[0]):
        h.update(line)
        h.update(b"\n")
    return h.hexdigest()


def feed_draft_of(lines: Sequence[tuple[int, str | None, bytes]]) -> Draft:
    """The entry for one feed append, from each entry it added: ``(seq, policy_version, its
    canonical JSON)`` (the line :func:`feed_digest` takes of it)."""
    seqs = [x[0] for x in lines]
    first, last = min(seqs), max(seqs)
    versions = {x[1] for x in lines if x[1] is not None}
    return Draft(
        actor=AUTOMATON, action="feed.append", subject_type="feed", subject_id=f"{first}-{last}",
        after={"count": len(lines), "first_seq": first, "last_seq": last,
               "sha256": _digest((x[0], x[2]) for x in lines)},
        policy_version=versions.pop() if len(versions) == 1 else None,
    )


def decisions_digest(records: Sequence[DecisionRecord]) -> str:
    """SHA-256 over ``[event_id, action, rule_id, policy_version, shadow]`` per decision, by
    (event id, shadow)."""
    rows = sorted(
        ([d.event_id, d.action, d.rule_id, d.policy_version, d.shadow] for d in records),
        key=lambda r: (r[0], r[4]),
    )
    return hashlib.sha256(canonical(rows)).hexdigest()


def decisions_draft(records: Sequence[DecisionRecord], new: int) -> Draft:
    """The entry for one batch of decisions (``new`` of them stored, the others already were)."""
    ids = sorted(d.event_id for d in records)
    versions = {d.policy_version for d in records if not d.shadow}
    return Draft(
        actor=AUTOMATON, action="decisions.batch", subject_type="decisions",
        subject_id=f"{ids[0]}..{ids[-1]}"[:256],
        after={"count": len(records), "new": new, "first_event_id": ids[0], "last_event_id": ids[-1],
               "sha256": decisions_digest(records)},
        policy_version=versions.pop() if len(versions) == 1 else None,
    )
