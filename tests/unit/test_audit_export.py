"""An inspection-period export (``audit.export``): intact, it checks; a line edited, deleted or moved,
entries cut from the end, or the file changed otherwise, are each named."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest

from cvguard.audit import GENESIS, Stored, digest_of, record
from cvguard.audit.export import JSONL, MANIFEST, bundle, check_bundle, from_zip, to_zip
from cvguard.evidence.chain import canonical

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def chain(n: int, *, start: int = 1, prev: str = GENESIS) -> list[Stored]:
    out = []
    for seq in range(start, start + n):
        raw = record(seq=seq, at=T0 + timedelta(minutes=seq), actor="moderator:k1 (alice)",
                     action="alert.status", subject_type="alert", subject_id=f"a{seq}",
                     inputs={"status": "resolved"}, before={"status": "open"}, after={"status": "resolved"})
        digest = digest_of(prev, raw)
        out.append(Stored(seq, raw, prev, digest))
        prev = digest
    return out


def files(stored: list[Stored], prev: str | None = None) -> dict[str, bytes]:
    until, exported = T0 + timedelta(days=1), T0 + timedelta(days=2)
    return bundle(stored, since=T0, until=until, exported_at=exported, prev=prev)


def lines(data: dict[str, bytes]) -> list[bytes]:
    return data[JSONL].splitlines(keepends=True)


def test_an_intact_export_checks_and_says_what_it_holds() -> None:
    whole = chain(6)
    part = whole[2:5]  # entries 3..5: a piece of the chain, starting after entry 2's digest
    data = files(part, prev=whole[1].digest)
    assert check_bundle(data[JSONL], data[MANIFEST]) is None
    manifest = json.loads(data[MANIFEST])
    assert (manifest["count"], manifest["first_seq"], manifest["last_seq"]) == (3, 3, 5)
    assert manifest["prev"] == whole[1].digest and manifest["head"] == whole[4].digest
    assert manifest["audit_jsonl_sha256"] == hashlib.sha256(data[JSONL]).hexdigest()
    assert manifest["period"] == {"since": T0.isoformat(), "until": (T0 + timedelta(days=1)).isoformat()}
    # a line without prev and digest is the record exactly as hashed
    first = json.loads(lines(data)[0])
    assert canonical({k: v for k, v in first.items() if k not in ("prev", "digest")}) == part[0].record


def test_an_empty_period_checks() -> None:
    data = files([])
    assert check_bundle(data[JSONL], data[MANIFEST]) is None
    assert json.loads(data[MANIFEST])["count"] == 0


def _edited(data: dict[str, bytes]) -> bytes:
    rows = lines(data)
    value = json.loads(rows[1])
    value["after"] = {"status": "false_positive"}  # another outcome, the digest kept
    rows[1] = canonical(value) + b"\n"
    return b"".join(rows)


def _deleted(data: dict[str, bytes]) -> bytes:
    rows = lines(data)
    del rows[1]
    return b"".join(rows)


def _swapped(data: dict[str, bytes]) -> bytes:
    rows = lines(data)
    rows[1], rows[2] = rows[2], rows[1]
    return b"".join(rows)


def _cut(data: dict[str, bytes]) -> bytes:
    return b"".join(lines(data)[:-1])


def _not_json(data: dict[str, bytes]) -> bytes:
    rows = lines(data)
    rows[1] = rows[1][:20] + b"\n"
    return b"".join(rows)


def _spaced(data: dict[str, bytes]) -> bytes:
    return data[JSONL] + b"\n"  # every entry holds, but the file is not the one exported


@pytest.mark.parametrize(
    ("tamper", "named"),
    [
        (_edited, "audit entry 2: its digest does not match its record (edited)"),
        (_deleted, "audit entry 2: it is missing"),
        (_swapped, "audit entry 2: it comes after entry 3 (entries reordered)"),
        (_cut, "audit entry 4: it is missing (the manifest lists 4 entries, the file 3)"),
        (_not_json, "audit.jsonl line 2: not JSON (edited)"),
        (_spaced, "audit.jsonl does not match the manifest's SHA-256"),
    ],
)
def test_tampering_is_named(tamper: object, named: str) -> None:
    data = files(chain(4))
    assert callable(tamper)
    problem = check_bundle(tamper(data), data[MANIFEST])
    assert problem is not None and problem.startswith(named), problem


def test_a_rechained_line_is_named_at_the_next_entry() -> None:
    data = files(chain(4))
    rows = lines(data)
    value = json.loads(rows[1])
    value["after"] = {"status": "false_positive"}
    record_only = {k: v for k, v in value.items() if k not in ("prev", "digest")}
    value["digest"] = digest_of(value["prev"], canonical(record_only))  # its own digest redone
    rows[1] = canonical(value) + b"\n"
    problem = check_bundle(b"".join(rows), data[MANIFEST])
    assert problem is not None and problem.startswith("audit entry 3: the previous digest"), problem


def test_a_manifest_that_is_not_one_is_named() -> None:
    data = files(chain(2))
    assert check_bundle(data[JSONL], b"{") == "manifest.json is not JSON"
    assert check_bundle(data[JSONL], b'{"format": "x"}') is not None


def test_zip_round_trip_is_byte_stable() -> None:
    data = files(chain(3))
    packed = to_zip(data)
    assert packed == to_zip(data)  # fixed times and order
    assert from_zip(packed) == {JSONL: data[JSONL], MANIFEST: data[MANIFEST]}
    with pytest.raises(ValueError, match="not a zip"):
        from_zip(b"not a zip")
