"""The cyber-violence lexicon and its matcher.

The lexicon is versioned data in ``data/lexicon/``: one TSV file per category plus ``allow.tsv``
(benign look-alikes). Every lexicon file starts with ``# version: YYYY.MM.N``; other ``#`` lines are
comments; each entry is one tab-separated line::

    term <TAB> category <TAB> severity <TAB> modes <TAB> weight [<TAB> note]

``severity`` is a tier or ``-`` for the category's default; ``weight`` in (0, 1] says how strongly one
hit alone indicates a violation; ``modes`` is ``text``, ``text,pinyin``, ``abbrev`` or ``word``:

- ``text``: the term is matched in the normalised text and in its squeezed form (repeats collapsed),
  so "狗东东东西" still hits 狗东西 while words that genuinely double a character stay matchable.
- ``pinyin``: the term's toneless syllables are also matched, syllable-aligned, in the pinyin view
  (homophones 沙比/煞笔 and typed "sha bi" hit 傻逼). These hits carry mode ``pinyin``: a
  candidate the caller discounts, since homophone matching roughly doubles false positives.
- ``abbrev`` / ``word``: a Latin abbreviation (nmsl) or an English word, matched only as a whole
  Latin token: "sb" never fires inside "usb", nor "ass" inside "class".

``allow.tsv`` lists benign phrases (``term [<TAB> note]``); a hit lying entirely inside an
allow-listed phrase (傻瓜相机, 宝鸡巴士, 路口交通) is dropped.

All patterns go into one Aho-Corasick automaton over the normalised text (terms and allow phrases
together, one pass) and one over the pinyin syllables joined by spaces, both built once. Matching is
*overlapping*: a short term inside a longer one both fire (贱人 inside 死贱人, 去死 inside 去死吧), because
they may belong to different categories and the scorer, not the matcher, decides what counts; hits
of the same term that overlap are then de-duplicated, preferring text over squeezed over pinyin.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from itertools import accumulate
from pathlib import Path
from typing import Literal

import ahocorasick_rs

from cvguard.detection import decloak
from cvguard.detection.normalize import (
    Normalized,
    PinyinView,
    fold_initials,
    normalize,
    squeeze,
    to_pinyin,
)
from cvguard.errors import DataError
from cvguard.taxonomy import SEVERITY_ORDER, load_taxonomy

Mode = Literal["text", "squeezed", "pinyin", "abbrev", "word", "cloaked", "homophone", "initials"]

DEFAULT_DIR = Path(__file__).parent / "data" / "lexicon"
ALLOW_FILE = "allow.tsv"

_ENTRY_MODES = frozenset({"text", "pinyin", "abbrev", "word"})
_VERSION_RE = re.compile(r"#\s*version:\s*(\S+)\s*$")
_VERSION_FORMAT = re.compile(r"\d{4}\.\d{1,2}\.\d+")
_CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_ABBREV_RE = re.compile(r"[a-z0-9]+")
_WORD_RE = re.compile(r"[a-z][a-z' -]*[a-z]")
_RUN3_RE = re.compile(r"(.)\1\1")
# Initials people type for a term: three or four letters (dsb, nmsl). Two letters (ps, pc, tg, gt)
# are everyday abbreviations far more often than a cloaked term; the lexicon lists the few that are
# not (sb, nc) as abbreviations.
_INITIALS_MIN, _INITIALS_MAX = 3, 4
# Two letters spell a name only where a name stands (那个lj, 你个fw, 这帮sb): after a measure word or
# a demonstrative's measure word, or 你. Elsewhere two letters are mostly everyday abbreviations
# (ps, tg, hr, cs, kg). Only insults: what a name in that slot is.
_TWO_LETTER_CATEGORIES = frozenset({"insult"})
_NAME_SLOT = frozenset("个位种帮群些你")
_LATIN_OR_DIGIT_RE = re.compile(r"[a-z0-9]")
_LATIN_WORD_RE = re.compile(r"[a-z]+")
# Where single-code-point emoji live (symbols, dingbats, the emoji planes): a C-speed pre-check.
_EMOJI_RANGE = re.compile(
    "[\u00a9\u00ae\u203c\u2049\u2122\u2139\u2190-\u2bff\u3030\u303d\u3297\u3299\U0001f000-\U0001faff]"
)
_SHORT_DIGITS_RE = re.compile(r"(?<![0-9])[0-9]{1,3}(?![0-9])")


@dataclass(frozen=True, slots=True)
class Entry:
    """One lexicon line, as written (``term`` is not normalised)."""

    term: str
    category: str
    severity: str
    modes: frozenset[str]
    weight: float
    note: str
    where: str  # file:line


@dataclass(frozen=True, slots=True)
class Hit:
    """A lexicon term found in a text; ``start``/``end`` are offsets into the *original* text."""

    term: str
    category: str
    severity: str
    weight: float
    mode: Mode
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class LexiconData:
    """The parsed, validated contents of a lexicon directory."""

    version: str
    digest: str  # sha256 prefix over every file's bytes: pins the exact data behind a verdict
    entries: tuple[Entry, ...]
    allow: tuple[str, ...]


class LexiconError(DataError):
    """Every problem found in a lexicon directory, each as ``file:line: message``."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = tuple(problems)
        first = self.problems[0].split(": ", 1)[0] if self.problems else None
        super().__init__(f"{len(self.problems)} problem(s) in the lexicon:\n  " + "\n  ".join(self.problems))
        self.where = first


# ---------------------------------------------------------------------------------------- parsing


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _check_term(term: str, modes: frozenset[str]) -> str | None:
    """Why ``term`` cannot be used with ``modes``, or None."""
    if modes & {"abbrev", "word"} and modes - {"abbrev"} and modes - {"word"}:
        return "modes 'abbrev' and 'word' stand alone (they are whole-token Latin matches)"
    if "abbrev" in modes and not _ABBREV_RE.fullmatch(term):
        return f"abbrev term {term!r} must be lowercase ASCII letters or digits"
    if "word" in modes and not _WORD_RE.fullmatch(term):
        return f"word term {term!r} must be lowercase English letters, spaces, hyphens or apostrophes"
    if "pinyin" in modes:
        if "text" not in modes:
            return "mode 'pinyin' needs 'text' too (write 'text,pinyin')"
        if not _CJK_RE.fullmatch(term) or len(term) < 2:
            return "pinyin matching needs a term of two or more Chinese characters"
    return None


def parse_lexicon_file(
    text: str, *, source: str, categories: Mapping[str, str]
) -> tuple[str | None, list[Entry], list[str]]:
    """Parse one lexicon TSV; returns (version, entries, problems). ``categories`` maps code → default
    severity."""
    version: str | None = None
    entries: list[Entry] = []
    problems: list[str] = []
    early = False
    for lineno, raw in enumerate(text.splitlines(), start=1):
        where = f"{source}:{lineno}"
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        if line.startswith("#"):
            found = _VERSION_RE.match(line)
            if found:
                if version is not None:
                    problems.append(f"{where}: second version header")
                elif not _VERSION_FORMAT.fullmatch(found.group(1)):
                    problems.append(f"{where}: version {found.group(1)!r} is not YYYY.MM.N")
                else:
                    version = found.group(1)
            continue
        if version is None and not early:
            early = True
            problems.append(f"{where}: entries before the '# version: YYYY.MM.N' header")
        cols = line.split("\t")
        if len(cols) not in (5, 6):
            problems.append(
                f"{where}: expected 5 or 6 tab-separated columns "
                "(term, category, severity, modes, weight[, note]), got {len(cols)}"
            )
            continue
        term, category, severity, modes_col, weight_col = (c.strip() for c in cols[:5])
        note = cols[5].strip() if len(cols) == 6 else ""
        line_problems: list[str] = []
        if not term:
            line_problems.append("empty term")
        if category not in categories:
            line_problems.append(f"unknown category {category!r} (one of: {', '.join(categories)})")
        if severity == "-":
            severity = categories.get(category, "")
        elif severity not in SEVERITY_ORDER:
            line_problems.append(f"severity {severity!r} is not '-' or one of {', '.join(SEVERITY_ORDER)}")
        modes = frozenset(m.strip() for m in modes_col.split(",") if m.strip())
        unknown = modes - _ENTRY_MODES
        if not modes or unknown:
            line_problems.append(
                f"modes {modes_col!r}: expected a comma list of {', '.join(sorted(_ENTRY_MODES))}"
            )
        elif term and (why := _check_term(term, modes)):
            line_problems.append(why)
        try:
            weight = float(weight_col)
        except ValueError:
            weight = -1.0
        if not 0.0 < weight <= 1.0:
            line_problems.append(f"weight {weight_col!r} must be a number in (0, 1]")
        if line_problems:
            problems.extend(f"{where}: {p}" for p in line_problems)
            continue
        entries.append(Entry(term, category, severity, modes, weight, note, where))
    if version is None and not any("version" in p for p in problems):
        problems.append(f"{source}:1: missing '# version: YYYY.MM.N' header")
    return version, entries, problems


def parse_allow_file(text: str, *, source: str) -> tuple[list[str], list[str]]:
    """Parse ``allow.tsv``: one benign phrase a line, an optional tab and note."""
    phrases: list[str] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r\n")
        if not line.strip() or line.startswith("#"):
            continue
        phrase = line.split("\t", 1)[0].strip()
        if not phrase:
            problems.append(f"{source}:{lineno}: empty allow-list phrase")
        elif phrase in seen:
            problems.append(f"{source}:{lineno}: {phrase!r} already listed at line {seen[phrase]}")
        else:
            seen[phrase] = lineno
            phrases.append(phrase)
    return phrases, problems


def read_lexicon_dir(directory: Path) -> LexiconData:
    """Read and validate every ``*.tsv`` in ``directory``; raise :class:`LexiconError` listing all
    problems."""
    taxonomy = load_taxonomy()
    categories = {c.code: c.severity for c in taxonomy.categories}
    files = sorted(directory.glob("*.tsv"))
    problems: list[str] = []
    entries: list[Entry] = []
    allow: list[str] = []
    versions: list[str] = []
    digest = hashlib.sha256()
    if not any(f.name != ALLOW_FILE for f in files):
        problems.append(f"{directory}: no lexicon files (*.tsv)")
    for path in files:
        try:
            raw = path.read_bytes()
            text = raw.decode("utf-8")
        except (OSError, UnicodeDecodeError) as err:
            problems.append(f"{path.name}:1: cannot read: {err}")
            continue
        digest.update(path.name.encode() + b"\0" + raw + b"\0")
        if path.name == ALLOW_FILE:
            phrases, file_problems = parse_allow_file(text, source=path.name)
            allow.extend(phrases)
        else:
            version, file_entries, file_problems = parse_lexicon_file(
                text, source=path.name, categories=categories
            )
            entries.extend(file_entries)
            if version:
                versions.append(version)
        problems.extend(file_problems)
    seen: dict[tuple[str, str], str] = {}
    for entry in entries:
        key = (entry.term, entry.category)
        if key in seen:
            problems.append(f"{entry.where}: {entry.term!r} ({entry.category}) already listed at {seen[key]}")
        else:
            seen[key] = entry.where
    if problems:
        raise LexiconError(problems)
    # The newest file version names the lexicon; the digest pins its exact contents.
    return LexiconData(
        version=max(versions, key=_version_key),
        digest=digest.hexdigest()[:12],
        entries=tuple(entries),
        allow=tuple(allow),
    )


# ---------------------------------------------------------------------------------------- matching

# What one automaton pattern stands for: (term, category, severity, weight, mode, whole_token).
_Target = tuple[str, str, str, float, Mode, bool]


def _is_latin_letter(ch: str) -> bool:
    return ch.isascii() and ch.isalpha()


def _whole_token(text: str, start: int, end: int) -> bool:
    return (start == 0 or not _is_latin_letter(text[start - 1])) and (
        end == len(text) or not _is_latin_letter(text[end])
    )


class Lexicon:
    """An immutable, built lexicon: ``find`` is safe to call from many threads."""

    def __init__(
        self,
        data: LexiconData,
        *,
        normalizer: Callable[[str], Normalized] = normalize,
        pinyinizer: Callable[[Normalized], PinyinView] = to_pinyin,
    ) -> None:
        self.data = data
        self.version = data.version
        self.digest = data.digest
        self._normalizer = normalizer
        self._dropped: dict[str, bool] = {}  # emoji → the normaliser drops it (a benign race)
        self._pinyinizer = pinyinizer
        problems: list[str] = []
        text_targets: dict[str, list[_Target]] = {}
        sound_targets: dict[str, list[_Target]] = {}
        initials: dict[tuple[str, str], _Target] = {}
        split_targets: dict[str, list[_Target]] = {}
        by_category: dict[str, list[str]] = {}
        for e in data.entries:
            by_category.setdefault(e.category, []).append(e.term)
            canonical = normalizer(e.term).text
            if not canonical:
                problems.append(f"{e.where}: {e.term!r} normalises to nothing")
                continue
            whole = bool(e.modes & {"abbrev", "word"})
            mode: Mode = "abbrev" if "abbrev" in e.modes else "word" if "word" in e.modes else "text"
            text_targets.setdefault(canonical, []).append(
                (e.term, e.category, e.severity, e.weight, mode, whole)
            )
            if mode != "text" or len(canonical) < 2 or not _CJK_RE.fullmatch(canonical):
                continue
            # Characters written as their two parts (弓虽女干, 扌喿你妈): a writer's choice, cloaked.
            for spelling in decloak.split_spellings(canonical):
                split = normalizer(spelling).text
                if split != canonical:
                    split_targets.setdefault(split, []).append(
                        (e.term, e.category, e.severity, e.weight, "cloaked", False)
                    )
            view = pinyinizer(normalizer(e.term))
            key = _sound_key(view.syllables)
            # Every Chinese term can be cloaked by sound (decloak: the mode is decided per match);
            # a ``pinyin`` entry also fires on any homophone, as a candidate.
            sound_mode: Mode = "pinyin" if "pinyin" in e.modes else "cloaked"
            sound_targets.setdefault(key, []).append(
                (e.term, e.category, e.severity, e.weight, sound_mode, False)
            )
            # One character typed as its initial letter, the others kept (傻B, 强J, 他m的): the
            # target's last field marks such a reading (_scan_sound checks the letter stands alone).
            for i, syllable in enumerate(view.syllables):
                if len(syllable) > 1 and syllable[0].isalpha():
                    lettered = (*view.syllables[:i], syllable[0], *view.syllables[i + 1 :])
                    sound_targets.setdefault(_sound_key(lettered), []).append(
                        (e.term, e.category, e.severity, e.weight, "cloaked", True)
                    )
            folded = fold_initials(view)
            n = len(canonical)
            two = n == 2 and e.category in _TWO_LETTER_CATEGORIES
            if (two or _INITIALS_MIN <= n <= _INITIALS_MAX) and len(folded) == n and folded.isalpha():
                kept = initials.get((folded, e.category))
                if kept is None or e.weight > kept[3]:
                    initials[(folded, e.category)] = (
                        e.term, e.category, e.severity, e.weight, "initials", True
                    )
        for split, targets in split_targets.items():
            if split not in text_targets:  # a listed form wins
                text_targets[split] = targets
        allow = {normalizer(p).text for p in data.allow} - {""}
        for (folded, _category), target in sorted(initials.items()):
            if folded in allow:  # an everyday abbreviation (sfz: 身份证) is not a term's initials
                continue
            written = text_targets.get(folded)
            if written is None or all(t[4] == "initials" for t in written):  # a listed form wins
                text_targets.setdefault(folded, []).append(target)
        problems.extend(
            f"{ALLOW_FILE}: {p!r} is also a lexicon term; an allow-listed term would never fire"
            for p in sorted(allow & text_targets.keys())
        )
        if problems:
            raise LexiconError(problems)
        text_patterns = list(text_targets)
        self._text_targets: list[tuple[_Target, ...] | None] = [tuple(text_targets[p]) for p in text_patterns]
        # Allow-list phrases share the automaton: a ``None`` target marks one.
        for phrase in sorted(allow):
            text_patterns.append(phrase)
            self._text_targets.append(None)
        self._text_ac = ahocorasick_rs.AhoCorasick(text_patterns)
        sound_patterns = list(sound_targets)
        self._sound_targets = [_one_per_category(sound_targets[p]) for p in sound_patterns]
        self._sound_lengths = [p.count(" ") - 1 for p in sound_patterns]
        self._sound_ac = ahocorasick_rs.AhoCorasick(sound_patterns) if sound_patterns else None
        self.terms_by_category: Mapping[str, tuple[str, ...]] = {
            code: tuple(terms) for code, terms in sorted(by_category.items())
        }

    @classmethod
    def from_dir(cls, directory: Path) -> Lexicon:
        return cls(read_lexicon_dir(directory))

    @staticmethod
    def default() -> Lexicon:
        """The lexicon shipped with this version of cvguard, built once per process."""
        return _default_lexicon()

    @property
    def entries(self) -> tuple[Entry, ...]:
        return self.data.entries

    def find(self, norm: Normalized, pinyin: PinyinView | None = None) -> list[Hit]:
        """Every lexicon hit in ``norm``, in original offsets, sorted by position.

        ``pinyin`` is ``to_pinyin(norm)``; it is computed here when not given and the lexicon has
        pinyin terms.
        """
        if not norm.text:
            return []
        # Hits stay plain tuples until the survivors are known: building a frozen dataclass costs
        # about ten times as much as a tuple, and most raw hits are echoes that de-duplication drops.
        raw: list[_Raw] = []
        allowed: list[tuple[int, int]] = []
        self._scan(norm, False, raw, allowed)
        if _RUN3_RE.search(norm.text):  # squeeze only collapses runs of three or more
            squeezed = squeeze(norm)
            if squeezed.text != norm.text:
                self._scan(squeezed, True, raw, allowed)
        if self._sound_ac is not None:
            if pinyin is None:
                pinyin = self._pinyinizer(norm)
            self._scan_sound(norm, pinyin, raw)
        if (
            self._sound_ac is not None
            and _EMOJI_RANGE.search(norm.original)
            and not decloak.emoji_chars().isdisjoint(norm.original)
        ):
            self._scan_emoji(norm.original, raw)
        if not raw:
            return []
        if allowed:
            raw = [r for r in raw if not any(a <= r[1] and r[2] <= b for a, b in allowed)]
        if len(raw) > 1:
            raw = _dedupe(raw)
        return [Hit(r[3], r[4], r[5], r[6], r[7], r[1], r[2]) for r in raw]

    def _scan(
        self, norm: Normalized, squeezed: bool, raw: list[_Raw], allowed: list[tuple[int, int]]
    ) -> None:
        text = norm.text
        span = norm.span
        for idx, s, e in self._text_ac.find_matches_as_indexes(text, overlapping=True):
            targets = self._text_targets[idx]
            if targets is None:
                allowed.append(span(s, e))
                continue
            start, end = span(s, e)
            for term, category, severity, weight, mode, whole in targets:
                if whole and not _whole_token(text, s, e):
                    continue
                if mode == "initials":
                    # Typed initials of a term: only in Chinese text, and only as a guess.
                    if squeezed or not _CJK_RE.search(text):
                        continue
                    if e - s == 2 and not _in_name_slot(text, s):
                        continue
                    raw.append((2, start, end, term, category, severity, weight, mode))
                elif mode == "cloaked":
                    # a term with characters split into their parts: not where a word of the text
                    # crosses its edge (the parts are ordinary characters)
                    if squeezed or decloak.crosses_word(text, s, e):
                        continue
                    raw.append((2, start, end, term, category, severity, weight, mode))
                elif squeezed:
                    raw.append((1, start, end, term, category, severity, weight, "squeezed"))
                else:
                    raw.append((0, start, end, term, category, severity, weight, mode))

    def _scan_sound(self, norm: Normalized, pinyin: PinyinView, raw: list[_Raw]) -> None:
        """Any Chinese term written by its sound: typed pinyin, pinyin inside Chinese, digits read
        aloud (mode ``cloaked``), or other Han characters of the same reading that are not a word
        where they stand (mode ``homophone``). See :mod:`cvguard.detection.decloak`."""
        if self._sound_ac is None:
            return
        syllables, starts, ends = pinyin.syllables, pinyin.starts, pinyin.ends
        text = norm.text
        if _SHORT_DIGITS_RE.search(text):
            syllables, starts, ends = _read_digits(syllables, starts, ends)
        if len(syllables) < 2:
            return
        joined = _sound_key(syllables)
        matches = self._sound_ac.find_matches_as_indexes(joined, overlapping=True)
        if not matches:
            return
        norm_starts = norm.starts
        emoji_chars = decloak.emoji_chars()
        latin_ok: bool | None = None
        has_cjk: bool | None = None
        for idx, s, _ in matches:
            # Patterns start at the space before their first syllable, and syllables hold no
            # spaces, so the spaces before ``s`` count the syllables before the match.
            first = joined.count(" ", 0, s)
            last = first + self._sound_lengths[idx]
            start = starts[first]
            end = max(ends[first:last])
            targets = self._sound_targets[idx]
            for term, category, severity, weight, target_mode, _whole in targets:
                if target_mode == "pinyin":
                    raw.append((2, start, end, term, category, severity, weight, target_mode))
            a = bisect_left(norm_starts, start)
            b = bisect_left(norm_starts, end)
            surface = text[a:b]
            kept = ""  # Han characters a mixed-script form must share with its term (fei物: 物)
            if _LATIN_OR_DIGIT_RE.search(surface):
                if _breaks(norm.original, start, end, spaces=False) or not _whole_digits(text, a, b):
                    continue  # across punctuation, or a piece of a longer number (取400人)
                kept = "".join(_CJK_RE.findall(surface))
                if not kept:
                    # All letters and digits: pinyin typing. In Chinese text the typed run is the
                    # term and nothing more (那个la ji); a text typed all in pinyin must not be
                    # another language ("she is a man").
                    if has_cjk is None:
                        has_cjk = _CJK_RE.search(text) is not None
                    if has_cjk:
                        if not _whole_latin_run(text, a, b):
                            continue
                    else:
                        if latin_ok is None:
                            latin_ok = _pinyin_typing(text)
                        if not latin_ok:
                            continue
                mode: Mode = "cloaked"
            elif not _CJK_RE.fullmatch(surface):
                continue
            elif _CJK_RE.fullmatch(norm.original, start, end):
                mode = "homophone"
            elif all(
                ch in emoji_chars or ch == "\ufe0f" or _CJK_RE.match(ch) for ch in norm.original[start:end]
            ):
                mode = "cloaked"  # emoji the normaliser read back as characters (你🐴 → 你马)
            else:
                continue  # separators, punctuation or spaces between the syllables
            for term, category, severity, weight, _mode, lettered in targets:
                if surface == term or (kept and not set(kept) <= set(term)):
                    continue
                if lettered and not (
                    kept
                    and _one_letter(text, a, b)
                    and not decloak.common_only(kept)
                    and not decloak.crosses_word(text, a, b)
                ):
                    continue
                if mode == "homophone" and decloak.reads_as_written(text, a, b, term):
                    continue
                raw.append((2, start, end, term, category, severity, weight, mode))

    def _written_away(self, emoji: str) -> bool:
        """Whether the normaliser drops ``emoji`` (those it maps, 🐶 → 狗, are read already)."""
        known = self._dropped.get(emoji)
        if known is None:
            known = self._dropped[emoji] = not self._normalizer(emoji).text
        return known

    def _scan_emoji(self, original: str, raw: list[_Raw]) -> None:
        """Emoji standing for what they show (🌿 for 草/操, 🧠 for 脑): the text is read again with
        each emoji the normaliser drops replaced by a candidate reading of its CLDR name (the
        whole name, its head, its first character); hits that cover an emoji count as cloaked."""
        found: list[tuple[int, int, tuple[str, ...]]] = []
        for m in decloak.emoji_pattern().finditer(original):
            if not self._written_away(m.group()):
                continue
            readings = decloak.emoji_readings(m.group())
            if readings:
                found.append((m.start(), m.end(), readings))
        if not found:
            return
        seen: set[str] = set()
        for choice in range(3):
            pieces: list[str] = []
            origin: list[int] = []  # variant offset → original offset
            at = 0
            for i, j, readings in found:
                pieces.append(original[at:i])
                origin.extend(range(at, i))
                reading = readings[min(choice, len(readings) - 1)]
                pieces.append(reading)
                origin.extend([i] * len(reading))
                at = j
            pieces.append(original[at:])
            origin.extend(range(at, len(original)))
            variant = "".join(pieces)
            if variant in seen:
                continue
            seen.add(variant)
            origin.append(len(original))
            vnorm = self._normalizer(variant)
            found_raw: list[_Raw] = []
            self._scan(vnorm, False, found_raw, [])
            self._scan_sound(vnorm, self._pinyinizer(vnorm), found_raw)
            for r in found_raw:
                start, end = origin[r[1]], origin[r[2] - 1] + 1
                for i, j, _ in found:
                    if start <= i < end or (start < j <= end):
                        end = max(end, j)
                        raw.append((2, start, end, r[3], r[4], r[5], r[6], "cloaked"))
                        break


def _read_digits(
    syllables: tuple[str, ...], starts: tuple[int, ...], ends: tuple[int, ...]
) -> tuple[tuple[str, ...], tuple[int, ...], tuple[int, ...]]:
    """The pinyin view with short digit runs read aloud, one syllable per digit (去4 → qu si)."""
    runs = [
        i
        for i, syllable in enumerate(syllables)
        if syllable[0] <= "9" and syllable.isdigit() and len(syllable) <= decloak.MAX_DIGIT_RUN
    ]
    if not runs:
        return syllables, starts, ends
    out_s: list[str] = []
    out_a: list[int] = []
    out_b: list[int] = []
    at = 0
    for i in runs:
        out_s.extend(syllables[at:i])
        out_a.extend(starts[at:i])
        out_b.extend(ends[at:i])
        a, b = starts[i], ends[i]
        for k, digit in enumerate(syllables[i]):
            out_s.append(decloak.DIGIT_READINGS.get(digit, digit))
            out_a.append(min(a + k, b - 1))
            out_b.append(min(a + k + 1, b))
        at = i + 1
    out_s.extend(syllables[at:])
    out_a.extend(starts[at:])
    out_b.extend(ends[at:])
    return tuple(out_s), tuple(out_a), tuple(out_b)


def _one_per_category(targets: list[_Target]) -> tuple[_Target, ...]:
    """Terms that sound alike (傻逼, 傻比, 沙比 are all sha bi) name one category once: a reading
    stands for one of them, the ``pinyin`` entry (the canonical term) first, then the weightiest.
    Distinct categories sharing a reading all stay."""
    best: dict[str, _Target] = {}
    for t in targets:
        kept = best.get(t[1])
        if kept is None or (t[4] == "pinyin", t[3]) > (kept[4] == "pinyin", kept[3]):
            best[t[1]] = t
    return tuple(best.values())


def _breaks(text: str, start: int, end: int, *, spaces: bool) -> bool:
    """Whether punctuation (or, with ``spaces``, a space) lies in ``text[start:end]``: a sound match
    across it joins two phrases ("la ji" is typed pinyin; 包，也 is not 包夜)."""
    for ch in text[start:end]:
        cat = unicodedata.category(ch)
        if cat[0] == "P" or (spaces and (cat[0] == "Z" or ch.isspace())):
            return True
    return False


def _whole_latin_run(text: str, a: int, b: int) -> bool:
    """Whether ``text[a:b]`` is a whole run of Latin letters and digits (spaces inside allowed):
    no letter or digit continues it on either side across spaces. A match inside a longer run of
    pinyin is a coincidence of syllables, not a typed term."""
    i = a - 1
    while i >= 0 and text[i] == " ":
        i -= 1
    if i >= 0 and text[i].isascii() and text[i].isalnum():
        return False
    j = b
    while j < len(text) and text[j] == " ":
        j += 1
    return not (j < len(text) and text[j].isascii() and text[j].isalnum())


def _sound_key(syllables: Sequence[str]) -> str:
    """Syllables as the sound automaton reads them: space-separated, a space at each end, so a
    pattern matches whole syllables only."""
    return " " + " ".join(syllables) + " "


def _in_name_slot(text: str, start: int) -> bool:
    """Whether ``text[start:]`` follows a measure word or 你 (spaces skipped): 那个lj, 这帮 sb."""
    i = start - 1
    while i >= 0 and text[i] == " ":
        i -= 1
    return i >= 0 and text[i] in _NAME_SLOT


def _one_letter(text: str, a: int, b: int) -> bool:
    """Whether ``text[a:b]`` holds exactly one Latin letter, with nothing of a code beside it: no
    letter, digit or ASCII sign (傻b, not 傻bb, the b of 傻bility, Type-C了 or 人+R)."""
    letters = [i for i in range(a, b) if text[i].isascii() and text[i].isalnum()]
    if len(letters) != 1:
        return False
    i = letters[0]
    return not any(
        0 <= j < len(text) and text[j].isascii() and not text[j].isspace() for j in (i - 1, i + 1)
    )


def _whole_digits(text: str, a: int, b: int) -> bool:
    """Whether the digits in ``text[a:b]`` may be read as sounds: no digit run cut at its edges (a
    sound match may read 4 as si, but not the 4 of 400) and none that counts something."""
    n = len(text)
    if (0 < a < n and text[a].isdigit() and text[a - 1].isdigit()) or (
        0 < b < n and text[b].isdigit() and text[b - 1].isdigit()
    ):
        return False
    # A digit before a measure word is a quantity (宝8岁), after 第 an ordinal.
    for i in range(a, b):
        if text[i].isdigit():
            if i + 1 < n and not text[i + 1].isdigit() and text[i + 1] in decloak.MEASURE_CHARS:
                return False
            if i > 0 and text[i - 1] == "第":
                return False
    return True


def _pinyin_typing(text: str) -> bool:
    """Whether the Latin words of a text read as pinyin: every one splits into syllables
    ("la ji", "caonima"), so "she is a man" is English and "ni zen me bu qu si" is not."""
    from cvguard.detection.normalize import _latin_tokens, _pinyin_tables

    syllables = _pinyin_tables()[1]
    for word in _LATIN_WORD_RE.findall(text):
        tokens = _latin_tokens(word)
        if len(tokens) == 1 and tokens[0][0] not in syllables:
            return False
    return True


# A hit before it becomes a Hit: (rank, start, end, term, category, severity, weight, mode); rank
# orders what was written (0) before what was reconstructed: squeezed (1), pinyin (2).
_Raw = tuple[int, int, int, str, str, str, float, Mode]


def _dedupe(raw: list[_Raw]) -> list[_Raw]:
    """Drop a hit when a better-ranked hit of the same term overlaps it, and a pinyin hit inside a
    written hit of the same category (沙比 found as itself needs no homophone echo).

    Near-linear: the kept hits of one term are disjoint, so one bisect finds the only candidate
    overlap; written hits are all kept before any pinyin hit is seen (hits come sorted by rank),
    so containment is a bisect into their starts plus a running maximum of their ends.
    """
    raw.sort()  # by rank, then position
    kept: list[_Raw] = []
    by_term: dict[str, tuple[list[int], list[int]]] = {}
    written: dict[str, tuple[list[int], list[int]]] | None = None
    for r in raw:
        rank, start, end, term, category = r[0], r[1], r[2], r[3], r[4]
        starts, ends = by_term.setdefault(term, ([], []))
        i = bisect_left(starts, end)
        if i and ends[i - 1] > start:
            continue
        if rank == 2:
            if written is None:
                written = _written_cover(kept)
            cover = written.get(category)
            if cover is not None:
                j = bisect_right(cover[0], start)
                if j and cover[1][j - 1] >= end:
                    continue
        starts.insert(i, start)
        ends.insert(i, end)
        kept.append(r)
    kept.sort(key=_by_position)
    return kept


def _written_cover(kept: list[_Raw]) -> dict[str, tuple[list[int], list[int]]]:
    """Per category: starts of written hits (sorted) and the running maximum of their ends."""
    spans: dict[str, list[tuple[int, int]]] = {}
    for r in kept:
        if r[0] < 2:
            spans.setdefault(r[4], []).append((r[1], r[2]))
    out: dict[str, tuple[list[int], list[int]]] = {}
    for category, items in spans.items():
        items.sort()
        out[category] = ([a for a, _ in items], list(accumulate((b for _, b in items), max)))
    return out


def _by_position(r: _Raw) -> tuple[int, int, str]:
    return r[1], r[2], r[3]


@cache
def _default_lexicon() -> Lexicon:
    return Lexicon.from_dir(DEFAULT_DIR)


# ---------------------------------------------------------------------------------------- reloading

_Fingerprint = tuple[tuple[str, int, int], ...]


def _fingerprint(directory: Path) -> _Fingerprint:
    try:
        stats = [(p.name, p.stat()) for p in sorted(directory.glob("*.tsv"))]
    except OSError:
        return ()
    return tuple((name, st.st_mtime_ns, st.st_size) for name, st in stats)


class ReloadingLexicon:
    """A lexicon that follows its directory: edits are picked up without a restart.

    At most every ``interval`` seconds (by ``clock``) the files' names, mtimes and sizes are
    compared; on a change a new :class:`Lexicon` is built and swapped in with one assignment, so a
    concurrent ``find`` sees the old or the new lexicon, never a mix. A file that fails validation
    keeps the old lexicon in service; the error is kept in ``last_error`` and passed to ``on_error``.
    """

    def __init__(
        self,
        directory: Path,
        *,
        interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        on_error: Callable[[DataError], None] | None = None,
    ) -> None:
        self.directory = directory
        self.interval = interval
        self._clock = clock
        self._on_error = on_error
        self._lock = threading.Lock()
        self._fingerprint = _fingerprint(directory)
        self._lexicon = Lexicon.from_dir(directory)  # a bad lexicon at start-up is fatal
        self._checked_at = clock()
        self.last_error: DataError | None = None

    @property
    def lexicon(self) -> Lexicon:
        """The current lexicon, after checking for changes if ``interval`` has passed."""
        self.reload_if_changed()
        return self._lexicon

    @property
    def version(self) -> str:
        return self._lexicon.version

    def reload_if_changed(self, *, force: bool = False) -> bool:
        """Rebuild if the files changed; True when a new lexicon was swapped in."""
        now = self._clock()
        if not force and now - self._checked_at < self.interval:
            return False
        if not self._lock.acquire(blocking=False):
            return False  # another thread is already reloading
        try:
            self._checked_at = now
            fingerprint = _fingerprint(self.directory)
            if fingerprint == self._fingerprint and not force:
                return False
            # Remember the fingerprint even when the build fails, so a bad file is reported once
            # rather than rebuilt every interval; the next edit triggers a new attempt.
            self._fingerprint = fingerprint
            try:
                fresh = Lexicon.from_dir(self.directory)
            except DataError as err:
                self.last_error = err
                if self._on_error is not None:
                    self._on_error(err)
                return False
            self._lexicon = fresh
            self.last_error = None
            return True
        finally:
            self._lock.release()

    def find(self, norm: Normalized, pinyin: PinyinView | None = None) -> list[Hit]:
        return self.lexicon.find(norm, pinyin)
