"""Features that survive evasion, shared by training and inference.

A text is seen through three views, each hashed into its own ``BUCKETS``-wide space, TF-IDF
weighted and L2-normalised on its own (``model.LinearTextModel``):

- ``c``: character 1–3-grams of the *normalised* text (separators, width, case, traditional
  characters and look-alikes already undone);
- ``m``: the same over the text with identity-group mentions masked to one placeholder, so what is
  learned about one group carries to groups the training data never saw;
- ``p``: pinyin syllable 1–2-grams, identical for 傻逼, 沙比, 煞笔 and typed "sha bi".

Hashing is done in numpy over a whole batch at once (code points → rolling FNV-style hash per
n-gram), so a batch of comments costs a few vectorised passes rather than a dictionary lookup per
n-gram in Python. The same functions run at training time and in production, so they cannot drift.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

import ahocorasick_rs
import numpy as np

MASK = "\ue000"
VIEWS = ("c", "m", "p")
BUCKET_BITS = 21
BUCKETS = 1 << BUCKET_BITS
NGRAMS = {"c": 3, "m": 3, "p": 2}
_SEEDS = {"c": 0x9E3779B97F4A7C15, "m": 0xC2B2AE3D27D4EB4F, "p": 0x165667B19E3779F9}
_PRIME = np.uint64(0x100000001B3)


class GroupMasker:
    """Replaces identity-group mentions (regions, races, genders, disabilities) by ``MASK``."""

    def __init__(self, lines: Sequence[str]) -> None:
        terms: set[str] = set()
        gender: set[str] = set()
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
                    if kind == "@gender":
                        gender.add(name)
        self.terms = frozenset(terms)
        self.gender = frozenset(gender)  # the @gender words: 女生, 小姐姐, 老公 …
        self._sorted = sorted(terms)
        self._automaton = ahocorasick_rs.AhoCorasick(
            self._sorted, matchkind=ahocorasick_rs.MatchKind.LeftmostLongest
        )

    def only_gender(self, text: str) -> bool:
        """Whether every group the text mentions is a gender word (and it mentions none besides)."""
        found = self._automaton.find_matches_as_indexes(text)
        return all(self._sorted[i] in self.gender for i, _, _ in found)

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


@dataclass(slots=True)  # not frozen: built once per text on the hot path
class TextFeatures:
    """The inputs of the three views of one text."""

    c: str  # normalised text
    m: str  # normalised text with group mentions masked
    p: tuple[str, ...]  # pinyin syllables (or whole Latin / digit tokens)

    @property
    def mentions_group(self) -> bool:
        return self.m is not self.c


def featurize(text: str, syllables: Sequence[str], masker: GroupMasker | None = None) -> TextFeatures:
    masked = (masker or GroupMasker.default()).mask(text)
    return TextFeatures(c=text, m=text if masked == text else masked, p=tuple(syllables))


_TOKEN_IDS: dict[str, int] = {}


def _token_ids(tokens: list[str]) -> list[int]:
    """CRC-32 of each token, remembered: the syllable vocabulary is small and repeats."""
    try:
        return list(map(_TOKEN_IDS.__getitem__, tokens))
    except KeyError:
        for t in tokens:
            if t not in _TOKEN_IDS and len(_TOKEN_IDS) < 200_000:
                _TOKEN_IDS[t] = zlib.crc32(t.encode("utf-8"))
        return [_TOKEN_IDS.get(t) or zlib.crc32(t.encode("utf-8")) for t in tokens]


def _sequence(view: str, feats: Sequence[TextFeatures]) -> tuple[np.ndarray, np.ndarray]:
    """One uint64 per unit (code point or syllable) for the whole batch, and its document index."""
    if view == "p":
        flat = [t for f in feats for t in f.p]
        units = np.array(_token_ids(flat), dtype=np.uint64)
        lengths = [len(f.p) for f in feats]
    else:
        texts = [getattr(f, view) for f in feats]
        joined = "".join(texts).encode("utf-32-le", "surrogatepass")
        units = np.frombuffer(joined, dtype=np.uint32).astype(np.uint64)
        lengths = [len(t) for t in texts]
    doc = np.repeat(np.arange(len(feats), dtype=np.int64), lengths)
    return units, doc


def hashed(view: str, feats: Sequence[TextFeatures]) -> tuple[np.ndarray, np.ndarray]:
    """``(doc, bucket)`` for every 1..n-gram of the view in every document (duplicates kept).

    uint64 arithmetic wraps silently on arrays, which is the hash we want.
    """
    units, doc = _sequence(view, feats)
    docs = [doc]
    h = (np.full(len(units), _SEEDS[view], dtype=np.uint64) ^ units) * _PRIME
    buckets = [_bucket(h, 1)]
    for k in range(2, NGRAMS[view] + 1):
        # h[i] now covers units[i .. i + k - 1]; valid where that window stays in one document.
        h = (h[:-1] ^ units[k - 1 :]) * _PRIME
        valid = doc[: len(h)] == doc[k - 1 :]
        docs.append(doc[: len(h)][valid])
        buckets.append(_bucket(h[valid], k))
    return np.concatenate(docs), np.concatenate(buckets)


def _bucket(h: np.ndarray, k: int) -> np.ndarray:
    return ((h * np.uint64(k)) * _PRIME >> np.uint64(64 - BUCKET_BITS)).astype(np.int64)


def hashed_at(
    view: str, feats: Sequence[TextFeatures]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """As ``hashed``, plus each n-gram's start (index into the batch's unit sequence) and length.

    uint64 arithmetic wraps silently on arrays, which is the hash we want.
    """
    units, doc = _sequence(view, feats)
    docs: list[np.ndarray] = []
    buckets: list[np.ndarray] = []
    starts: list[np.ndarray] = []
    sizes: list[np.ndarray] = []
    h = np.full(len(units), _SEEDS[view], dtype=np.uint64)
    for k in range(1, NGRAMS[view] + 1):
        # h[i] now covers units[i .. i + k - 1]; valid where that window stays in one document.
        if k == 1:
            h = (h ^ units) * _PRIME
            valid = np.ones(len(units), dtype=bool)
        else:
            h = (h[:-1] ^ units[k - 1 :]) * _PRIME
            valid = doc[: len(h)] == doc[k - 1 :]
        at = np.flatnonzero(valid)
        docs.append(doc[at])
        buckets.append(_bucket(h[at], k))
        starts.append(at)
        sizes.append(np.full(len(at), k, dtype=np.int64))
    return np.concatenate(docs), np.concatenate(buckets), np.concatenate(starts), np.concatenate(sizes)
