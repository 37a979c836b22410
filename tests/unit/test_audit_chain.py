"""The audit chain (``cvguard.audit``): entries chain from a fixed genesis, and the verifier names
the first entry edited, missing or reordered."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from cvguard.audit import GENESIS, Stored, check, digest_of, parse, record
from cvguard.evidence.chain import canonical, sha256

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _trail(n: int) -> list[Stored]:
    out: list[Stored] = []
    prev = GENESIS
    for seq in range(1, n + 1):
        raw = record(seq=seq, at=T0 + timedelta(seconds=seq), actor="mod:k1 (alice)", action="alert.status",
                     subject_type="alert", subject_id=f"a{seq}", inputs={"status": "resolved"},
                     before={"status": "open"}, after={"status": "resolved"}, policy_version="v1")
        digest = digest_of(prev, raw)
        out.append(Stored(seq, raw, prev, digest))
        prev = digest
    return out


def test_the_chain_starts_from_a_fixed_genesis_and_holds() -> None:
    assert sha256(canonical({"format": "cvguard-audit/1"})) == GENESIS
    trail = _trail(4)
    assert trail[0].prev == GENESIS and trail[1].prev == trail[0].digest
    assert check(trail) is None and check([]) is None
    value = parse(trail[0].record)
    assert value is not None and value["subject"] == {"type": "alert", "id": "a1"}
    assert value["before"] == {"status": "open"} and value["at"] == (T0 + timedelta(seconds=1)).isoformat()


def test_an_edited_record_is_named() -> None:
    trail = _trail(4)
    edited = trail[2].record.replace(b'"resolved"', b'"open"', 1)
    found = check([*trail[:2], replace(trail[2], record=edited), trail[3]])
    assert found is not None and found.seq == 3 and "edited" in found.reason
    spaced = trail[1].record.replace(b":", b": ", 1)  # not canonical any more
    found = check([trail[0], replace(trail[1], record=spaced), *trail[2:]])
    assert found is not None and found.seq == 2 and "canonical" in found.reason


def test_a_deleted_entry_is_named() -> None:
    trail = _trail(4)
    found = check([trail[0], *trail[2:]])
    assert found is not None and found.seq == 2 and "missing" in found.reason
    # renumbered to hide the gap: the link to the entry before breaks
    renumbered = [trail[0], replace(trail[2], seq=2), replace(trail[3], seq=3)]
    found = check(renumbered)
    assert found is not None and found.seq == 2


def test_swapped_entries_are_named() -> None:
    trail = _trail(4)
    swapped = [trail[0], replace(trail[2], seq=2), replace(trail[1], seq=3), trail[3]]
    found = check(swapped)
    assert found is not None and found.seq == 2 and "reordered" in found.reason


def test_a_page_is_checked_from_where_the_last_ended() -> None:
    trail = _trail(5)
    assert check(trail[2:], first_seq=3, prev=trail[1].digest) is None
    found = check(trail[2:], first_seq=3, prev=GENESIS)
    assert found is not None and found.seq == 3
