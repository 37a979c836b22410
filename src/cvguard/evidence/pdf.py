"""The package's PDF report: a case and its items for people to read, Chinese included.

The font ships with cvguard (``data/fonts/wqy-microhei.ttf``, WenQuanYi Micro Hei, Apache-2.0; see
``data/fonts/README.txt``) and is embedded (subset to the glyphs used) in every report, so a report
renders the same on a machine without any CJK font and nothing is fetched at run time. It covers
GB2312 and the CJK Unified Ideographs U+4E00–U+9FC3; a character it lacks (an emoji, a rare
ideograph) is drawn as □ in the PDF only: items.jsonl keeps every text exactly. The report is
written deterministically (its creation date is the case's), so one case gives one PDF.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from cvguard.evidence.chain import Link

FONT_FILE = "wqy-microhei.ttf"
_FONT = "wqy"
MISSING = "\u25a1"  # □
_PT_MM = 25.4 / 72  # one point in millimetres (the page's unit)


def font_path() -> Path:
    """The packaged CJK font."""
    return Path(str(resources.files("cvguard") / "data" / "fonts" / FONT_FILE))


@lru_cache(maxsize=1)
def _advances() -> dict[int, float]:
    """Each code point the packaged font draws, with its advance width (in em)."""
    from fontTools.ttLib import TTFont

    with TTFont(font_path(), lazy=True) as font:
        cmap = font.getBestCmap()
        metrics = font["hmtx"].metrics
        em = float(font["head"].unitsPerEm)
        return {cp: metrics[glyph][0] / em for cp, glyph in cmap.items()}


def covered() -> frozenset[int]:
    """The code points the packaged font has a glyph for."""
    return frozenset(_advances())


def drawable(text: str) -> str:
    """``text`` with what the font cannot draw as □ (line breaks and tabs as spaces)."""
    have = _advances()
    return "".join(" " if c in "\n\t" else c if ord(c) in have else MISSING for c in text)


def wrap(text: str, width: float) -> list[str]:
    """``text`` (drawable) cut into lines no wider than ``width`` em: at the last space when a line
    has one (words stay whole), else anywhere (Chinese has no spaces). In one pass: fpdf2's own
    line breaking measures each line again per character, which is quadratic in a long text."""
    advance = _advances()
    lines: list[str] = []
    for paragraph in text.split("\n"):
        start, used, space = 0, 0.0, -1
        for i, c in enumerate(paragraph):
            w = advance.get(ord(c), 1.0)
            if used + w > width and i > start:
                cut = space + 1 if space > start else i
                lines.append(paragraph[start:cut].rstrip(" "))
                start, space = cut, -1
                used = sum(advance.get(ord(x), 1.0) for x in paragraph[start:i])
            if c == " ":
                space = i
            used += w
        lines.append(paragraph[start:])
    return lines


def render(header: Mapping[str, Any], links: Sequence[Link]) -> bytes:
    """The PDF report of a case (``header``) and its stored items (``links``)."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    created = header.get("created_at")
    if isinstance(created, str):
        pdf.set_creation_date(datetime.fromisoformat(created))
    pdf.set_title(f"cvguard evidence {header.get('case_id')}")
    pdf.set_author("cvguard")
    pdf.add_font(_FONT, fname=str(font_path()))
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    width = pdf.epw

    def line(text: str, size: float = 9, height: float = 5) -> None:
        pdf.set_font(_FONT, size=size)
        em = width / (size * _PT_MM)  # the line's width in em of this size
        for part in wrap("\n".join(drawable(p) for p in text.split("\n")), em * 0.98):
            pdf.cell(width, height, part, new_x="LMARGIN", new_y="NEXT")

    line("证据保全报告  Evidence report", size=16, height=9)
    line(f"案件 Case: {header.get('case_id')}")
    line(f"当事人 Person: {header.get('owner_id') or '-'}")
    line(f"保全人 Preserved by: {header.get('actor')}   时间 At: {header.get('created_at')}")
    line(f"理由 Reason: {header.get('reason')}")
    line(f"范围 Selection: {json.dumps(header.get('selection'), ensure_ascii=False, sort_keys=True)}")
    line(f"条目 Items: {len(links)}")
    start = links[0].prev if links else ""
    line(f"链起点 Genesis (SHA-256 of case.json): {start or '-'}", size=7)
    line(f"链头 Chain head: {links[-1].digest if links else start or '-'}", size=7)
    line(
        "每条记录的摘要 = SHA-256(前一摘要 + 记录的规范 JSON)；用 `cvguard evidence verify` 校验本包。"
        "  Each digest = SHA-256(previous digest + the record's canonical JSON).",
        size=7,
    )
    for item in links:
        record: dict[str, Any] = json.loads(item.record)
        pdf.ln(3)
        line(f"#{item.position}  {record.get('event_id')}", size=11, height=7)
        author = record.get("author") or {}
        line(f"时间 Time: {record.get('occurred_at')}   平台 Surface: {record.get('surface')}")
        targets = ", ".join(record.get("target_ids") or []) or "-"
        line(f"作者 Author: {author.get('id')}   目标 Targets: {targets}")
        context = record.get("context") or {}
        line(
            f"帖子 Thread: {context.get('thread_id') or '-'}   "
            f"话题 Topics: {', '.join(context.get('topic_ids') or []) or '-'}   "
            f"回复 Reply to: {context.get('reply_to') or '-'}"
        )
        verdict = record.get("verdict")
        if verdict:
            line(
                f"判定 Verdict: violation={verdict.get('violation')} score={verdict.get('score')} "
                f"severity={verdict.get('severity')} categories={_top(verdict.get('categories'))}"
            )
        decision = record.get("decision")
        if decision:
            line(f"处置 Decision: {decision.get('action')} (rule {decision.get('rule_id') or '-'}): "
                 f"{decision.get('reason') or ''}")
        text = record.get("text")
        purged = "内容 Text: (保全前已被清除，仅存 SHA-256 / purged before preservation, SHA-256 only)"
        line("内容 Text:" if text is not None else purged)
        if text is not None:
            line(text, size=11, height=6)
        line(f"text SHA-256: {record.get('text_sha256')}", size=7)
        line(f"digest: {item.digest}", size=7)
    return bytes(pdf.output())


def _top(categories: object) -> str:
    if not isinstance(categories, dict):
        return "-"
    ranked = sorted(((float(v), str(k)) for k, v in categories.items()), reverse=True)[:3]
    return ", ".join(f"{k} {v:.2f}" for v, k in ranked if v > 0) or "-"
