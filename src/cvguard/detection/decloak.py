"""Reading cloaked forms that no table lists: the general rules behind people's substitutions.

The normaliser and the lexicon know the forms written into their tables (沙比, 🐶 for 狗, nmsl).
People invent new ones every day, but by a few rules that do not change, and this module holds
what the lexicon needs to apply those rules to *every* term it has:

- **sound**: a term written with other characters of the same toneless reading (制杖 for 智障),
  in typed pinyin ("la ji"), with pinyin inside Chinese (fei物), or with digits read aloud
  (去4 for 去死, 王8蛋). Typed letters and digits are a writer's own choice and count as a signal;
  Han characters that read like a term count only when they are not themselves a word and do not
  belong to a word around them (白吃 is a word, 一直涨 holds 直涨 inside 一直), which is what
  :func:`reads_as_written` decides from a general word list (jieba's dictionary, MIT licence).
- **initials**: a term typed as the first letters of its syllables (lj for 垃圾), in Chinese text.
- **emoji**: an emoji standing for the thing it shows, by sound or sense (🌿 草 for 操, 🧠 脑);
  :func:`emoji_readings` reads the Unicode CLDR Chinese short names that the ``emoji`` package
  ships (🐶 狗脸, 🌿 药草, 🍵 热茶) and offers the name, its head character and its first
  character as candidates.

None of this reads the project's cloaking suite (``data/wild/cloaking.jsonl``); that suite
measures how far these rules generalise (docs/MODEL.md).
"""

from __future__ import annotations

import importlib.util
import json
import re
from bisect import bisect_left
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Protocol

from cvguard.detection.normalize import Normalized
from cvguard.errors import DataError

# Digits read aloud, as people use them for sounds (去4 = 去死, 王8蛋 = 王八蛋).
DIGIT_READINGS = {
    "0": "ling", "1": "yi", "2": "er", "3": "san", "4": "si",
    "5": "wu", "6": "liu", "7": "qi", "8": "ba", "9": "jiu",
}
# Measure words and units: a digit before one is a quantity (宝8岁, 3个, 10点), not a sound.
MEASURE_CHARS = frozenset(
    "个岁年月日号点分秒元块毛角次人天周届层楼米斤克吨里位名条只张本件台辆部集期场倍成页章回"
)
# A digit run longer than this is a number (a price, a year, a phone), not a cloaked sound.
MAX_DIGIT_RUN = 3
# Words of the word list: two to four Han characters, seen at least this often in its corpus.
WORD_MIN_FREQ = 1
COMMON_CHARS = 200
_WORD_MAX = 4
# Chinese function characters (particles, pronouns, auxiliaries, common adverbs and prepositions): a
# closed class of the grammar, listed here rather than learned.
FUNCTION_CHARS = frozenset(
    "了的地得着过吗呢吧啊呀哦嘛他她它你我您们也就都是在有和与及这那个不没很太还又再才被把给让对从向到说要会能"
)
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")
# CLDR names draw an animal or a thing as "X face" / "X head" (狗脸, 猪头, 马头): the emoji stands for X.
_NAME_SUFFIXES = ("脸", "头")


def _package_file(package: str, name: str) -> Path:
    """A data file inside an installed package, found without importing the package (importing
    jieba or emoji costs 25–100 ms and brings code we do not run)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"the {package!r} package is not installed: screening needs its data file {name}")
    return Path(next(iter(spec.submodule_search_locations))) / name


SPLIT_FILE = Path(__file__).parent / "data" / "split_chars.tsv"
# How many split spellings one term may have (every subset of its characters split, each in each
# of its ways): a four-character term of splittable characters has about 80.
MAX_SPLIT_SPELLINGS = 128


@cache
def split_parts() -> dict[str, tuple[str, ...]]:
    """Character → the ways it splits into two parts (妈 → 女马; 逼 → 辵畐, 辶畐), from
    ``data/split_chars.tsv`` (漢語拆字字典, CC BY 3.0; its header says more)."""
    out: dict[str, list[str]] = {}
    for line in SPLIT_FILE.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        char, parts = line.split("\t")
        out.setdefault(char, []).append(parts)
    return {c: tuple(p) for c, p in out.items()}


def split_spellings(term: str) -> list[str]:
    """``term`` with one or more of its characters written as their two parts (强奸 → 弓虽奸,
    强女干, 弓虽女干), none of them a word of the dictionary; at most ``MAX_SPLIT_SPELLINGS``."""
    parts = split_parts()
    options = [(ch, *parts.get(ch, ())) for ch in term]
    if all(len(o) == 1 for o in options):
        return []
    vocabulary = _dictionary()[0]
    spellings = [""]
    for option in options:
        spellings = [s + o for s in spellings for o in option][: MAX_SPLIT_SPELLINGS + 1]
    # the first spelling is the term itself (every option starts with the character as written)
    return [s for s in spellings[1:] if s not in vocabulary][:MAX_SPLIT_SPELLINGS]


@cache
def _dictionary() -> tuple[frozenset[str], frozenset[str]]:
    """From jieba's dictionary (MIT licence): Han words of 2–4 characters seen at least
    ``WORD_MIN_FREQ`` times (about 300,000), and the ``COMMON_CHARS`` most frequent one-character
    words (的, 你, 个 …). Loaded on first use, about 0.3 s."""
    found: set[str] = set()
    single: list[tuple[int, str]] = []
    with _package_file("jieba", "dict.txt").open(encoding="utf-8") as f:
        for line in f:
            word, freq, _ = line.split(" ", 2)
            if not _HAN.fullmatch(word):
                continue
            if len(word) == 1:
                single.append((int(freq), word))
            elif len(word) <= _WORD_MAX and int(freq) >= WORD_MIN_FREQ:
                found.add(word)
    single.sort(reverse=True)
    return frozenset(found), frozenset(w for _, w in single[:COMMON_CHARS])


def common_only(chars: str) -> bool:
    """Whether every character of ``chars`` is among the ``COMMON_CHARS`` most frequent ones: a
    letter beside them is a name or a code (小S, 人Y, c他), not a term with one character typed
    as its initial (傻B, 脑c)."""
    return all(ch in _dictionary()[1] for ch in chars)


def reads_as_written(text: str, start: int, end: int, term: str | None = None) -> bool:
    """Whether the Han sequence ``text[start:end]`` is ordinary writing rather than a cloaked form:
    it is a word, a word of ``text`` crosses one of its edges, or it is made only of the most
    common characters (function words and the like).

    白吃 (a word) is not 白痴; 直涨 in 一直涨 and 见人 in 看见人 are pieces of other words; 你个
    (ni ge) is two everyday characters, not a slur; 吐了 is not 屠了 (see ``FUNCTION_CHARS``); 司机老
    holds the word 司机, so it is not 死基佬; and people who cloak keep some tone: 奇低 (qí dī) is not
    起底 (qǐ dǐ), while 制杖 is zhì zhàng like 智障 (see :func:`_tones_close`). 制杖, 辣鸡 and 若智
    stand alone.
    """
    vocabulary, common = _dictionary()
    surface = text[start:end]
    if surface in vocabulary or all(ch in common for ch in surface):
        return True
    if term is not None and len(surface) == len(term):
        if not _tones_close(surface, term):
            return True
        # A word inside the span that takes in a changed character: 司机老 holds 司机, so it is
        # not 死基佬 (绿茶表 holds 绿茶 too, but unchanged: it still reads as 绿茶婊).
        for i in range(len(surface) - 1):
            for j in range(i + 2, min(len(surface), i + _WORD_MAX) + 1):
                if surface[i:j] in vocabulary and surface[i:j] != term[i:j]:
                    return True
    if term is not None and len(surface) == 2 and len(term) == 2:
        # 吐了 for 屠了, 马的 for 妈的, 爸他 for 扒他: one changed character beside a function
        # word is how ordinary sentences collide with a term's sound, not how people cloak it.
        for a, b in zip(surface, term, strict=True):
            if a == b and a in FUNCTION_CHARS:
                return True
    return crosses_word(text, start, end)


def crosses_word(text: str, start: int, end: int) -> bool:
    """Whether a word of ``text`` crosses an edge of ``text[start:end]`` (直涨 in 一直涨; 姑娘 in
    b姑娘): the span is then a piece of ordinary writing, not a term standing alone."""
    vocabulary = _dictionary()[0]
    n = len(text)
    for edge in (start, end):
        if edge <= 0 or edge >= n:
            continue
        for i in range(max(0, edge - _WORD_MAX + 1), edge):
            for j in range(edge + 1, min(n, i + _WORD_MAX) + 1):
                if text[i:j] in vocabulary:
                    return True
    return False


_TONE_OF_MARK = {"\u0304": 1, "\u0301": 2, "\u030c": 3, "\u0300": 4}


@cache
def _tone_table() -> dict[str, int]:
    """Han character → the tone of its most common reading (5: neutral), from pypinyin's table."""
    import unicodedata

    from pypinyin.pinyin_dict import pinyin_dict

    table: dict[str, int] = {}
    for cp, readings in pinyin_dict.items():
        first = readings.split(",", 1)[0]
        marks = [_TONE_OF_MARK[c] for c in unicodedata.normalize("NFD", first) if c in _TONE_OF_MARK]
        table[chr(cp)] = marks[0] if marks else 5
    return table


def _tones_close(surface: str, term: str) -> bool:
    """Whether a same-sound ``surface`` keeps a tone of ``term``: when two or more characters are
    changed, at least one keeps its tone (辣鸡 là jī for 垃圾 lā jī), else the likeness is a
    coincidence of sound (比养 bǐ yǎng and 逼样 bī yàng, 奇低 and 起底)."""
    table = _tone_table()
    changed = [(a, b) for a, b in zip(surface, term, strict=True) if a != b]
    if len(changed) < 2:
        return True
    return any(table.get(a) == table.get(b) for a, b in changed)


@cache
def _emoji_names() -> dict[str, str]:
    """Emoji (variation selectors dropped) → CLDR Chinese short name, from the ``emoji`` package."""
    raw = _package_file("emoji", "unicode_codes/emoji_zh.json").read_text("utf-8")
    names: dict[str, str] = {}
    for emoji, name in json.loads(raw).items():
        key = emoji.replace("\ufe0f", "")
        name = name.strip(":").replace("_", "")
        if key and _HAN.fullmatch(name):
            names.setdefault(key, name)
    return names


def emoji_readings(emoji: str) -> tuple[str, ...]:
    """What one emoji may stand for, most specific first: its CLDR name without a "face"/"head"
    suffix, the name's head (last) character and its first character (🌿 药草 → 药草, 草, 药;
    🐶 狗脸 → 狗). Empty when the emoji has no Chinese name."""
    name = _emoji_names().get(emoji.replace("\ufe0f", ""))
    if not name:
        return ()
    for suffix in _NAME_SUFFIXES:
        if len(name) > 1 and name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    out: list[str] = []
    for reading in (name, name[-1], name[0]):
        if reading not in out:
            out.append(reading)
    return tuple(out)


@cache
def emoji_chars() -> frozenset[str]:
    """The single-code-point emoji that have a Chinese name (a fast pre-check before the pattern)."""
    return frozenset(k for k in _emoji_names() if len(k) == 1)


@cache
def emoji_pattern() -> re.Pattern[str]:
    """Single-code-point emoji with a Chinese name, each with an optional variation selector.
    Sequences (flags, families, skin tones) do not stand for characters and are not matched."""
    chars = sorted(emoji_chars())
    return re.compile("[" + "".join(re.escape(c) for c in chars) + "]\ufe0f?")


def warm() -> None:
    """Load the word list, tone and emoji tables now (about half a second, once per process)."""
    _dictionary()
    _tone_table()
    emoji_chars()


class _HitLike(Protocol):
    @property
    def term(self) -> str: ...
    @property
    def mode(self) -> str: ...
    @property
    def weight(self) -> float: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...


# Hits that say what a cloaked span stands for. ``initials`` only when one term fits the letters.
DECODED_MODES = frozenset({"cloaked", "homophone", "initials"})


def decode(
    norm: Normalized, hits: Sequence[_HitLike], normalizer: Callable[[str], Normalized]
) -> Normalized | None:
    """``norm`` with every cloaked span written as the term it stands for (辣鸡 → 垃圾, 🌿泥🐴 →
    草泥马, "la ji" → 垃圾), so that the model reads what the writer meant; None when nothing is
    cloaked. Offsets still point into the original text: a term's characters all map to the span
    it replaces. Overlapping candidates keep the longest (then the weightiest); letters that
    several terms share (lj: 垃圾, 轮奸) are left as written."""
    candidates = [h for h in hits if h.mode in DECODED_MODES]
    if not candidates:
        return None
    terms_at: dict[tuple[int, int], set[str]] = {}
    for h in candidates:
        terms_at.setdefault((h.start, h.end), set()).add(h.term)
    candidates = [h for h in candidates if h.mode != "initials" or len(terms_at[(h.start, h.end)]) == 1]
    candidates.sort(key=lambda h: (-(h.end - h.start), -h.weight, h.start))
    chosen: list[_HitLike] = []
    for h in candidates:
        if all(h.end <= c.start or c.end <= h.start for c in chosen):
            chosen.append(h)
    if not chosen:
        return None
    chosen.sort(key=lambda h: h.start)
    text, starts, ends = norm.text, norm.starts, norm.ends
    pieces: list[str] = []
    new_starts: list[int] = []
    new_ends: list[int] = []
    at = 0
    for h in chosen:
        a = max(at, bisect_left(starts, h.start))
        b = max(a, bisect_left(starts, h.end))
        pieces.append(text[at:a])
        new_starts.extend(starts[at:a])
        new_ends.extend(ends[at:a])
        term = normalizer(h.term).text
        pieces.append(term)
        new_starts.extend([h.start] * len(term))
        new_ends.extend([h.end] * len(term))
        at = b
    pieces.append(text[at:])
    new_starts.extend(starts[at:])
    new_ends.extend(ends[at:])
    return Normalized(norm.original, "".join(pieces), tuple(new_starts), tuple(new_ends))
