"""The cyber-violence lexicon: data validation, matching modes, allow-list and hot reload."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from cvguard.detection.lexicon import (
    DEFAULT_DIR,
    Hit,
    Lexicon,
    LexiconError,
    ReloadingLexicon,
    read_lexicon_dir,
)
from cvguard.detection.normalize import normalize, to_pinyin
from cvguard.errors import DataError
from cvguard.taxonomy import load_taxonomy

HEADER = "# version: 2026.11.1\n"


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return Lexicon.default()


def find(lexicon: Lexicon, text: str) -> list[Hit]:
    norm = normalize(text)
    return lexicon.find(norm, to_pinyin(norm))


def write_lexicon(directory: Path, body: str, *, allow: str = "", name: str = "insult.tsv") -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(HEADER + body, encoding="utf-8")
    if allow:
        (directory / "allow.tsv").write_text(HEADER + allow, encoding="utf-8")


# --------------------------------------------------------------------------------- shipped data


def test_every_category_has_entries(lexicon: Lexicon) -> None:
    codes = set(load_taxonomy().codes)
    assert set(lexicon.terms_by_category) == codes
    for code in codes:
        assert len(lexicon.terms_by_category[code]) >= 30, code


def test_shipped_data_is_versioned(lexicon: Lexicon) -> None:
    assert lexicon.version.count(".") == 2
    assert len(lexicon.digest) == 12
    assert len(lexicon.entries) >= 500


def test_every_allow_phrase_shields_some_term(lexicon: Lexicon) -> None:
    # An allow phrase that contains no lexicon term is dead weight, or a sign the term it was
    # written for has been renamed.
    bare = Lexicon(replace(read_lexicon_dir(DEFAULT_DIR), allow=()))
    # Typed initials are read only in Chinese text (sfz shields 死肥猪's initials there).
    dead = [p for p in lexicon.data.allow if not find(bare, p) and not find(bare, f"我的{p}")]
    assert dead == []


@pytest.mark.parametrize("text", ["我的sfz丢了", "上CBG看看", "好用心XDD"])
def test_everyday_abbreviations_are_not_initials(lexicon: Lexicon, text: str) -> None:
    assert [h for h in find(lexicon, text) if h.mode == "initials"] == []


# ----------------------------------------------------------------------------------- matching


@pytest.mark.parametrize(
    ("text", "term", "mode", "span"),
    [
        # exact, offsets into the original text across the separator the normaliser removed
        ("你是傻 逼", "傻逼", "text", "傻 逼"),
        # traditional characters normalise to simplified
        ("你這個傻逼", "傻逼", "text", "傻逼"),
        # a homophone: 沙币 is written nowhere in the lexicon, its pinyin is sha bi
        ("你个沙币", "傻逼", "pinyin", "沙币"),
        # typed pinyin, syllable by syllable and run together: a writer's choice, so cloaked
        ("ni shi sha bi", "傻逼", "cloaked", "sha bi"),
        ("caonima", "操你妈", "cloaked", "caonima"),
        # abbreviations as whole Latin tokens, whatever the case or spacing
        ("nmsl", "nmsl", "abbrev", "nmsl"),
        ("NMSL!!!", "nmsl", "abbrev", "NMSL"),
        ("n m s l", "nmsl", "abbrev", "n m s l"),
        ("你就是个sb吧", "sb", "abbrev", "sb"),
        # repeats squeezed inside a term
        ("狗东东东西", "狗东西", "squeezed", "狗东东东西"),
        ("fuuuuck off", "fuck off", "squeezed", "fuuuuck off"),
        # English whole words
        ("she is a bitch", "bitch", "word", "bitch"),
        ("kill yourself", "kill yourself", "word", "kill yourself"),
        # a threat, a doxxing call and a pile-on call
        ("我知道你住哪，小心点", "我知道你住哪", "text", "我知道你住哪"),
        ("已经人肉到了", "人肉到了", "text", "人肉到了"),
        ("兄弟们冲了", "兄弟们冲了", "text", "兄弟们冲了"),
    ],
)
def test_finds_term(lexicon: Lexicon, text: str, term: str, mode: str, span: str) -> None:
    hits = [h for h in find(lexicon, text) if h.term == term]
    assert hits, find(lexicon, text)
    hit = hits[0]
    assert hit.mode == mode
    assert text[hit.start : hit.end] == span


@pytest.mark.parametrize(
    "text",
    [
        "傻瓜相机很好用",  # allow-list: a camera
        "坐宝鸡巴士回家",  # allow-list: 鸡巴 across two words
        "前面路口交通拥堵",  # allow-list: 口交 across two words
        "我的usb坏了",  # "sb" inside a longer Latin word
        "sbc board",  # "sb" at the start of a longer word
        "this class is great",  # "ass" inside "class"
        "人口爆炸和水乳交融",  # allow-list: 口爆, 乳交
        "转变态度",  # allow-list: 变态 across two words
        "今天天气真不错，我们去公园散步吧",  # plain text
    ],
)
def test_benign_text_has_no_hits(lexicon: Lexicon, text: str) -> None:
    assert find(lexicon, text) == []


def test_the_written_hit_beats_its_pinyin_echo(lexicon: Lexicon) -> None:
    # 傻逼 matches as text and as pinyin at the same place: one hit, mode text.
    assert [(h.term, h.mode) for h in find(lexicon, "你是傻逼")] == [("傻逼", "text")]


def test_a_repeated_term_is_reported_each_time(lexicon: Lexicon) -> None:
    hits = find(lexicon, "傻逼傻逼")
    assert [(h.start, h.end) for h in hits] == [(0, 2), (2, 4)]


def test_overlapping_terms_both_fire(lexicon: Lexicon) -> None:
    terms = {h.term for h in find(lexicon, "我知道你住哪")}
    assert {"我知道你住哪", "知道你住哪"} <= terms


def test_hits_carry_category_severity_and_weight(lexicon: Lexicon) -> None:
    hits = {h.term: h for h in find(lexicon, "你怎么还不去死")}
    hit = hits["怎么还不去死"]
    assert (hit.category, hit.severity) == ("threat", "illegal")
    assert hits["去死"].severity == "harmful"  # the entry overrides the category's tier
    assert 0 < hit.weight <= 1


def test_empty_text(lexicon: Lexicon) -> None:
    assert find(lexicon, "") == []
    assert lexicon.find(normalize("   ")) == []


def test_pinyin_is_computed_when_not_given(lexicon: Lexicon) -> None:
    assert [h.term for h in lexicon.find(normalize("sha bi"))] == ["傻逼"]


# --------------------------------------------------------------------------------- validation


def test_validation_collects_every_problem_with_file_and_line(tmp_path: Path) -> None:
    write_lexicon(
        tmp_path,
        "傻逼\tinsult\t-\ttext\t0.9\n"  # line 2: fine
        "废物\tnot_a_category\t-\ttext\t0.5\n"  # line 3
        "笨蛋\tinsult\tterrible\ttext\t0.5\n"  # line 4
        "nmsl\tinsult\t-\ttext,abbrev\t0.5\n"  # line 5
        "滚\tinsult\t-\ttext,pinyin\t0.5\n"  # line 6: pinyin needs two characters
        "人渣\tinsult\t-\ttext\t1.5\n"  # line 7
        "就一列\n"  # line 8
        "傻逼\tinsult\t-\ttext\t0.8\n",  # line 9: duplicate of line 2
    )
    with pytest.raises(LexiconError) as caught:
        read_lexicon_dir(tmp_path)
    where = [p.split(": ", 1)[0] for p in caught.value.problems]
    assert where == [f"insult.tsv:{n}" for n in (3, 4, 5, 6, 7, 8, 9)]
    assert isinstance(caught.value, DataError)
    assert "insult.tsv:3" in str(caught.value)
    assert "already listed at insult.tsv:2" in caught.value.problems[-1]


def test_a_file_without_version_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "insult.tsv").write_text("傻逼\tinsult\t-\ttext\t0.9\n", encoding="utf-8")
    with pytest.raises(LexiconError, match=r"insult\.tsv:1: entries before"):
        read_lexicon_dir(tmp_path)


def test_an_allow_phrase_may_not_be_a_term(tmp_path: Path) -> None:
    write_lexicon(tmp_path, "傻逼\tinsult\t-\ttext\t0.9\n", allow="傻逼\tno\n")
    with pytest.raises(LexiconError, match="also a lexicon term"):
        Lexicon.from_dir(tmp_path)


def test_newest_file_version_names_the_lexicon(tmp_path: Path) -> None:
    write_lexicon(tmp_path, "傻逼\tinsult\t-\ttext\t0.9\n")
    (tmp_path / "threat.tsv").write_text(
        "# version: 2026.12.3\n去死\tthreat\tharmful\ttext\t0.6\n", encoding="utf-8"
    )
    data = read_lexicon_dir(tmp_path)
    assert data.version == "2026.12.3"
    assert {e.term: e.severity for e in data.entries} == {"傻逼": "harmful", "去死": "harmful"}


# ----------------------------------------------------------------------------------- reloading


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def touch_later(path: Path, seconds: int) -> None:
    # mtime granularity can be coarse: move it explicitly instead of sleeping.
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + seconds * 1_000_000_000))


def test_reload_swaps_in_an_edited_lexicon(tmp_path: Path) -> None:
    write_lexicon(tmp_path, "傻逼\tinsult\t-\ttext\t0.9\n")
    clock = FakeClock()
    live = ReloadingLexicon(tmp_path, interval=5.0, clock=clock)
    assert [h.term for h in live.find(normalize("人渣"))] == []
    write_lexicon(tmp_path, "傻逼\tinsult\t-\ttext\t0.9\n人渣\tinsult\t-\ttext\t0.8\n")
    touch_later(tmp_path / "insult.tsv", 10)
    clock.now += 1  # within the interval: not checked yet
    assert live.find(normalize("人渣")) == []
    clock.now += 5
    assert [h.term for h in live.find(normalize("人渣"))] == ["人渣"]
    assert live.last_error is None


def test_a_bad_reload_keeps_the_old_lexicon_and_reports(tmp_path: Path) -> None:
    write_lexicon(tmp_path, "傻逼\tinsult\t-\ttext\t0.9\n")
    clock = FakeClock()
    reported: list[DataError] = []
    live = ReloadingLexicon(tmp_path, interval=5.0, clock=clock, on_error=reported.append)
    before = live.lexicon
    write_lexicon(tmp_path, "傻逼\tinsult\t-\ttext\tlots\n")
    touch_later(tmp_path / "insult.tsv", 10)
    clock.now += 10
    assert live.reload_if_changed() is False
    assert live.lexicon is before
    assert [h.term for h in live.find(normalize("傻逼"))] == ["傻逼"]
    assert live.last_error is not None and "insult.tsv:2" in str(live.last_error)
    assert reported == [live.last_error]
    # The same bad files are not rebuilt (and reported) again at every interval.
    clock.now += 10
    assert live.reload_if_changed() is False
    assert len(reported) == 1


def test_reload_notices_a_new_file(tmp_path: Path) -> None:
    write_lexicon(tmp_path, "傻逼\tinsult\t-\ttext\t0.9\n")
    clock = FakeClock()
    live = ReloadingLexicon(tmp_path, interval=5.0, clock=clock)
    write_lexicon(tmp_path, "去死\tthreat\t-\ttext\t0.6\n", name="threat.tsv")
    clock.now += 5
    assert live.reload_if_changed() is True
    assert "threat" in live.lexicon.terms_by_category


def test_the_shipped_directory_reloads(tmp_path: Path) -> None:
    shutil.copytree(DEFAULT_DIR, tmp_path / "lexicon")
    live = ReloadingLexicon(tmp_path / "lexicon", clock=FakeClock())
    assert live.version == Lexicon.default().version
