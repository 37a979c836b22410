"""Features that survive evasion, shared by training and inference.

A text becomes a bag of string tokens in four views, each TF-IDF weighted and L2-normalised on its
own (``model.LinearTextModel``):

- ``c``: character 1–3-grams of the *normalised* text (separators, width, case, traditional
  characters and look-alikes already undone);
- ``m``: the same over the text with identity-group mentions masked to one placeholder, so what is
  learned about one group carries to groups the training data never saw;
- ``p``: pinyin syllable 1–2-grams, identical for 傻逼, 沙比, 煞笔 and typed "sha bi";
- ``x``: cue tokens: lexicon categories hit (with how they matched), group mention, context cues.

The same function builds the tokens at training time and in production, so they cannot drift.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from itertools import pairwise

import ahocorasick_rs

MASK = "\ue000"
VIEWS = ("c", "m", "p", "x")


class GroupMasker:
    """Replaces identity-group mentions (regions, races, genders, disabilities) by ``MASK``."""

    def __init__(self, lines: Sequence[str]) -> None:
        terms: set[str] = set()
        for raw in lines:
            line = raw.strip()
            if not line.startswith("@"):
                continue
            kind, *names = line.split()
            for name in names:
                if kind == "@region":
                    terms.update((name, name + "人", name + "佬", name + "仔"))
                elif kind == "@region_short":
                    terms.update((name + "人", name + "佬", name + "仔"))
                else:
                    terms.add(name)
        self.terms = frozenset(terms)
        self._automaton = ahocorasick_rs.AhoCorasick(
            sorted(terms), matchkind=ahocorasick_rs.MatchKind.LeftmostLongest
        )

    def mask(self, text: str) -> str:
        found = self._automaton.find_matches_as_indexes(text)
        if not found:
            return text
        parts: list[str] = []
        at = 0
        for _, start, end in found:
            parts.append(text[at:start])
            parts.append(MASK)
            at = end
        parts.append(text[at:])
        return "".join(parts)

    @staticmethod
    @cache
    def default() -> GroupMasker:
        text = resources.files("cvguard.detection").joinpath("data/groups.txt").read_text("utf-8")
        return GroupMasker(text.splitlines())


def char_ngrams(text: str, lo: int = 1, hi: int = 3) -> list[str]:
    n = len(text)
    return [text[i : i + k] for k in range(lo, hi + 1) for i in range(n - k + 1)]


@dataclass(frozen=True, slots=True)
class TextFeatures:
    """The four token views of one text."""

    c: list[str]
    m: list[str]
    p: list[str]
    x: list[str]


def featurize(
    text: str,
    syllables: Sequence[str],
    cues: Sequence[str] = (),
    masker: GroupMasker | None = None,
) -> TextFeatures:
    """Token views of one normalised text; ``syllables`` is its pinyin view."""
    masker = masker or GroupMasker.default()
    masked = masker.mask(text)
    c = char_ngrams(text)
    x = list(cues)
    if masked != text:
        m = char_ngrams(masked)
        x.append("group")
    else:
        m = c
    syl = list(syllables)
    p = syl + [a + " " + b for a, b in pairwise(syl)]
    return TextFeatures(c=c, m=m, p=p, x=x)
