"""The evidence chain and package: canonical JSON, digests chained in order, and a package whose
every byte counts: one byte changed anywhere fails verification, naming what changed."""

from __future__ import annotations

import io
import itertools
import json
import zipfile
from typing import Any

import pytest

from cvguard.evidence import package
from cvguard.evidence.chain import ZERO, canonical, chain, check, genesis, link, sha256

HEADER: dict[str, Any] = {
    "format": package.FORMAT,
    "case_id": "ev_0123456789abcdef01234567",
    "owner_id": "u1",
    "actor": "platform:abc for u1",
    "reason": "骚扰举报",
    "selection": {"by": "ids", "event_ids": ["e1", "e2", "e3"]},
    "created_at": "2026-12-01T10:00:00+00:00",
}


def _items(n: int = 3) -> list[dict[str, Any]]:
    return [
        {"case_id": HEADER["case_id"], "position": i, "event_id": f"e{i + 1}", "text": f"你这个垃圾{i}，滚！",
         "author": {"id": f"a{i}"}, "verdict": {"score": 0.91, "violation": True}}
        for i in range(n)
    ]


def _package(n: int = 3, pdf: bytes = b"%PDF-1.7 report") -> bytes:
    return package.build(HEADER, chain(HEADER, _items(n)), pdf)


def test_canonical_json_is_one_byte_string_per_value() -> None:
    assert canonical({"b": 1, "a": "中文"}) == '{"a":"中文","b":1}'.encode()
    assert canonical({"a": "中文", "b": 1}) == canonical({"b": 1, "a": "中文"})  # key order does not matter
    with pytest.raises(ValueError):
        canonical({"x": float("nan")})  # NaN has no canonical form


def test_each_digest_covers_the_previous_one_and_the_record() -> None:
    links = chain(HEADER, _items())
    assert links[0].prev == genesis(HEADER) == sha256(canonical(HEADER))
    for before, after in itertools.pairwise(links):
        assert after.prev == before.digest
    assert links[1].digest == link(links[0].digest, canonical(_items()[1]))
    # the same item in another place, or after another item, has another digest
    swapped = chain(HEADER, [_items()[1], _items()[0], _items()[2]])
    assert {x.digest for x in swapped}.isdisjoint({x.digest for x in links})


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda rows: rows.__setitem__(1, (*rows[1][:2], rows[1][2].replace(b"0.91", b"0.19"), *rows[1][3:])),
         "item 1"),  # a record altered
        (lambda rows: rows.pop(1), "item 1"),  # an item removed
        (lambda rows: rows.pop(), "head"),  # the last item removed
        (lambda rows: rows.__setitem__(2, (*rows[2][:4], ZERO)), "item 2"),  # a digest replaced
    ],
)
def test_check_names_the_first_item_that_does_not_chain(change: Any, named: str) -> None:
    links = chain(HEADER, _items())
    rows = [(x.position, f"e{x.position + 1}", x.record, x.prev, x.digest) for x in links]
    assert check(HEADER, rows, links[-1].digest) is None
    change(rows)
    broken = check(HEADER, rows, links[-1].digest)
    assert broken is not None and named in broken.describe("c")


def test_an_altered_header_is_named() -> None:
    links = chain(HEADER, _items())
    rows = [(x.position, "e", x.record, x.prev, x.digest) for x in links]
    broken = check({**HEADER, "reason": "changed"}, rows, links[-1].digest)
    assert broken is not None and "header" in broken.reason


def test_an_intact_package_verifies_and_holds_what_the_manifest_says() -> None:
    data = _package()
    found = package.verify(data)
    assert found.ok, found.problem
    assert found.case_id == HEADER["case_id"] and found.count == 3
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert z.namelist() == list(package.MEMBERS)
        manifest = json.loads(z.read("manifest.json"))
        lines = z.read("items.jsonl").decode().splitlines()
    assert manifest["head"] == found.head == json.loads(lines[-1])["digest"]
    assert manifest["files"]["report.pdf"] == sha256(b"%PDF-1.7 report")
    assert [i["event_id"] for i in manifest["items"]] == ["e1", "e2", "e3"]
    assert json.loads(lines[0])["record"]["text"] == "你这个垃圾0，滚！"
    assert package.build(HEADER, chain(HEADER, _items()), b"%PDF-1.7 report") == data  # deterministic


def _span(data: bytes, member: str) -> tuple[int, int]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        info = z.getinfo(member)
    start = info.header_offset + 30 + len(member) + len(info.extra)
    return start, start + info.compress_size


def test_every_single_byte_changed_anywhere_fails_and_names_what_changed() -> None:
    data = _package()
    items_start, items_end = _span(data, "items.jsonl")
    pdf_start, pdf_end = _span(data, "report.pdf")
    case_start, case_end = _span(data, "case.json")
    manifest_start, manifest_end = _span(data, "manifest.json")
    lines = data[items_start:items_end].split(b"\n")
    for at in range(len(data)):
        for flip in (0x01, 0x20):
            altered = bytearray(data)
            altered[at] ^= flip
            found = package.verify(bytes(altered))
            assert not found.ok, f"byte {at} ^ {flip:#x} went unnoticed"
            problem = found.problem or ""
            if items_start <= at < items_end:
                offset, line = at - items_start, 0
                while offset > len(lines[line]):
                    offset -= len(lines[line]) + 1
                    line += 1
                assert f"item {min(line, 2)}" in problem or "items.jsonl" in problem, (at, problem)
            elif pdf_start <= at < pdf_end:
                assert "report.pdf" in problem, (at, problem)
            elif case_start <= at < case_end:
                assert "case.json" in problem, (at, problem)
            elif not manifest_start <= at < manifest_end:  # a zip header or the central directory
                assert "zip" in problem, (at, problem)


def test_the_named_item_is_the_one_altered() -> None:
    data = _package()
    start, _ = _span(data, "items.jsonl")
    at = data.index("你这个垃圾1".encode(), start)
    altered = data[:at] + "他".encode() + data[at + 3 :]  # one character (three bytes) of item 1's text
    found = package.verify(altered)
    assert found.problem is not None and "item 1 (event 'e2')" in found.problem


def test_a_changed_manifest_or_container_is_named() -> None:
    data = _package()
    start, end = _span(data, "manifest.json")
    head = json.loads(data[start:end])["head"]
    at = data.index(head.encode(), start)
    altered = data[:at] + (b"0" if data[at:at + 1] != b"0" else b"1") + data[at + 1 :]
    assert "manifest.json" in (package.verify(altered).problem or "")
    comment = data + b"x"  # a byte added after the zip's end
    assert not package.verify(comment).ok
    assert "not a readable zip" in (package.verify(b"not a zip").problem or "")


def test_an_empty_case_packages_and_verifies() -> None:
    data = package.build(HEADER, [], b"%PDF")
    found = package.verify(data)
    assert found.ok and found.count == 0 and found.head == genesis(HEADER)


def test_bytes_changed_across_a_package_with_its_real_pdf_are_each_named() -> None:
    from cvguard.evidence import pdf

    links = chain(HEADER, _items(5))
    data = package.build(HEADER, links, pdf.render(HEADER, links))
    assert package.verify(data).ok
    spans = {name: _span(data, name) for name in package.MEMBERS}
    for at in range(0, len(data), max(1, len(data) // 400)):  # ~400 places, every region
        altered = bytearray(data)
        altered[at] ^= 0x04
        problem = package.verify(bytes(altered)).problem
        assert problem is not None, f"byte {at} went unnoticed"
        inside = next((n for n, (s, e) in spans.items() if s <= at < e), None)
        expected = {"items.jsonl": "item ", "report.pdf": "report.pdf", "case.json": "case.json",
                    "manifest.json": "manifest.json", None: "zip"}[inside]
        assert expected in problem, (at, inside, problem)
