"""Evasion perturbations: the ways people dodge filters, applied to text on purpose.

Used twice: to augment training data (so the model learns to lean on views that survive
dodging) and to build the evasion benchmark from the dev set. Deterministic for a given seed.
Families: ``separators`` (傻*逼, 傻 逼, zero-width), ``traditional`` (废物 → 廢物), ``homophones``
(傻逼 → 沙比), ``pinyin`` (傻逼 → sha逼), and ``mixed`` (all of them at once).
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable
from functools import cache

from opencc import OpenCC

from cvguard.detection.normalize import normalize, to_pinyin

FAMILIES = ("separators", "traditional", "homophones", "pinyin", "mixed")
_SEPARATORS = (" ", "*", ".", "\u200b", "-", "_", "~", "|", "❤")


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


@cache
def _s2t() -> OpenCC:
    return OpenCC("s2t")


class Perturber:
    """Applies one family of perturbations; ``common`` bounds homophone choices to real usage."""

    def __init__(self, common_text: Iterable[str], rate: float = 0.35) -> None:
        self.rate = rate
        counts: dict[str, int] = defaultdict(int)
        for text in common_text:
            for ch in text:
                if _is_cjk(ch):
                    counts[ch] += 1
        common = [ch for ch, n in counts.items() if n >= 20]
        by_sound: dict[str, list[str]] = defaultdict(list)
        self.sound: dict[str, str] = {}
        for ch in sorted(common):
            syl = to_pinyin(normalize(ch)).syllables
            if len(syl) == 1:
                by_sound[syl[0]].append(ch)
                self.sound[ch] = syl[0]
        self.homophones = {ch: [o for o in by_sound[s] if o != ch] for ch, s in self.sound.items()}

    def apply(self, text: str, family: str, rng: random.Random) -> str:
        if family == "separators":
            return self._separators(text, rng)
        if family == "traditional":
            return str(_s2t().convert(text))
        if family == "homophones":
            return "".join(self._homophone(ch, rng) for ch in text)
        if family == "pinyin":
            return "".join(self._pinyin(ch, rng) for ch in text)
        if family == "mixed":
            step = "".join(
                self._homophone(ch, rng) if rng.random() < 0.5 else self._pinyin(ch, rng) for ch in text
            )
            return self._separators(str(_s2t().convert(step)), rng)
        raise ValueError(f"unknown perturbation family {family!r}")

    def _separators(self, text: str, rng: random.Random) -> str:
        out = []
        for a, b in zip(text, text[1:] + " ", strict=True):
            out.append(a)
            if _is_cjk(a) and _is_cjk(b) and rng.random() < self.rate:
                out.append(rng.choice(_SEPARATORS))
        return "".join(out)

    def _homophone(self, ch: str, rng: random.Random) -> str:
        options = self.homophones.get(ch)
        if options and rng.random() < self.rate:
            return rng.choice(options)
        return ch

    def _pinyin(self, ch: str, rng: random.Random) -> str:
        syl = self.sound.get(ch)
        if syl and rng.random() < self.rate:
            return syl
        return ch
