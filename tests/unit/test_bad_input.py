"""Hostile and odd input never breaks screening: only TextTooLarge may escape, offsets stay valid."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cvguard.detection.screen import Screener
from cvguard.errors import TextTooLarge
from cvguard.taxonomy import SEVERITY_ORDER, load_taxonomy
from cvguard.verdict import Verdict

# every code point, lone surrogates, NUL and C0/C1 controls included
ANY_CHAR = st.characters(exclude_categories=())
PIECES = st.sampled_from(
    [
        "傻逼",
        "sb",
        "ＳＢ",
        "s.b",
        "去死",
        "nmsl",
        "13812345678",
        "１３８１２３４５６７８",
        "11010519491231002X",
        "\u200b",
        "\u200d",
        "\ufeff",
        "\x00",
        "\x1b[31m",
        "\r\n",
        "\ud800",
        "\udfff",
        "😡",
        "👍🏻",
        "Ⓢⓑ",
        "ш",
        "مرحبا",
        "नमस्ते",
        "ā",
        "e\u0301",
        "𠀀",
        "幸福路12号",
        "@",
        "  ",
        "京A12345",
    ]
)
MIXED = st.lists(st.one_of(PIECES, st.text(ANY_CHAR, max_size=3)), max_size=30).map("".join)


@pytest.fixture(scope="module")
def screener() -> Screener:
    return Screener.default()


def check_verdict(text: str, verdict: Verdict) -> None:
    assert isinstance(verdict, Verdict)
    assert 0.0 <= verdict.score <= 1.0
    assert verdict.severity is None or verdict.severity in SEVERITY_ORDER
    codes = set(load_taxonomy().codes)
    assert set(verdict.categories) <= codes
    assert all(0.0 <= s <= 1.0 for s in verdict.categories.values())
    for span in verdict.spans:
        assert 0 <= span.start < span.end <= len(text), (span, len(text))
    json.dumps(verdict.to_dict())  # serialisable as the API and CLI will send it


def screen_or_too_large(screener: Screener, text: str) -> None:
    try:
        verdict = screener.screen(text)
    except TextTooLarge:
        assert len(text) > screener.max_chars
        return
    check_verdict(text, verdict)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(ANY_CHAR, max_size=200))
def test_arbitrary_unicode(screener: Screener, text: str) -> None:
    screen_or_too_large(screener, text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=MIXED)
def test_mixed_scripts_and_cloaking(screener: Screener, text: str) -> None:
    screen_or_too_large(screener, text)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(MIXED, max_size=8))
def test_screen_many_agrees_with_screen(screener: Screener, texts: list[str]) -> None:
    verdicts = screener.screen_many(texts)
    assert len(verdicts) == len(texts)
    for text, verdict in zip(texts, verdicts, strict=True):
        check_verdict(text, verdict)
        assert verdict == screener.screen(text)


def test_one_megabyte_text_is_refused_with_a_clear_error(screener: Screener) -> None:
    text = "骂" * 1_000_000
    with pytest.raises(TextTooLarge) as info:
        screener.screen(text)
    message = str(info.value)
    assert "limit" in message
    assert str(screener.max_chars) in message.replace(",", "")  # the limit is named, however formatted


def test_text_at_the_limit_is_screened(screener: Screener) -> None:
    text = ("你好" * screener.max_chars)[: screener.max_chars]
    check_verdict(text, screener.screen(text))


def test_oversized_text_in_a_batch_is_refused(screener: Screener) -> None:
    with pytest.raises(TextTooLarge):
        screener.screen_many(["ok", "x" * (screener.max_chars + 1)])
