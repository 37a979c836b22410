"""The evidence report renders Chinese with the font shipped in the package, on a machine without
any CJK font: its text extracts verbatim (pypdf) and its pages show ink where the text is
(pypdfium2)."""

from __future__ import annotations

import io
import warnings
from typing import Any

import pypdfium2 as pdfium
from pypdf import PdfReader

from cvguard.evidence import pdf
from cvguard.evidence.chain import chain

HEADER: dict[str, Any] = {
    "format": "cvguard-evidence/1",
    "case_id": "ev_0123456789abcdef01234567",
    "owner_id": "用户甲",
    "actor": "moderator:abc (张三)",
    "reason": "网络暴力证据保全",
    "selection": {"by": "alert", "alert_id": "pile_on:user:u1:1"},
    "created_at": "2026-12-01T10:00:00+00:00",
}
TEXTS = ["你这个垃圾，滚出网络！", "大家一起去骂她，地址在朝阳区", "Plain English too 😀"]


def _render() -> bytes:
    items = [
        {"event_id": f"e{i}", "text": t, "author": {"id": f"作者{i}"},
         "occurred_at": "2026-12-01T09:00:00+00:00", "surface": "comment", "target_ids": ["用户甲"],
         "context": {"thread_id": "帖子1", "topic_ids": ["话题"]},
         "verdict": {"violation": True, "score": 0.93, "severity": "high", "categories": {"insult": 0.93}},
         "decision": {"action": "fold", "rule_id": "insult-fold", "reason": "辱骂"}, "text_sha256": "0" * 64}
        for i, t in enumerate(TEXTS)
    ]
    return pdf.render(HEADER, chain(HEADER, items))


def test_the_font_ships_with_its_licence_and_covers_gb2312() -> None:
    folder = pdf.font_path().parent
    assert pdf.font_path().is_file() and pdf.font_path().stat().st_size < 6_000_000
    assert "Apache License" in (folder / "LICENSE-Apache-2.0.txt").read_text()
    assert "fonts-wqy-microhei" in (folder / "README.txt").read_text()  # where it came from
    covered = pdf.covered()
    gb2312 = []
    for high in range(0xA1, 0xF8):
        for low in range(0xA1, 0xFF):
            try:
                gb2312.append(bytes((high, low)).decode("gb2312"))
            except UnicodeDecodeError:
                continue  # an unassigned code
    assert len(gb2312) > 7000
    missing = [c for c in gb2312 if ord(c) not in covered]
    assert missing == []
    # the common CJK block (U+4E00–U+9FA5, every GBK hanzi)
    assert all(cp in covered for cp in range(0x4E00, 0x9FA6))


def test_the_report_text_extracts_with_the_chinese_verbatim() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no missing-glyph warnings: what the font lacks is □
        data = _render()
    assert data.startswith(b"%PDF")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    flat = "".join(text.split())
    for expected in [*TEXTS[:2], "证据保全报告", "网络暴力证据保全", "用户甲", "作者1", "帖子1"]:
        assert "".join(expected.split()) in flat, expected
    assert "PlainEnglishtoo□" in flat  # the emoji the font lacks is drawn as □ (items.jsonl keeps it)
    assert _render() == data  # one case, one PDF


def test_the_report_renders_ink_where_the_text_is() -> None:
    document = pdfium.PdfDocument(_render())
    try:
        page = document[0]
        image = page.render(scale=1).to_pil().convert("L")
        page.close()
    finally:
        document.close()
    width, height = image.size
    # the title's first characters, 证据保全报告 (16 pt from the 10 mm margin: x 28–120 pt at 72 dpi)
    title = image.crop((28, 0, 120, height // 20))
    dark = sum(title.histogram()[:128])  # pixels darker than mid-grey
    assert dark > 200, "the title drew no ink: the CJK glyphs did not render"
    bottom = image.crop((0, height - height // 10, width, height))
    assert sum(bottom.histogram()[:128]) == 0  # blank where nothing is written
