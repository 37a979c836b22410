"""The audit trail for an inspection period: ``audit.jsonl`` and ``manifest.json``, and their check.

    files = bundle(stored, since=..., until=..., exported_at=...)   # {"audit.jsonl": b, "manifest.json": b}
    problem = check_bundle(files["audit.jsonl"], files["manifest.json"])   # None: intact

``audit.jsonl`` holds one entry a line, oldest first: the record exactly as hashed (its fields:
``format``, ``seq``, ``at``, ``actor``, ``action``, ``subject``, ``inputs``, ``before``, ``after``,
``policy_version``, ``model_version``) plus ``prev`` and ``digest`` as stored, in canonical JSON.
Taking ``prev`` and ``digest`` out of a line gives back the record, so anyone can recompute
``digest = SHA-256(bytes.fromhex(prev) + canonical(record))`` without cvguard.

``manifest.json`` says what the file should be: ``format``, the ``period`` (``since`` inclusive,
``until`` exclusive, wall clock UTC), ``count``, ``first_seq`` and ``last_seq``, ``prev`` (the
digest before the first entry: where the period's chain starts), ``head`` (the last entry's
digest), ``audit_jsonl_sha256`` and ``exported_at``. A period is the run of entries from the first
stamped at or after ``since`` to the last stamped before ``until``, without gaps, so the export is
one piece of the chain: its ``prev`` is the digest of entry ``first_seq - 1`` in the trail and its
``head`` is entry ``last_seq``'s, which the trail (``GET /v1/audit``) confirms.

:func:`check_bundle` names the first entry that does not hold: a line edited (its digest no longer
matches, or it is not the JSON it was written as), an entry missing, two entries reordered, entries
cut from the end, or a file that no longer matches the manifest.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from cvguard.audit import FORMAT, GENESIS, Stored, parse
from cvguard.evidence.chain import canonical, link

__all__ = ["EXPORT_FORMAT", "JSONL", "MANIFEST", "bundle", "check_bundle", "from_zip", "to_zip"]

EXPORT_FORMAT = "cvguard-audit-export/1"
JSONL = "audit.jsonl"
MANIFEST = "manifest.json"


def bundle(
    stored: Sequence[Stored],
    *,
    since: datetime,
    until: datetime,
    exported_at: datetime,
    prev: str | None = None,
) -> dict[str, bytes]:
    """The two files for ``stored`` (consecutive entries, oldest first); ``prev`` is the digest before
    the first (default: the first's own ``prev``; GENESIS for an empty period)."""
    lines: list[bytes] = []
    for e in stored:
        value = parse(e.record)
        if value is None:  # exported as stored: the check will name it
            value = {"seq": e.seq, "unreadable": e.record.decode("utf-8", "replace")}
        lines.append(canonical({**value, "prev": e.prev, "digest": e.digest}) + b"\n")
    jsonl = b"".join(lines)
    start = prev if prev is not None else (stored[0].prev if stored else GENESIS)
    manifest = {
        "format": EXPORT_FORMAT,
        "trail_format": FORMAT,
        "period": {"since": since.isoformat(), "until": until.isoformat()},
        "count": len(stored),
        "first_seq": stored[0].seq if stored else None,
        "last_seq": stored[-1].seq if stored else None,
        "prev": start,
        "head": stored[-1].digest if stored else start,
        "audit_jsonl_sha256": hashlib.sha256(jsonl).hexdigest(),
        "exported_at": exported_at.isoformat(),
    }
    return {JSONL: jsonl, MANIFEST: json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8") + b"\n"}


def check_bundle(jsonl: bytes, manifest_raw: bytes) -> str | None:
    """The first thing in an export that does not hold (see the module docstring); None: intact."""
    try:
        manifest = json.loads(manifest_raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return f"{MANIFEST} is not JSON"
    if not isinstance(manifest, dict) or manifest.get("format") != EXPORT_FORMAT:
        return f"{MANIFEST} is not a {EXPORT_FORMAT} manifest"
    try:
        count, prev, head = int(manifest["count"]), str(manifest["prev"]), str(manifest["head"])
        first = int(manifest["first_seq"]) if count else 0
    except (KeyError, TypeError, ValueError):
        return f"{MANIFEST} lacks count, first_seq, prev or head"
    entries, problem = _lines(jsonl)
    if problem is not None:
        return problem
    seqs = [seq for seq, _ in entries]
    for i, (seq, value) in enumerate(entries):
        expected = first + i
        if seq != expected:
            if expected in seqs[i + 1 :]:
                return f"audit entry {expected}: it comes after entry {seq} (entries reordered)"
            if seq > expected:
                return f"audit entry {expected}: it is missing (the next line holds entry {seq})"
            return f"audit entry {seq}: it is there twice or out of order (expected entry {expected})"
        found = _link_problem(value, prev)
        if found is not None:
            return f"audit entry {seq}: {found}"
        prev = str(value["digest"])
    if len(entries) < count:
        missing = first + len(entries)
        return (f"audit entry {missing}: it is missing "
                f"(the manifest lists {count} entries, the file {len(entries)})")
    if len(entries) > count:
        return f"audit entry {first + count}: it is not in the manifest (entries added)"
    if prev != head:
        return f"the last entry's digest is not the manifest's head {head}"
    if hashlib.sha256(jsonl).hexdigest() != manifest.get("audit_jsonl_sha256"):
        return f"{JSONL} does not match the manifest's SHA-256 (the file was changed)"
    return None


def _lines(jsonl: bytes) -> tuple[list[tuple[int, dict[str, Any]]], str | None]:
    out: list[tuple[int, dict[str, Any]]] = []
    for number, raw in enumerate(jsonl.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return out, f"{JSONL} line {number}: not JSON (edited)"
        if not isinstance(value, dict) or not isinstance(value.get("seq"), int):
            return out, f"{JSONL} line {number}: not an audit entry (edited)"
        out.append((value["seq"], value))
    return out, None


def _link_problem(value: dict[str, Any], prev: str) -> str | None:
    stored_prev, digest = value.get("prev"), value.get("digest")
    if not isinstance(stored_prev, str) or not isinstance(digest, str):
        return "it lacks prev or digest (edited)"
    if stored_prev != prev:
        return "the previous digest it names is not the one before it (an entry removed or replaced)"
    record = {k: v for k, v in value.items() if k not in ("prev", "digest")}
    try:
        raw = canonical(record)
        ok = link(prev, raw) == digest
    except ValueError:
        ok = False
    return None if ok else "its digest does not match its record (edited)"


def to_zip(files: dict[str, bytes]) -> bytes:
    """The files in one zip (fixed times and order: the same files, the same bytes)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, files[name])
    return out.getvalue()


def from_zip(data: bytes) -> dict[str, bytes]:
    """``audit.jsonl`` and ``manifest.json`` from a zip (ValueError when it is not one of them)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = set(z.namelist())
            missing = {JSONL, MANIFEST} - names
            if missing:
                raise ValueError(f"the zip lacks {', '.join(sorted(missing))}")
            return {name: z.read(name) for name in (JSONL, MANIFEST)}
    except zipfile.BadZipFile as exc:
        raise ValueError(f"not a zip file: {exc}") from None
