"""Normalisation that undoes filter dodging while keeping offsets into the original text.

CONTRACT (implemented by the normaliser work; other modules rely on exactly this):

    normalize(text: str) -> Normalized
    to_pinyin(norm: Normalized) -> PinyinView
    squeeze(norm: Normalized) -> Normalized   # runs of one repeated character collapsed, offsets kept

``Normalized.text`` is the canonical form used for matching and features; for every character
``text[i]`` the original span is ``(starts[i], ends[i])`` (code-point offsets into
``Normalized.original``). ``Normalized.span(i, j)`` maps a half-open normalised range back to the
smallest original range covering it.

``PinyinView.syllables`` is one toneless syllable per token (a CJK character, or a pinyin syllable
recognised inside a Latin run), with ``starts``/``ends`` into the original text.

What ``normalize`` undoes, in order:

1. per character (computed once per code point, then a ``str.translate``): lone surrogates read as
   U+FFFD; NFKC (full width, circled and styled letters and digits); case folding; Latin accents
   and combining marks dropped; look-alikes (``data/normalize/lookalikes.tsv``: Cyrillic/Greek
   homoglyphs, emoji such as 🐶 → 狗); traditional → simplified (OpenCC's character table); any
   decimal digit → ASCII. Format and control characters (zero-width, bidi marks, soft hyphen,
   variation selectors, NUL) vanish; whitespace, punctuation, symbols and unmapped emoji become
   separators.
2. in context: leetspeak inside Latin words ("b!tch" → "bitch"); a run of separators vanishes next
   to a CJK character ("傻 * 逼" → "傻逼"), at either end of the text, and between single letters
   ("n m s l" → "nmsl"); anywhere else it becomes one space ("you   are" → "you are").
3. split characters (``data/normalize/splits.tsv``): "女马" → "妈", longest listed sequence first.

Repeats are not squeezed here (嘻嘻哈哈 and "fuckk" double for real); ``squeeze`` is the second
view that callers match as well. A normalised character made from several original ones (a merged
split character, a squeezed run, a collapsed separator run) spans all of them; several normalised
characters made from one original one (NFKC "㎏" → "kg") share its span.

Lexicon terms must be passed through ``normalize`` too, so that both sides agree (著 → 着 and the
like are applied to every text alike).
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from itertools import compress

__all__ = [
    "Normalized",
    "PinyinView",
    "TableError",
    "clause_breaks",
    "fold_initials",
    "normalize",
    "parse_lookalikes",
    "parse_splits",
    "squeeze",
    "to_pinyin",
    "warm",
]

_DATA = resources.files("cvguard.detection") / "data" / "normalize"

_REMOVED = "\x00"  # per-character map: the character vanishes
_SEP = " "  # per-character map: the character is a separator
_EXPANDED = "\x01"  # per-character map: the normal form is longer than one character (see _EXPANSIONS)


@dataclass(frozen=True, slots=True)
class Normalized:
    original: str
    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]

    def span(self, i: int, j: int) -> tuple[int, int]:
        """Original ``(start, end)`` covering normalised characters ``[i, j)``."""
        if j <= i:
            raise ValueError("empty range")
        return self.starts[i], max(self.ends[i:j])


@dataclass(frozen=True, slots=True)
class PinyinView:
    syllables: tuple[str, ...]
    starts: tuple[int, ...]
    ends: tuple[int, ...]


# --- data tables ------------------------------------------------------------------------------


class TableError(ValueError):
    """A normalisation table is malformed; the message lists every bad row as ``file:line``."""


def _rows(name: str, text: str, width: int, errors: list[str]) -> Iterator[tuple[int, list[str]]]:
    """Data rows with their line numbers; a malformed row is reported (in file order, as the caller
    reports its own findings) and skipped."""
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != width or not all(fields):
            errors.append(f"{name}:{lineno}: expected {width} non-empty tab-separated fields, got {line!r}")
            continue
        yield lineno, fields


_WHEN = ("always", "in_word", "word_edge")


def parse_lookalikes(
    text: str, name: str = "lookalikes.tsv"
) -> tuple[dict[str, str], dict[str, str], frozenset[str], list[str]]:
    """``lookalikes.tsv`` → (always, in-word, word-edge keys, errors)."""
    errors: list[str] = []
    always: dict[str, str] = {}
    in_word: dict[str, str] = {}
    edge: set[str] = set()
    for lineno, (src, dst, when) in _rows(name, text, 3, errors):
        where = f"{name}:{lineno}"
        if len(src) != 1:
            errors.append(f"{where}: {src!r} must be one character")
        elif src in always or src in in_word:
            errors.append(f"{where}: {src!r} is listed twice")
        elif when not in _WHEN:
            errors.append(f"{where}: 'when' is {when!r}; use one of {', '.join(_WHEN)}")
        elif when == "always":
            if src != src.casefold():
                errors.append(f"{where}: {src!r} is matched after case folding; list {src.casefold()!r}")
            always[src] = dst
        elif len(dst) != 1 or not dst.isascii() or not dst.isalpha():
            errors.append(f"{where}: leetspeak {src!r} must stand for one Latin letter, not {dst!r}")
        else:
            in_word[src] = dst
            if when == "word_edge":
                edge.add(src)
    return always, in_word, frozenset(edge), errors


def parse_splits(text: str, name: str = "splits.tsv") -> tuple[dict[str, str], list[str]]:
    """``splits.tsv`` → (components → merged, errors)."""
    errors: list[str] = []
    table: dict[str, str] = {}
    for lineno, (components, merged) in _rows(name, text, 2, errors):
        where = f"{name}:{lineno}"
        if len(components) < 2:
            errors.append(f"{where}: {components!r} is not a split character (needs two or more)")
        elif components in table:
            errors.append(f"{where}: {components!r} is listed twice")
        else:
            table[components] = merged
    return table, errors


def _load() -> tuple[dict[str, str], dict[str, str], frozenset[str], dict[str, str]]:
    always, leet, edge, errors = parse_lookalikes((_DATA / "lookalikes.tsv").read_text(encoding="utf-8"))
    splits, split_errors = parse_splits((_DATA / "splits.tsv").read_text(encoding="utf-8"))
    errors += split_errors
    if errors:
        raise TableError("\n".join(errors))
    return always, leet, edge, splits


def _load_t2s() -> dict[str, str]:
    # OpenCC's own character table (first candidate wins); phrase-level conversion is not needed
    # for matching, and a per-character dict keeps this a str.translate.
    text = (resources.files("opencc") / "dictionary" / "TSCharacters.txt").read_text(encoding="utf-8")
    table: dict[str, str] = {}
    for line in text.splitlines():
        trad, _, simp = line.partition("\t")
        if len(trad) == 1 and simp:
            table[trad] = simp.split(" ")[0]
    return table


_ALWAYS, _LEET, _LEET_EDGE, _SPLITS = _load()
_T2S = _load_t2s()
_SPLIT_RE = re.compile("|".join(re.escape(k) for k in sorted(_SPLITS, key=len, reverse=True)))


# --- per-character map ------------------------------------------------------------------------

_EXPANSIONS: dict[int, str] = {}
_REMOVED_CATEGORIES = frozenset({"Mn", "Me", "Cf", "Cc", "Cs"})
_KEPT_LEET = frozenset(_LEET) - frozenset("0123456789")  # punctuation that may turn into a letter


def _fold_one(ch: str) -> str:
    """One character of an NFKC + case-folded form → normal character, _SEP or _REMOVED."""
    ch = _ALWAYS.get(ch, ch)
    if ch in _KEPT_LEET:
        return ch
    cat = unicodedata.category(ch)
    if ch.isspace():
        return _SEP
    if cat in _REMOVED_CATEGORIES:
        return _REMOVED
    if cat[0] == "L":
        if ch > "\x7f":
            base = unicodedata.normalize("NFD", ch)[0]
            if base.isascii() and base.isalpha():  # a Latin letter with a diacritic: é → e
                return base
        return _T2S.get(ch, ch)
    if cat == "Nd":
        return str(unicodedata.decimal(ch))
    if cat in ("Mc", "Nl"):  # spacing vowel signs; 〇 in 二〇二四
        return ch
    return _SEP  # punctuation, symbols, spaces, unmapped emoji, private use, unassigned


# Enclosed letters that NFKC leaves alone: negative circled 🅐 and negative squared 🅰 (A to Z).
_LETTER_BLOCKS = (0x1F150, 0x1F170)


def _fold(cp: int) -> str:
    for base in _LETTER_BLOCKS:
        if base <= cp < base + 26:
            return chr(ord("a") + cp - base)
    ch = "\ufffd" if 0xD800 <= cp <= 0xDFFF else chr(cp)
    if ch in _ALWAYS:  # before NFKC: some look-alikes have compatibility decompositions
        return _fold_one(ch)
    expanded = unicodedata.normalize("NFKC", ch).casefold()
    if len(expanded) == 1:
        return _fold_one(expanded)
    out: list[str] = []
    for part in expanded:
        folded = _fold_one(part)
        if folded == _REMOVED or (folded == _SEP and out and out[-1] == _SEP):
            continue
        out.append(folded)
    if not out:
        return _REMOVED
    if len(out) == 1:
        return out[0]
    _EXPANSIONS[cp] = "".join(out)
    return _EXPANDED


class _CharMap(dict[int, str]):
    """Code point → folded character, filled on first sight (``str.translate`` looks it up)."""

    def __missing__(self, cp: int) -> str:
        folded = _fold(cp)
        if len(self) < _CHARMAP_LIMIT:  # a text of every code point must not grow it without end
            self[cp] = folded
        return folded


_CHARMAP_LIMIT = 200_000


_CHARMAP = _CharMap()
for _cp in range(128):  # ASCII up front, so that plain text never reaches __missing__
    _CHARMAP[_cp] = _fold(_cp)


def _class(cps: list[int]) -> str:
    """A regex character class body for sorted code points, written as ranges."""
    parts: list[str] = []
    i = 0
    while i < len(cps):
        j = i
        while j + 1 < len(cps) and cps[j + 1] == cps[j] + 1:
            j += 1
        parts.append(re.escape(chr(cps[i])) + ("-" + re.escape(chr(cps[j])) if j > i else ""))
        i = j + 1
    return "".join(parts)


def _plain_classes() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """(a character that only ``str.translate`` can map, a character that maps to a separator).

    Most comments are CJK ideographs that map to themselves plus punctuation that maps to a
    separator; for them two C-level regex calls replace a ``str.translate`` that looks up every
    character in a Python dict."""
    same: list[int] = []
    sep: list[int] = []
    for cp in (*range(128), *range(0x2000, 0x2070), *range(0x3000, 0x3040), *range(0xFF00, 0xFFF0)):
        folded = _CHARMAP[cp]
        if folded == chr(cp):
            same.append(cp)
        elif folded == _SEP:
            sep.append(cp)
    # A unified ideograph (category Lo) has no compatibility decomposition and no case, so
    # _fold maps it to itself unless it is a look-alike or a traditional character.
    same.extend(
        cp
        for cp in range(0x4E00, 0xA000)
        if (ch := chr(cp)) not in _T2S and ch not in _ALWAYS and unicodedata.category(ch) == "Lo"
    )
    same.sort()
    return re.compile(f"[^{_class(same)}{_class(sep)}]"), re.compile(f"[{_class(sep)}]")


_NEEDS_TRANSLATE, _SEPARATOR = _plain_classes()

_SPECIAL = _REMOVED + _SEP + "".join(_LEET)  # characters the context rules look at
_NOT_WORD = frozenset(_SPECIAL) - frozenset("0123456789")  # ... of which not digits
_CJK_CLASS = "\u2e80-\u9fff\uf900-\ufaff\U00020000-\U0003ffff"


def _charset(chars: str | frozenset[str]) -> str:
    return "[" + "".join(re.escape(c) for c in sorted(chars)) + "]"


_S, _W = _charset(_SPECIAL), _charset(_NOT_WORD - _LEET_EDGE)
# The common cases are settled inside the regex engine: a run of separators touching a CJK
# character or the end of the text is dropped (group "drop"; "$" excepted, it may be the "s" of
# "a$$"), and a lone space between two words, not both single letters, is kept by not matching.
# Everything else found here goes through the Python rules in _resolve.
_RUN_RE = re.compile(
    rf"{_S}(?:"  # leading with a character set lets the engine skip plain text at C speed
    rf"(?P<drop>(?<=[{_CJK_CLASS}]{_W}){_W}*|(?<!{_W}{_W})(?<={_W}){_W}*(?=[{_CJK_CLASS}]|\Z))"
    rf"|{_S}*(?!(?<=[a-z0-9]{{2}} )(?=[a-z0-9])|(?<=[a-z0-9] )(?=[a-z0-9]{{2}})))"
)


def _is_cjk(ch: str) -> bool:  # the ranges of _CJK_CLASS
    return "\u2e80" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" or "\U00020000" <= ch <= "\U0003ffff"


def _is_latin(ch: str) -> bool:
    return "a" <= ch <= "z"


# --- normalize --------------------------------------------------------------------------------

_COUNT = tuple(range(4097))  # sliced for the offsets of short texts that need no change


def normalize(text: str) -> Normalized:
    pos: list[int] | None = None
    if _NEEDS_TRANSLATE.search(text) is None:
        m = _SEPARATOR.sub(_SEP, text)  # the same as the translate for these characters
    else:
        m = text.translate(_CHARMAP)
        if _EXPANDED in m:
            m, pos = _expand(m, text)
    norm = _drop_runs(text, m) if pos is None else None
    if norm is None:
        norm = _resolve(text, m, pos)
    if _SPLIT_RE.search(norm.text):
        norm = _merge_splits(norm)
    return norm


def _drop_runs(text: str, m: str) -> Normalized | None:
    """The common case of ``_resolve``: every separator run found is one that vanishes (or there
    is none), so the result is the kept slices, and the offsets are slices of ``_COUNT``. None
    when a run needs the rules in ``_resolve``, or the text is too long for ``_COUNT``."""
    n = len(m)
    if n >= len(_COUNT):
        return None
    parts = _RUN_RE.split(m)  # kept, drop group, kept, drop group, ..., kept
    if len(parts) == 1:
        return Normalized(text, m, _COUNT[:n], _COUNT[1 : n + 1])
    kept, drops = parts[::2], parts[1::2]
    if None in drops:  # a run that is not a "drop"
        return None
    starts: tuple[int, ...] = ()
    ends: tuple[int, ...] = ()
    a = 0
    for piece, drop in zip(kept, drops, strict=False):  # the last kept piece is added below
        b = a + len(piece)
        starts += _COUNT[a:b]
        ends += _COUNT[a + 1 : b + 1]
        a = b + 1 + len(drop)  # the run is its first character and the drop group
    return Normalized(text, "".join(kept), starts + _COUNT[a:n], ends + _COUNT[a + 1 : n + 1])


def _expand(m: str, text: str) -> tuple[str, list[int]]:
    chars: list[str] = []
    pos: list[int] = []
    for i, ch in enumerate(m):
        if ch == _EXPANDED:
            parts = _EXPANSIONS[ord(text[i])]
            chars.extend(parts)
            pos.extend([i] * len(parts))
        else:
            chars.append(ch)
            pos.append(i)
    return "".join(chars), pos


def _resolve(text: str, m: str, pos: list[int] | None) -> Normalized:
    """Apply the context rules (leetspeak, separator runs) to the per-character map ``m``.

    Works on ``out``, one slot per character of ``m`` ("" once dropped), so that the offsets come
    from C-level ``compress`` rather than a Python loop over every character."""
    n = len(m)
    out = list(m)
    wide: dict[int, int] = {}  # slot of a kept separator → last slot of the run it stands for
    for run in _RUN_RE.finditer(m):
        a, b = run.span()
        out[a:b] = [""] * (b - a)
        if run.lastgroup:
            continue
        if b - a == 1 and m[a] == _SEP and a and b < n and m[a - 1] not in _SPECIAL:
            # One separator between two words (CJK would have made it a "drop"): a space,
            # unless both words are single letters ("n m s l").
            left, right = m[a - 1], m[b]
            if not (
                _is_latin(left)
                and _is_latin(right)
                and (a < 2 or not out[a - 2].isalnum())
                and (b + 1 >= n or not m[b + 1].isalnum())
            ):
                out[a] = _SEP
            continue
        if m[a:b].isdigit() and not (a and _is_latin(m[a - 1]) and b < n and _is_latin(m[b])):
            out[a:b] = m[a:b]  # "0" and "1" in a number ("2021") are only digits
            continue
        items = [i for i in range(a, b) if m[i] != _REMOVED]
        if not items:
            continue
        j = a - 1
        while j >= 0 and not out[j]:  # back over a run the regex just dropped
            j -= 1
        left = out[j] if j >= 0 else ""
        right = m[b] if b < n else ""
        chars = [m[i] for i in items]
        if _leet_applies(chars, left, right):
            for i, ch in zip(items, chars, strict=True):
                out[i] = _LEET[ch]
            continue
        prev = left
        prev_single = _is_latin(left) and (j < 1 or not out[j - 1].isalnum())
        right_single = _is_latin(right) and (b + 1 >= n or not m[b + 1].isalnum())
        k = 0
        while k < len(items):
            ch = chars[k]
            if ch not in _NOT_WORD:  # a digit
                out[items[k]] = ch
                prev, prev_single = ch, False
                k += 1
                continue
            g = k
            while k < len(items) and chars[k] in _NOT_WORD:
                k += 1
            nxt = chars[k] if k < len(items) else right
            nxt_single = right_single if k == len(items) else False
            if not prev or not nxt or _is_cjk(prev) or _is_cjk(nxt) or (prev_single and nxt_single):
                continue
            out[items[g]] = _SEP
            if items[k - 1] != items[g]:
                wide[items[g]] = items[k - 1]
            prev, prev_single = _SEP, False
    kept = "".join(out)
    if pos is None and not wide:
        return Normalized(text, kept, tuple(compress(range(n), out)), tuple(compress(range(1, n + 1), out)))
    slots = list(compress(range(n), out))
    lasts = [wide.get(i, i) for i in slots] if wide else slots
    if pos is not None:
        slots = [pos[i] for i in slots]
        lasts = [pos[i] for i in lasts]
    return Normalized(text, kept, tuple(slots), tuple([i + 1 for i in lasts]))


def _leet_applies(chars: list[str], left: str, right: str) -> bool:
    if not all(ch in _LEET for ch in chars) or len(chars) > 3:
        return False
    if _is_latin(left) and _is_latin(right):
        return True
    # "$" may also close or open a word ("a$$", "$hit"), but not touch a number ("$100").
    if all(ch in _LEET_EDGE for ch in chars):
        return (_is_latin(left) and not right.isdigit()) or (_is_latin(right) and not left.isdigit())
    return False


def _merge_splits(norm: Normalized) -> Normalized:
    text, starts, ends = norm.text, norm.starts, norm.ends
    pieces: list[str] = []
    new_starts: list[int] = []
    new_ends: list[int] = []
    cursor = 0
    for match in _SPLIT_RE.finditer(text):
        a, b = match.span()
        merged = _SPLITS[match.group()]
        if merged == match.group():
            continue  # a protected ordinary sequence
        pieces.append(text[cursor:a])
        new_starts.extend(starts[cursor:a])
        new_ends.extend(ends[cursor:a])
        for ch in merged:  # one character, or a few that then share the whole span
            pieces.append(ch)
            new_starts.append(starts[a])
            new_ends.append(max(ends[a:b]))
        cursor = b
    if cursor == 0:
        return norm
    pieces.append(text[cursor:])
    new_starts.extend(starts[cursor:])
    new_ends.extend(ends[cursor:])
    return Normalized(norm.original, "".join(pieces), tuple(new_starts), tuple(new_ends))


# Sentence and clause punctuation (ASCII, full width, CJK) and line breaks.
_CLAUSE_BREAK_RE = re.compile(r"[,.;:!?\n\r\u3001\u3002\uff0c\uff0e\uff1b\uff1a\uff01\uff1f\u2026]")


def clause_breaks(norm: Normalized) -> tuple[int, ...]:
    """Normalised indices ``i`` where the original had clause punctuation or a line break between
    ``text[i - 1]`` and ``text[i]``. ``normalize`` drops that punctuation between CJK characters
    (it is a favourite noise character: 傻。逼), so rules that must not reach across clauses ask
    here; a leetspeak "!" inside a word is a letter, not a break."""
    text, starts, ends = norm.text, norm.starts, norm.ends
    breaks: list[int] = []
    for match in _CLAUSE_BREAK_RE.finditer(norm.original):
        at = match.start()
        i = bisect_right(starts, at)  # first normalised character starting after the mark
        if 0 < i < len(text) and ends[i - 1] <= at and (not breaks or breaks[-1] != i):
            breaks.append(i)
    return tuple(breaks)


# --- squeeze ----------------------------------------------------------------------------------

_REPEAT_RE = re.compile(r"(.)\1\1+", re.DOTALL)  # a lean pattern: it runs on every text


def squeeze(norm: Normalized) -> Normalized:
    """Collapse every run of three or more of one letter (CJK or Latin) to one; the kept character
    spans the whole run. Doubles stay: they are often the real word ("fuckk", 嘻嘻哈哈); digits
    stay: they are numbers."""
    text, starts, ends = norm.text, norm.starts, norm.ends
    runs = [m.span() for m in _REPEAT_RE.finditer(text) if m.group(1).isalpha()]
    if not runs:
        return norm
    pieces: list[str] = []
    new_starts: list[int] = []
    new_ends: list[int] = []
    cursor = 0
    for a, b in runs:
        pieces.append(text[cursor : a + 1])
        new_starts.extend(starts[cursor : a + 1])
        new_ends.extend(ends[cursor:a])
        new_ends.append(max(ends[a:b]))
        cursor = b
    pieces.append(text[cursor:])
    new_starts.extend(starts[cursor:])
    new_ends.extend(ends[cursor:])
    return Normalized(norm.original, "".join(pieces), tuple(new_starts), tuple(new_ends))


# --- pinyin -----------------------------------------------------------------------------------

# Interjection-only readings: as Latin letters they are noise ("nm" is not 嗯呣).
_NOT_SYLLABLES = frozenset({"m", "n", "ng", "hm", "hng"})
_TONE_MARKS = frozenset("\u0300\u0301\u0304\u030c")


@cache
def _pinyin_tables() -> tuple[dict[str, str], frozenset[str]]:
    """Han character → toneless first reading (pypinyin's most common one), and the valid
    syllables. Built once, on first use: ``pypinyin.pinyin_dict`` takes ~0.2 s to import."""
    from pypinyin.pinyin_dict import pinyin_dict

    readings: dict[str, str] = {}
    plain: dict[str, str] = {}
    for cp, all_readings in pinyin_dict.items():
        first = all_readings.split(",", 1)[0]
        syllable = plain.get(first)
        if syllable is None:
            decomposed = unicodedata.normalize("NFD", first)
            stripped = "".join(c for c in decomposed if c not in _TONE_MARKS)
            syllable = unicodedata.normalize("NFC", stripped).replace("ü", "v").replace("ê", "e")
            plain[first] = syllable
        readings[chr(cp)] = syllable
    syllables = frozenset(s for s in plain.values() if s.isascii() and s.isalpha()) - _NOT_SYLLABLES
    return readings, syllables


_LONGEST_SYLLABLE = 6  # zhuang, chuang, shuang
_TOKEN_RE = re.compile(r"[a-z]+|[0-9]+|[^\W\d_a-z]+")  # Latin word, number, run of other letters
_LATIN_OR_DIGIT = re.compile(r"[a-z0-9_]")


def _latin_tokens(word: str) -> tuple[tuple[str, int, int], ...]:
    """``word`` as pinyin syllables with their offsets in it, longest syllable first, or the whole
    word as one token when it does not split completely into syllables ("nmsl", "fuck")."""
    if len(word) > 64:  # no pinyin is that long; keep the cache for real words
        return ((word, 0, len(word)),)
    return _latin_tokens_cached(word)


@lru_cache(maxsize=16384)
def _latin_tokens_cached(word: str) -> tuple[tuple[str, int, int], ...]:
    syllables = _pinyin_tables()[1]
    n = len(word)
    nxt = [0] * (n + 1)  # nxt[i]: end of the syllable chosen at i; 0 when word[i:] cannot split
    nxt[n] = n
    for i in range(n - 1, -1, -1):
        for j in range(min(n, i + _LONGEST_SYLLABLE), i, -1):
            if nxt[j] and word[i:j] in syllables:
                nxt[i] = j
                break
    if not nxt[0]:
        return ((word, 0, n),)
    tokens: list[tuple[str, int, int]] = []
    i = 0
    while i < n:
        tokens.append((word[i : nxt[i]], i, nxt[i]))
        i = nxt[i]
    return tuple(tokens)


def warm() -> None:
    """Build the pinyin tables now (about half a second, once per process)."""
    _pinyin_tables()
    _letter_runs()


@cache
def _letter_runs() -> re.Pattern[str]:
    """Runs of the characters that give a pinyin token: those with a reading, and letters (alnum,
    not a digit). ``[^\\W\\d_]`` is nearly that; the exceptions are listed: characters with a
    reading that are not letters (private-use forms) and digits that ``\\d`` does not cover (²)."""
    readings = _pinyin_tables()[0]
    letter = re.compile(r"[^\W\d_]")
    extra = sorted(ch for ch in readings if not letter.match(ch))
    digits = sorted(
        ch
        for ch in map(chr, range(0x110000))
        if ch.isdigit() and letter.match(ch) and ch not in readings
    )
    add = "".join(re.escape(ch) for ch in extra)
    drop = "".join(re.escape(ch) for ch in digits)
    parts = []
    if add:
        parts.append(f"[{add}]")
    parts.append(f"(?![{drop}])[^\\W\\d_]" if drop else r"[^\W\d_]")
    return re.compile("(?:" + "|".join(parts) + ")+")


def to_pinyin(norm: Normalized) -> PinyinView:
    readings = _pinyin_tables()[0]
    text, src_starts, src_ends = norm.text, norm.starts, norm.ends
    try:  # all Han, the common case: one syllable per character
        return PinyinView(tuple(map(readings.__getitem__, text)), src_starts, src_ends)
    except KeyError:
        pass
    if not _LATIN_OR_DIGIT.search(text):
        # Han with punctuation, emoji or other scripts: every letter is its own token, the rest
        # produces none (the same result as the tokeniser below, without its per-run overhead).
        # Runs of kept characters are found by one regex and copied slice by slice.
        kept: list[str] = []
        kept_starts: list[int] = []
        kept_ends: list[int] = []
        for m in _letter_runs().finditer(text):
            a, b = m.span()
            run = m.group()
            kept.extend(map(readings.get, run, run))
            kept_starts.extend(src_starts[a:b])
            kept_ends.extend(src_ends[a:b])
        return PinyinView(tuple(kept), tuple(kept_starts), tuple(kept_ends))
    syllables: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for match in _TOKEN_RE.finditer(text):
        a, b = match.span()
        token = match.group()
        if "a" <= token[0] <= "z":
            for syllable, x, y in _latin_tokens(token):
                syllables.append(syllable)
                starts.append(src_starts[a + x])
                ends.append(src_ends[a + y - 1])  # ends never decrease
        elif token[0] <= "9":
            syllables.append(token)
            starts.append(src_starts[a])
            ends.append(src_ends[b - 1])
        else:  # Han (a character without a reading stands for itself), kana, Cyrillic...
            syllables.extend(map(readings.get, token, token))
            starts.extend(src_starts[a:b])
            ends.extend(src_ends[a:b])
    return PinyinView(tuple(syllables), tuple(starts), tuple(ends))


def fold_initials(view: PinyinView) -> str:
    """First letter of every pinyin syllable, other tokens whole: 傻逼 → "sb", 你妈死了 → "nmsl"
    (the abbreviations people type instead of the words)."""
    syllables = _pinyin_tables()[1]
    return "".join(s[0] if s in syllables else s for s in view.syllables)
