"""The evidence package: one zip file a person can hand to a platform, a lawyer or the police, and
anyone can check with ``cvguard evidence verify PACKAGE``.

    case.json      the case header, canonical JSON: its SHA-256 is where the chain starts
    items.jsonl    one canonical JSON line per item: {"digest", "position", "prev", "record"}
    report.pdf     the same case for people to read (Chinese rendered with the packaged font)
    manifest.json  canonical JSON: format, case id, genesis, head, count, every item's digest and
                   the SHA-256 of each file above

The zip is written byte for byte the same way every time (stored, not deflated; fixed times and
attributes; fixed order), so the verifier rebuilds the container from the files it holds and
compares: one byte changed anywhere (a record, a digest, the PDF, the manifest, or a zip header)
fails, and the first thing found altered is named: an item (position and event id), a file, the
manifest or the container. When the PDF and the manifest's digest of it disagree, the report is
rendered again from the verified records (it is deterministic) to tell which of the two changed.
What it cannot tell alone is a package rebuilt whole from forged records: compare its head with
the vault's (``GET /v1/evidence/{case_id}``, ``verify --db``).
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from cvguard.evidence.chain import Link, canonical, genesis, is_canonical, link, sha256

FORMAT = "cvguard-evidence/1"
CASE, ITEMS, REPORT, MANIFEST = "case.json", "items.jsonl", "report.pdf", "manifest.json"
MEMBERS = (CASE, ITEMS, REPORT, MANIFEST)
_DATE = (1980, 1, 1, 0, 0, 0)
_LOCAL_HEADER = b"PK\x03\x04"


def item_line(item: Link) -> bytes:
    """One line of items.jsonl (without the newline)."""
    record = json.loads(item.record.decode("utf-8"))
    return canonical({"digest": item.digest, "position": item.position, "prev": item.prev, "record": record})


def manifest(header: Mapping[str, Any], links: Sequence[Link], files: Mapping[str, bytes]) -> dict[str, Any]:
    """The manifest of a case's package (``files``: name to content, the manifest excluded)."""
    start = genesis(header)
    return {
        "format": FORMAT,
        "case_id": header.get("case_id"),
        "genesis": start,
        "head": links[-1].digest if links else start,
        "count": len(links),
        "items": [
            {"position": x.position, "event_id": json.loads(x.record).get("event_id"), "digest": x.digest}
            for x in links
        ],
        "files": {name: sha256(data) for name, data in files.items()},
    }


def build(header: Mapping[str, Any], links: Sequence[Link], report_pdf: bytes) -> bytes:
    """The package (zip bytes) of a case: its header, its stored links and its PDF report."""
    files = {
        CASE: canonical(dict(header)),
        ITEMS: b"".join(item_line(x) + b"\n" for x in links),
        REPORT: report_pdf,
    }
    files[MANIFEST] = canonical(manifest(header, links, files))
    return _zip(files)


def _zip(files: Mapping[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for name in MEMBERS:
            info = zipfile.ZipInfo(name, date_time=_DATE)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            archive.writestr(info, files[name])
    return out.getvalue()


@dataclass(frozen=True)
class PackageCheck:
    """What verifying a package found: ``problem`` names the first thing altered (None: intact)."""

    problem: str | None
    case_id: str | None = None
    head: str | None = None
    count: int = 0
    items: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problem is None


class _Altered(Exception):
    pass


def verify(data: bytes) -> PackageCheck:
    """Check a package (see the module docstring); never raises for a bad package."""
    try:
        return _verify(data)
    except _Altered as exc:
        return PackageCheck(problem=str(exc))


def _members(data: bytes) -> dict[str, bytes]:
    """The members' bytes, read from where their local headers say (no CRC check: an altered
    member is found by its digest, and named)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise _Altered(f"the package is not a readable zip archive ({exc})") from None
    names = [i.filename for i in infos]
    if names != list(MEMBERS):
        raise _Altered(f"the zip container was altered: its files are {names}, not {list(MEMBERS)}")
    out: dict[str, bytes] = {}
    for info in infos:
        at = info.header_offset
        header = data[at : at + 30]
        if len(header) < 30 or header[:4] != _LOCAL_HEADER:
            raise _Altered(f"the zip container was altered (where the header of {info.filename} is)")
        method, crc, size, plain, name_len, extra_len = struct.unpack("<8xH4xLLLHH", header)
        name = data[at + 30 : at + 30 + name_len]
        # the local header must say what the central directory says, or the data would be read
        # from the wrong place and blamed on the file
        if (method, crc, size, plain, name, extra_len) != (
            zipfile.ZIP_STORED, info.CRC, info.compress_size, info.file_size,
            info.orig_filename.encode(), len(info.extra),
        ) or info.compress_type != zipfile.ZIP_STORED:
            raise _Altered(f"the zip container was altered (the headers of {info.filename} disagree)")
        start = at + 30 + name_len + extra_len
        end = start + info.compress_size
        if end > len(data):
            raise _Altered(f"the zip container was altered (the size of {info.filename})")
        out[info.filename] = data[start:end]
    return out


def _json(name: str, raw: bytes) -> Any:
    if not is_canonical(raw):
        raise _Altered(f"{name} was altered (not the canonical JSON it was written as)")
    return json.loads(raw)


def _verify(data: bytes) -> PackageCheck:
    files = _members(data)
    stated = _json(MANIFEST, files[MANIFEST])
    header = _json(CASE, files[CASE])
    if not isinstance(stated, dict) or not isinstance(header, dict):
        raise _Altered("manifest.json or case.json is not a JSON object (altered)")
    start = genesis(header)
    links = _links(files[ITEMS], start, stated)
    expected = manifest(header, links, {n: files[n] for n in (CASE, ITEMS, REPORT)})
    for name in (CASE, ITEMS, REPORT):
        if stated.get("files", {}).get(name) != expected["files"][name]:
            if name == REPORT:
                raise _Altered(_which_report(header, links, files[REPORT], stated["files"].get(REPORT)))
            raise _Altered(f"manifest.json was altered (the SHA-256 it gives for {name})")
    stated_items = stated.get("items")
    if not isinstance(stated_items, list):
        raise _Altered("manifest.json was altered (its item list)")
    for i, want in enumerate(expected["items"]):
        if i >= len(stated_items) or stated_items[i] != want:
            raise _Altered(f"manifest.json was altered (its entry for item {i}, event {want['event_id']!r})")
    for key in ("format", "case_id", "genesis", "head", "count", "items", "files"):
        if stated.get(key) != expected[key]:
            raise _Altered(f"manifest.json was altered (its {key!r})")
    if set(stated) != set(expected):
        raise _Altered("manifest.json was altered (fields added or removed)")
    rebuilt = _zip(files)
    if rebuilt != data:
        raise _Altered(f"the zip container was altered ({_where(data, rebuilt)})")
    return PackageCheck(
        problem=None, case_id=str(header.get("case_id")), head=expected["head"], count=len(links),
        items=expected["items"],
    )


def _which_report(header: Mapping[str, Any], links: Sequence[Link], report: bytes, stated: object) -> str:
    """Which of the PDF and the manifest's digest of it was altered: the report is rendered again
    from the verified records (one case, one PDF) and compared with both."""
    again = _rendered(canonical(dict(header)), tuple(links))
    if again is not None and again == sha256(report):
        return "manifest.json was altered (the SHA-256 it gives for report.pdf)"
    if again is not None and again == stated:
        return "report.pdf was altered (it is not the report of these records)"
    return "report.pdf was altered (its SHA-256 is not the one in the manifest)"


@lru_cache(maxsize=4)
def _rendered(header: bytes, links: tuple[Link, ...]) -> str | None:
    """The SHA-256 of the report of these (verified) records, rendered again; None when this
    version cannot render it."""
    try:
        from cvguard.evidence import pdf

        return sha256(pdf.render(json.loads(header), links))
    except Exception:  # say what is known rather than fail the check
        return None


def _links(raw: bytes, start: str, stated: Mapping[str, Any]) -> list[Link]:
    """The items.jsonl lines as links, each checked against the one before it."""
    if raw and not raw.endswith(b"\n"):
        raise _Altered("items.jsonl was altered (its last line is cut or extended)")
    lines = raw.split(b"\n")[:-1] if raw else []
    out: list[Link] = []
    prev = start
    for position, line in enumerate(lines):
        where = f"item {position} (line {position + 1} of items.jsonl)"
        if not is_canonical(line):
            raise _Altered(f"{where} was altered: not the canonical JSON it was written as")
        value = json.loads(line)
        record = value.get("record") if isinstance(value, dict) else None
        if not isinstance(record, dict) or set(value) != {"digest", "position", "prev", "record"}:
            raise _Altered(f"{where} was altered: not an item line")
        event = record.get("event_id")
        named = f"item {position} (event {event!r})"
        if value["position"] != position:
            raise _Altered(f"{named} was altered: it says it is item {value['position']}")
        if value["prev"] != prev:
            if position == 0 and value["prev"] == stated.get("genesis"):
                raise _Altered("case.json was altered (the chain no longer starts from it)")
            raise _Altered(f"{named} was altered: the digest before it is not the one it names")
        body = canonical(record)
        if link(prev, body) != value["digest"]:
            raise _Altered(f"{named} was altered: its digest does not match its record")
        out.append(Link(position, body, prev, value["digest"]))
        prev = value["digest"]
    if not lines and stated.get("genesis") not in (None, start):
        raise _Altered("case.json was altered (the chain no longer starts from it)")
    return out


def _where(data: bytes, rebuilt: bytes) -> str:
    """Where two versions of a container first differ, in words."""
    shorter = min(len(data), len(rebuilt))
    at = next((i for i, (a, b) in enumerate(zip(data, rebuilt, strict=False)) if a != b), shorter)
    try:
        infos = zipfile.ZipFile(io.BytesIO(rebuilt)).infolist()
    except zipfile.BadZipFile:  # pragma: no cover - we just wrote it
        return f"byte {at}"
    for info in infos:
        start = info.header_offset
        end = start + 30 + len(info.filename.encode()) + info.compress_size
        if start <= at < end:
            return f"byte {at}, in the entry of {info.filename}"
    if at < len(rebuilt):
        return f"byte {at}, in the zip's central directory"
    return f"byte {at}: bytes were added"
