"""The screening pipeline: text → explained :class:`Verdict`.

    normalise ─┬─ lexicon (text, squeezed, pinyin, abbreviations) ─┐
               ├─ PII (phones, IDs, cards, addresses …) ───────────┼─ scorer ─▶ Verdict
               ├─ context cues (reporting, anti-bias, "你") ───────┤
               └─ model (TF-IDF views → calibrated P(offensive)) ──┘

How the scorer combines them, per category ``c``::

    lexicon evidence  L_c = 1 − Π (1 − weight × mode factor)   over hits of category c
    model evidence    M_c = P(offensive) × share_c              (share: which category the
                                                                 model's score is attributed to)
    score_c           = (1 − (1 − L_c)(1 − M_c)) × context factor_c

A pinyin hit is only a candidate (homophone matching roughly doubles false positives), so its
factor rises with the model's own score. Context factors are visible as verdict notes. Privacy is
special: personal data together with doxxing words is a privacy violation of the highest tier.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from cvguard.detection.context import Context, read_context, with_clauses
from cvguard.detection.features import GroupMasker, TextFeatures, featurize
from cvguard.detection.lexicon import Hit, Lexicon, ReloadingLexicon
from cvguard.detection.model import LinearTextModel, default_models
from cvguard.detection.normalize import Normalized, PinyinView, normalize, to_pinyin
from cvguard.detection.pii import PiiHit, find_pii
from cvguard.detection.verdict import Span, Verdict
from cvguard.errors import InputError, TextTooLarge
from cvguard.taxonomy import Taxonomy, load_taxonomy, severity_rank

THRESHOLD = 0.5
DEFAULT_MAX_CHARS = 100_000
_MODE_FACTOR = {"text": 1.0, "abbrev": 1.0, "word": 1.0, "squeezed": 0.9}
# PII that alone points at a person's home or identity, versus contact details people share freely.
_STRONG_PII = frozenset({"id_card", "address", "bank_card"})


@dataclass(frozen=True, slots=True)
class Prepared:
    """Everything screening derives from one text before scoring."""

    norm: Normalized
    pinyin: PinyinView
    hits: tuple[Hit, ...]
    pii: tuple[PiiHit, ...]
    context: Context
    features: TextFeatures
    lang: str


def cue_tokens(hits: Sequence[Hit], pii: Sequence[PiiHit], context: Context) -> list[str]:
    """The model's cue view: which lexicon categories hit and how, PII kinds, context cues."""
    out = [f"lex:{h.category}:{'p' if h.mode == 'pinyin' else 't'}" for h in hits]
    out += [f"pii:{p.kind}" for p in pii]
    out += [
        f"ctx:{name}"
        for name in ("reporting", "anti_bias", "self_directed", "second_person")
        if getattr(context, name)
    ]
    return out


def language_of(text: str) -> str:
    """``zh`` unless the text is mostly Latin letters with few CJK characters."""
    cjk = latin = 0
    for ch in text:
        if "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf":
            cjk += 1
        elif "a" <= ch <= "z":
            latin += 1
    return "en" if latin > 3 * cjk and latin >= 3 else "zh"


def clean_input(text: str) -> str:
    """Lone surrogates (possible in a Python ``str`` decoded leniently) become U+FFFD, same length."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text)
    return text


def prepare(text: str, lexicon: Lexicon | ReloadingLexicon, masker: GroupMasker | None = None) -> Prepared:
    norm = normalize(clean_input(text))
    pinyin = to_pinyin(norm)
    hits = tuple(lexicon.find(norm, pinyin))
    pii = tuple(find_pii(norm))
    context = read_context(with_clauses(norm))
    features = featurize(norm.text, pinyin.syllables, cue_tokens(hits, pii, context), masker)
    return Prepared(norm, pinyin, hits, pii, context, features, language_of(norm.text))


def _lexicon_evidence(hits: Sequence[Hit], prob: float) -> dict[str, float]:
    """Per category, 1 − Π(1 − e) over *clusters* of overlapping hits, e the cluster's strongest.

    Nested terms of one category (冲了 inside 兄弟们冲了) are one piece of evidence, not several.
    """
    by_cat: dict[str, list[tuple[int, int, float]]] = {}
    for h in hits:
        factor = _MODE_FACTOR.get(h.mode, 0.0)
        if h.mode == "pinyin":  # a candidate: the model has to agree
            factor = 0.35 + 0.6 * prob
        by_cat.setdefault(h.category, []).append((h.start, h.end, min(1.0, h.weight * factor)))
    out: dict[str, float] = {}
    for category, items in by_cat.items():
        items.sort()
        miss = 1.0
        end, best = -1, 0.0
        for start, stop, ev in items:
            if start >= end:  # a new cluster begins
                miss *= 1.0 - best
                best = 0.0
            best = max(best, ev)
            end = max(end, stop)
        out[category] = 1.0 - miss * (1.0 - best)
    return out


class Screener:
    """Screens texts; safe to share across threads (it holds no per-call state)."""

    def __init__(
        self,
        *,
        lexicon: Lexicon | ReloadingLexicon | None = None,
        models: dict[str, LinearTextModel] | None = None,
        taxonomy: Taxonomy | None = None,
        max_chars: int = DEFAULT_MAX_CHARS,
        threshold: float = THRESHOLD,
    ) -> None:
        self.lexicon = lexicon if lexicon is not None else Lexicon.default()
        self.models = models if models is not None else default_models()
        self.taxonomy = taxonomy or load_taxonomy()
        self.max_chars = max_chars
        self.threshold = threshold
        self.masker = GroupMasker.default()

    @staticmethod
    @cache
    def default() -> Screener:
        return Screener()

    @property
    def versions(self) -> dict[str, str]:
        out = {"taxonomy": self.taxonomy.version, "lexicon": self.lexicon.version}
        for lang, model in self.models.items():
            out[f"model.{lang}"] = model.version
        return out

    def check(self, text: object) -> str:
        if not isinstance(text, str):
            raise InputError("text must be a string", field="text")
        if len(text) > self.max_chars:
            raise TextTooLarge(
                f"text has {len(text):,} characters; the limit is {self.max_chars:,}", field="text"
            )
        return text

    def screen(self, text: str) -> Verdict:
        return self.screen_many([text])[0]

    def screen_many(self, texts: Sequence[str]) -> list[Verdict]:
        prepared = [prepare(self.check(t), self.lexicon, self.masker) for t in texts]
        probs = [0.0] * len(prepared)
        for lang, model in self.models.items():
            idx = [i for i, p in enumerate(prepared) if p.lang == lang]
            if idx:
                for i, pr in zip(idx, model.predict_proba([prepared[i].features for i in idx]), strict=True):
                    probs[i] = float(pr)
        versions = self.versions
        return [self._decide(p, prob, versions) for p, prob in zip(prepared, probs, strict=True)]

    # --- scoring ----------------------------------------------------------------------------

    def _decide(self, p: Prepared, prob: float, versions: dict[str, str]) -> Verdict:
        codes = self.taxonomy.codes
        miss = dict.fromkeys(codes, 1.0)  # Π(1 − evidence) per category
        spans: list[Span] = []
        for category, evidence in _lexicon_evidence(p.hits, prob).items():
            if category in miss:
                miss[category] *= 1.0 - evidence
        for h in p.hits:
            spans.append(Span(h.start, h.end, h.term, h.category, "lexicon", h.severity, h.mode, h.weight))

        doxx_words = any(h.category == "privacy" for h in p.hits)
        for q in p.pii:
            if doxx_words:
                ev = 0.97
            elif q.kind in _STRONG_PII:
                ev = 0.7
            else:
                ev = 0.3
            miss["privacy"] *= 1.0 - ev * q.confidence
            spans.append(Span(q.start, q.end, q.masked, "privacy", "pii", "illegal", q.kind, q.confidence))

        shares = self._model_shares(p)
        scores: dict[str, float] = {}
        for c in codes:
            model_ev = prob * shares.get(c, 0.0)
            scores[c] = 1.0 - miss[c] * (1.0 - model_ev)

        notes = list(p.context.notes)
        self._apply_context(p, scores)
        if prob >= self.threshold and self.models:
            notes.append(f"model: P(offensive)={prob:.2f}")
            model = self.models.get(p.lang)
            if model is not None:
                spans.extend(self._model_spans(p, model, max(shares, key=lambda c: shares[c])))

        top = max(scores.values()) if scores else 0.0
        violating = [c for c in codes if scores[c] >= self.threshold]
        severity = None
        if violating:
            severity = max((self.taxonomy[c].severity for c in violating), key=severity_rank)
        return Verdict(
            violation=bool(violating),
            score=top,
            severity=severity,
            categories=scores,
            spans=tuple(sorted(spans, key=lambda s: (s.start, s.end))),
            versions=versions,
            notes=tuple(notes),
        )

    @staticmethod
    def _model_shares(p: Prepared) -> dict[str, float]:
        """Which category the model's P(offensive) is attributed to.

        The model is trained on "offensive or not"; the category comes from what the text aims
        at: the lexicon's categories when it hit, else a group mention means discrimination and
        a plain personal attack means insult.
        """
        weights: dict[str, float] = {}
        for h in p.hits:
            weights[h.category] = weights.get(h.category, 0.0) + h.weight
        if not weights:
            if "group" in p.features.x:
                return {"discrimination": 0.85, "insult": 0.15}
            return {"insult": 0.85, "ridicule": 0.15}
        total = sum(weights.values())
        return {c: w / total for c, w in weights.items()}

    @staticmethod
    def _apply_context(p: Prepared, scores: dict[str, float]) -> None:
        ctx = p.context
        damp: dict[str, float] = {}
        if ctx.reporting:
            for c in scores:
                damp[c] = damp.get(c, 1.0) * (1.0 if c == "privacy" and p.pii else 0.45)
        if ctx.anti_bias:
            for c in ("discrimination", "hate_incitement", "insult", "ridicule"):
                damp[c] = damp.get(c, 1.0) * 0.5
        if ctx.self_directed:
            for c in ("insult", "ridicule"):
                damp[c] = damp.get(c, 1.0) * 0.4
        if ctx.second_person and not ctx.reporting:
            for c in ("insult", "threat", "ridicule", "sexual_harassment"):
                damp[c] = damp.get(c, 1.0) * 1.15
        for c, f in damp.items():
            scores[c] = min(1.0, scores[c] * f)

    @staticmethod
    def _model_spans(p: Prepared, model: LinearTextModel, category: str) -> list[Span]:
        """The character n-grams that pushed the model's score up most, as original spans."""
        out: list[Span] = []
        text = p.norm.text
        for token, weight in model.top_tokens(p.features, "c", k=3):
            i = text.find(token)
            if i < 0 or not token.strip() or unicodedata.category(token[0])[0] in "PZ":
                continue
            start, end = p.norm.span(i, i + len(token))
            out.append(Span(start, end, token, category, "model", "harmful", "ngram", round(weight, 4)))
        return out
