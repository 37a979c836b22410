"""Normalisation: each case names the filter dodge it undoes, and checks the offsets back into
the original text, which is what spans in verdicts are built from."""

from __future__ import annotations

import opencc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cvguard.detection.normalize import (
    Normalized,
    PinyinView,
    clause_breaks,
    fold_initials,
    normalize,
    parse_lookalikes,
    parse_splits,
    squeeze,
    to_pinyin,
)


def _check_offsets(norm: Normalized) -> None:
    assert len(norm.text) == len(norm.starts) == len(norm.ends)
    assert all(0 <= s < e <= len(norm.original) for s, e in zip(norm.starts, norm.ends, strict=True))
    assert list(norm.starts) == sorted(norm.starts)
    assert list(norm.ends) == sorted(norm.ends)  # to_pinyin relies on it


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("傻逼", "傻逼"),  # plain text passes through
        ("ｓｈａｂｉ", "shabi"),  # full-width letters
        ("ＳＢ", "sb"),  # full-width capitals, case folded
        ("ⓢⓑ", "sb"),  # circled letters
        ("①②", "12"),  # circled digits
        ("𝐟𝐮𝐜𝐤", "fuck"),  # mathematical bold letters
        ("🅵🆄🅲🅺", "fuck"),  # negative squared letters, which NFKC leaves alone
        ("Ṣḥịṭ", "shit"),  # dots below (Latin Extended Additional)
        ("二〇二四", "二〇二四"),  # 〇 is part of a number, not noise
        ("FUCK", "fuck"),  # shouting
        ("fück", "fuck"),  # accents
        ("f\u0336u\u0336c\u0336k\u0336", "fuck"),  # strike-through / zalgo combining marks
        ("傻\u200b逼", "傻逼"),  # zero-width space
        ("傻\u200d逼", "傻逼"),  # zero-width joiner
        ("傻\ufeff逼", "傻逼"),  # byte-order mark
        ("傻\u00ad逼", "傻逼"),  # soft hyphen
        ("傻\u202e逼", "傻逼"),  # right-to-left override
        ("傻\ufe0f逼", "傻逼"),  # variation selector
        ("傻\x00逼", "傻逼"),  # NUL
        ("fu\u200bck", "fuck"),  # zero-width space inside a Latin word joins it
        ("傻 逼", "傻逼"),  # space between CJK characters
        ("傻 * 逼", "傻逼"),  # symbol with spaces
        ("傻.逼", "傻逼"),  # full stop
        ("傻_逼", "傻逼"),  # underscore
        ("傻❤逼", "傻逼"),  # emoji as noise
        ("傻😀😀逼", "傻逼"),  # several emoji
        ("傻，逼。", "傻逼"),  # CJK punctuation, trailing punctuation
        ("傻1逼", "傻1逼"),  # digits are not noise
        ("傻 b", "傻b"),  # a space next to CJK goes too
        ("n m s l", "nmsl"),  # spaced-out single letters
        ("N.M.S.L", "nmsl"),  # dotted capitals
        ("s-b", "sb"),  # hyphenated single letters
        ("you are", "you are"),  # real words keep one space
        ("you   are!!", "you are"),  # runs of separators become one space, trailing ones go
        ("i am a cat", "i am a cat"),  # single-letter words beside longer ones stay apart
        ("hello, world", "hello world"),  # punctuation between words is one space
        ("  hi  ", "hi"),  # leading and trailing separators
        ("廢物", "废物"),  # traditional characters
        ("媽的", "妈的"),  # traditional characters
        ("傻逼", "傻逼"),  # identical in both scripts
        ("你真🐶", "你真狗"),  # emoji standing for a word
        ("💩", "屎"),  # emoji standing for a word
        ("🐷头", "猪头"),  # emoji standing for a word
        ("n⭕", "no"),  # emoji standing for a letter
        ("сука", "cyka"),  # Cyrillic homoglyphs
        ("fυck", "fuck"),  # Greek homoglyph inside a Latin word
        ("b!tch", "bitch"),  # leetspeak "!" inside a word
        ("sh1t", "shit"),  # leetspeak "1" inside a word
        ("b0b", "bob"),  # leetspeak "0" inside a word
        ("a$$", "ass"),  # "$" at the end of a word
        ("$hit", "shit"),  # "$" at the start of a word
        ("$100", "100"),  # ... but not beside a number
        ("hi!", "hi"),  # an exclamation mark is not a letter at the end of a word
        ("win10", "win10"),  # digits at the end of a word stay digits
        ("2021年", "2021年"),  # numbers untouched
        ("女马的", "妈的"),  # split character
        ("亻尔 女马", "你妈"),  # split characters with noise between them
        ("犭者", "猪"),  # split character
        ("女表子", "婊子"),  # split character, only before 子
        ("女表演", "女表演"),  # ... so that 女表演 stays
        ("日本", "日本"),  # a real word is never merged
        ("女马拉松", "女马拉松"),  # women's marathon is protected
        ("㎏", "kg"),  # one character that expands
        ("ß", "ss"),  # case folding that expands
        ("\ud800abc", "abc"),  # lone surrogate is read as U+FFFD, which is noise
    ],
)
def test_normalize_undoes_dodges(text: str, expected: str) -> None:
    norm = normalize(text)
    assert norm.text == expected
    assert norm.original == text
    _check_offsets(norm)


@pytest.mark.parametrize(
    ("text", "starts", "ends"),
    [
        ("傻 * 逼", (0, 4), (1, 5)),  # noise dropped, each character keeps its own place
        ("n m s l", (0, 2, 4, 6), (1, 3, 5, 7)),  # letters keep their places
        ("you   are", (0, 1, 2, 3, 6, 7, 8), (1, 2, 3, 6, 7, 8, 9)),  # the space spans the run
        ("女马的", (0, 2), (2, 3)),  # a merged character spans its components
        ("ß", (0, 0), (1, 1)),  # an expansion shares the span of its source
        ("a㎏b", (0, 1, 1, 2), (1, 2, 2, 3)),  # ... also in the middle of a text
        ("\u200b\u200bab", (2, 3), (3, 4)),  # removed characters shift the offsets
    ],
)
def test_offsets(text: str, starts: tuple[int, ...], ends: tuple[int, ...]) -> None:
    norm = normalize(text)
    assert (norm.starts, norm.ends) == (starts, ends)


def test_span_covers_original_noise() -> None:
    # A lexicon hit on the normalised 傻逼 highlights the whole dodged form in the original.
    norm = normalize("你个傻 * 逼！")
    i = norm.text.index("傻逼")
    assert norm.span(i, i + 2) == (2, 7)
    with pytest.raises(ValueError, match="empty"):
        norm.span(1, 1)


@pytest.mark.parametrize(
    ("text", "breaks"),
    [
        ("兄弟们冲了，去她评论区骂", [5]),  # the comma is gone from the text but not forgotten
        ("你好。\n我是谁？", [2]),  # several marks in one gap give one break
        ("b!tch", []),  # leetspeak "!" is a letter
        ("结尾。", []),  # nothing after the last mark
        ("傻 逼", []),  # a space is noise, not a clause break
    ],
)
def test_clause_breaks(text: str, breaks: list[int]) -> None:
    assert list(clause_breaks(normalize(text))) == breaks


@pytest.mark.parametrize(
    ("text", "expected", "spans"),
    [
        ("fuuuuck", "fuck", [(0, 1), (1, 5), (5, 6), (6, 7)]),  # stretched Latin word
        ("傻傻傻逼", "傻逼", [(0, 3), (3, 4)]),  # stretched CJK character
        ("fuckk", "fuckk", None),  # a double stays: it may be the word
        ("嘻嘻哈哈", "嘻嘻哈哈", None),  # doubles that are the word itself
        ("哈哈哈哈哈", "哈", [(0, 5)]),  # laughter
        ("1000000", "1000000", None),  # numbers are not squeezed
    ],
)
def test_squeeze(text: str, expected: str, spans: list[tuple[int, int]] | None) -> None:
    norm = normalize(text)
    squeezed = squeeze(norm)
    assert squeezed.text == expected
    _check_offsets(squeezed)
    if spans is not None:
        assert list(zip(squeezed.starts, squeezed.ends, strict=True)) == spans
    if spans is None:
        assert squeezed is norm  # nothing to do, nothing copied


@pytest.mark.parametrize(
    ("text", "syllables"),
    [
        ("傻逼", ["sha", "bi"]),  # the word itself
        ("沙比", ["sha", "bi"]),  # homophone
        ("煞笔", ["sha", "bi"]),  # homophone
        ("草泥马", ["cao", "ni", "ma"]),  # homophone of 操你妈
        ("操你妈", ["cao", "ni", "ma"]),
        ("尼玛", ["ni", "ma"]),  # homophone of 你妈
        ("shabi", ["sha", "bi"]),  # pinyin typed as one Latin word
        ("sha bi", ["sha", "bi"]),  # pinyin typed with a space
        ("ｓｈａ ｂｉ", ["sha", "bi"]),  # full-width pinyin
        ("nima", ["ni", "ma"]),  # pinyin
        ("xian", ["xian"]),  # longest syllable first
        ("nmsl", ["nmsl"]),  # not pinyin: the word as one token
        ("fuck", ["fuck"]),  # not pinyin: the word as one token
        ("傻b", ["sha", "b"]),  # mixed
        ("2024年", ["2024", "nian"]),  # a number is one token
        ("你好，世界！", ["ni", "hao", "shi", "jie"]),  # punctuation gives no token
        ("绿", ["lv"]),  # ü written v, as people type it
        ("", []),
    ],
)
def test_to_pinyin(text: str, syllables: list[str]) -> None:
    view = to_pinyin(normalize(text))
    assert list(view.syllables) == syllables
    assert len(view.syllables) == len(view.starts) == len(view.ends)


def test_pinyin_offsets_point_at_the_original() -> None:
    # "sha bi" in the original: each syllable points at its letters, not at the space.
    view = to_pinyin(normalize("你 sha bi"))
    assert view == PinyinView(("ni", "sha", "bi"), (0, 2, 6), (1, 5, 8))
    # A CJK character behind noise keeps its own offset.
    view = to_pinyin(normalize("煞 * 笔"))
    assert (view.starts, view.ends) == ((0, 4), (1, 5))


@pytest.mark.parametrize(
    ("text", "initials"),
    [
        ("傻逼", "sb"),  # the usual abbreviation
        ("你妈死了", "nmsl"),
        ("nmsl", "nmsl"),  # already abbreviated
        ("shabi", "sb"),
    ],
)
def test_fold_initials(text: str, initials: str) -> None:
    assert fold_initials(to_pinyin(normalize(text))) == initials


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\ud800",  # lone high surrogate
        "\udfff\ud800",  # reversed pair
        "\x00" * 10,  # only NULs
        "".join(chr(c) for c in range(32)),  # every C0 control
        "\u202e\u202d\u200f\u200e",  # only bidi marks
        "e\u0301\u0301\u0301\u0301",  # stacked combining marks
        "مرحبا שלום привет こんにちは 안녕",  # mixed scripts
        "\U0010ffff\U000e0001",  # last code point, tag character
        "\uffff\ufffe",  # noncharacters
    ],
)
def test_never_raises_on_odd_input(text: str) -> None:
    norm = normalize(text)
    _check_offsets(norm)
    _check_offsets(squeeze(norm))
    to_pinyin(norm)


def test_one_megabyte() -> None:
    # Pasted walls of text are ordinary input; they must go through in one piece.
    text = ("傻 逼abc，f u c k 廢物！🐶" * 60_000)[:1_000_000]
    norm = normalize(text)
    _check_offsets(norm)
    view = to_pinyin(norm)
    assert len(view.syllables) == len(view.starts)
    assert squeeze(norm).original is text


def test_traditional_table_agrees_with_opencc() -> None:
    # The per-character table must say what OpenCC says for single characters.
    converter = opencc.OpenCC("t2s")
    for ch in "廢媽後發們說這個還會對讓將開門問見長東車馬鳥龍":
        assert normalize(ch).text == converter.convert(ch), ch


def test_table_rows_are_checked_with_file_and_line() -> None:
    # Every bad row is reported, each with the place to fix it.
    _, _, _, errors = parse_lookalikes("# comment\nаа\ta\talways\nх\tx\tsometimes\n!\t!!\tin_word\nq\n")
    assert errors == [
        "lookalikes.tsv:2: 'аа' must be one character",
        "lookalikes.tsv:3: 'when' is 'sometimes'; use one of always, in_word, word_edge",
        "lookalikes.tsv:4: leetspeak '!' must stand for one Latin letter, not '!!'",
        "lookalikes.tsv:5: expected 3 non-empty tab-separated fields, got 'q'",
    ]
    _, errors = parse_splits("女\t女\n女马\t妈\n女马\t妈\n")
    assert errors == [
        "splits.tsv:1: '女' is not a split character (needs two or more)",
        "splits.tsv:3: '女马' is listed twice",
    ]


def test_shipped_tables_are_consistent() -> None:
    # What a look-alike or a split stands for is itself already normal, so normalising twice
    # changes nothing and lexicon terms written with the target characters still match.
    from importlib import resources

    folder = resources.files("cvguard.detection") / "data" / "normalize"
    always, leet, _, errors = parse_lookalikes((folder / "lookalikes.tsv").read_text(encoding="utf-8"))
    assert errors == []
    for target in [*always.values(), *leet.values()]:
        assert normalize(target).text == target
    splits, errors = parse_splits((folder / "splits.tsv").read_text(encoding="utf-8"))
    assert errors == []
    for merged in splits.values():
        assert normalize(merged).text == merged


# --- properties -------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_offsets_hold_for_any_text(text: str) -> None:
    norm = normalize(text)
    _check_offsets(norm)
    _check_offsets(squeeze(norm))
    view = to_pinyin(norm)
    assert len(view.syllables) == len(view.starts) == len(view.ends)
    assert all(0 <= s < e <= len(text) for s, e in zip(view.starts, view.ends, strict=True))
    breaks = clause_breaks(norm)
    assert list(breaks) == sorted(set(breaks))
    assert all(0 < i < len(norm.text) for i in breaks)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from("\ud800\udc00\u200b\x00")))
def test_any_text_with_surrogates_and_invisibles(text: str) -> None:
    _check_offsets(normalize(text))


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789"))
def test_ascii_alnum_is_identity_up_to_leetspeak(text: str) -> None:
    norm = normalize(text)
    assert len(norm.text) == len(text)
    for got, was in zip(norm.text, text, strict=True):
        assert got == was or (was, got) in {("0", "o"), ("1", "i")}
    assert norm.starts == tuple(range(len(text)))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=8), max_size=8))
def test_words_separated_by_one_space_are_identity(words: list[str]) -> None:
    text = " ".join(words)
    assert normalize(text).text == text


@settings(max_examples=100, deadline=None)
@given(st.text())
def test_normalize_is_idempotent_on_text(text: str) -> None:
    once = normalize(text).text
    assert normalize(once).text == once


def test_the_pinyin_view_of_text_with_punctuation_keeps_every_letter_and_reading() -> None:
    """The run-by-run view (one regex over the text) is the per-character rule: a character with a
    reading, or a letter that is not a digit, gives a token; nothing else does."""
    import random

    from cvguard.detection.normalize import Normalized, _pinyin_tables

    readings = _pinyin_tables()[0]
    pool = [chr(c) for c in (*range(0x2000, 0x2100), *range(0x4E00, 0x4E80), *range(0x3000, 0x3040))]
    pool += ["²", "፩", "\ue815", "，", "。", "é", "ß", "Ж", "😀", " "]
    rng = random.Random(7)
    for _ in range(3000):
        text = "".join(rng.choice(pool) for _ in range(rng.randint(1, 25)))
        norm = Normalized(text, text, tuple(range(len(text))), tuple(range(1, len(text) + 1)))
        keep = [i for i, ch in enumerate(text) if ch in readings or (ch.isalnum() and not ch.isdigit())]
        view = to_pinyin(norm)
        assert view.syllables == tuple(readings.get(text[i], text[i]) for i in keep), text
        assert view.starts == tuple(keep) and view.ends == tuple(i + 1 for i in keep), text
