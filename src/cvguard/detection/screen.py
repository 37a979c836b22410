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

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Literal

from cvguard.detection import decloak
from cvguard.detection.context import (
    Context,
    arguing_against,
    quoted_term,
    read_context,
    self_label,
    stance_cue,
    unless_only_quoted,
    with_clauses,
)
from cvguard.detection.features import GroupMasker, TextFeatures, featurize
from cvguard.detection.lexicon import Hit, Lexicon, ReloadingLexicon
from cvguard.detection.model import (
    CATEGORIES,
    EVERYDAY,
    PERSON_STANCE,
    STANCE,
    CategoryHeads,
    LinearTextModel,
    default_category_heads,
    default_everyday,
    default_models,
    default_person_stance,
    default_stance,
)
from cvguard.detection.normalize import Normalized, PinyinView, normalize, to_pinyin
from cvguard.detection.normalize import warm as warm_pinyin
from cvguard.detection.pii import PiiHit, exposure_act, find_pii, offered_by_owner
from cvguard.errors import InputError, TextTooLarge
from cvguard.taxonomy import Taxonomy, load_taxonomy, severity_rank
from cvguard.verdict import Span, Verdict

THRESHOLD = 0.5
# The model alone makes a violation from P(offensive) = 0.6: on COLD dev that costs 0.05 points of
# accuracy against 0.5, and it keeps coin-flip scores on civil disagreement below the line.
MODEL_DECISION = 0.6
DEFAULT_MAX_CHARS = 100_000
MAX_SPANS = 256
# How much one hit counts by how it matched. ``cloaked``: a term the writer spelled in letters,
# digits or emoji (decloak); ``pinyin``, ``initials`` and ``homophone`` are weighed with the model.
_MODE_FACTOR = {"text": 1.0, "abbrev": 1.0, "word": 1.0, "squeezed": 0.9, "cloaked": 0.9}
HOMOPHONE_BASE = 0.5
# Hits the model has to agree with (the factor above grows with P(offensive)).
_CANDIDATE_MODES = frozenset({"pinyin", "initials", "homophone"})
# How much naming the act of exposing another person's data counts (pii.exposure_act): alone, a
# violation; in a report or a quote (context) it keeps a quarter, as lexicon privacy words do.
EXPOSURE_WEIGHT = 0.65
# 姐妹们冲！去评论区夸夸, 兄弟们冲一下这个小up的新视频，三连走起: the words of a pile-on, calling
# people to support someone. With no word of attack in the text, the pile-on words keep this much.
_SUPPORT = re.compile(
    r"夸|点赞|支持|三连|投票|投一票|打榜|应援|加油|安利|好评|新歌|新作品|新视频|冲冲冲|报名"
)
_ATTACK = re.compile(r"骂|喷|撕|举报|挂|人肉|开盒|网暴|滚|死|删号|脱粉|黑|刷屏|爆破|轰炸|教育|教训")
SUPPORT_FACTOR = 0.3


def rallies_support(text: str) -> bool:
    """Whether a call to go somewhere (冲, 去评论区) asks for support, not an attack: a word of
    support and no word of attack."""
    return _SUPPORT.search(text) is not None and _ATTACK.search(text) is None


# PII that alone points at a person's home or identity, versus contact details people share freely.
_STRONG_PII = frozenset({"id_card", "address", "bank_card"})
_REPORTABLE = (
    "insult", "defamation", "hate_incitement", "threat", "privacy", "ridicule", "discrimination",
    "sexual_harassment", "pile_on_incitement",
)


@dataclass(slots=True)  # not frozen: built once per text on the hot path, never shared
class Prepared:
    """Everything screening derives from one text before scoring."""

    norm: Normalized
    pinyin: PinyinView
    hits: tuple[Hit, ...]
    pii: tuple[PiiHit, ...]
    context: Context
    features: TextFeatures
    lang: str
    read: Normalized  # what the model read: ``norm``, or ``norm`` with cloaked spans decoded


# Runs, not characters: counting a run's length costs one match object where a per-character
# pattern costs one string per character (1.4 µs instead of 7 on a comment).
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")
_LATIN_RUN = re.compile(r"[a-z]+")


def language_of(text: str) -> str:
    """``zh`` unless the text is mostly Latin letters with few CJK characters: at least a quarter
    CJK is Chinese; otherwise English when Latin letters are at least three and outnumber the CJK
    characters three to one."""
    cjk = sum(map(len, _CJK_RUN.findall(text)))
    if cjk * 4 >= len(text):
        return "zh"
    latin = sum(map(len, _LATIN_RUN.findall(text)))
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
    context = read_context(norm.text, norm.original)
    if context.reporting or context.anti_bias:
        # Clause breaks can only stop a cue from reaching across a sentence, never create one,
        # so they are restored only when a cue fired without them.
        context = read_context(with_clauses(norm), norm.original)
    # the anti-bias cue must hold outside the quotation marks
    context = unless_only_quoted(context, norm.original)
    # The model reads the text with cloaked spans written out (decloak.decode); the lexicon, PII
    # and context readers have seen it as written.
    read = decloak.decode(norm, hits, normalize)
    if read is None:
        read = norm
        features = featurize(norm.text, pinyin.syllables, masker)
    else:
        features = featurize(read.text, to_pinyin(read).syllables, masker)
    return Prepared(norm, pinyin, hits, pii, context, features, language_of(norm.text), read)


def _lexicon_evidence(hits: Sequence[Hit], prob: float) -> dict[str, float]:
    """Per category, 1 − Π(1 − e) over *clusters* of overlapping hits, e the cluster's strongest.

    Nested terms of one category (冲了 inside 兄弟们冲了) are one piece of evidence, not several.
    """
    by_cat: dict[str, list[tuple[int, int, float]]] = {}
    for h in hits:
        factor = _MODE_FACTOR.get(h.mode, 0.0)
        if h.mode == "pinyin" or (h.mode == "initials" and len(h.term) == 2):
            # a candidate: the model has to agree
            factor = 0.35 + 0.6 * prob
        elif h.mode == "homophone" or h.mode == "initials":
            # a non-word that reads like a term, or a Latin token of three or four letters that
            # spells a term's initials in Chinese text: nearly a candidate
            factor = HOMOPHONE_BASE + (1.0 - HOMOPHONE_BASE) * prob
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


# Model evidence under this (P(offensive) under 0.3), with nothing else, names no category: every
# rule and detector that reads scores starts at 0.35, and a greeting with "insult 0.11" misleads.
MODEL_FLOOR = 0.25
SELF_DIRECTED_MODEL = 0.5  # the model's weight when the speaker only calls themselves a name


def model_evidence(prob: float, decision: float = MODEL_DECISION) -> float:
    """Monotone map of P(offensive) to evidence that puts ``decision`` on the violation line."""
    if prob < decision:
        return prob * THRESHOLD / decision
    return THRESHOLD + (prob - decision) * (1.0 - THRESHOLD) / (1.0 - decision)


# A flag that no lexicon word names goes to the category the category heads give at least this
# probability (P(category | abusive), one-vs-rest), else to the default (insult, or discrimination
# when a group is named). Asked only for Chinese texts without lexicon hits or group mentions.
CATEGORY_DECISION = 0.5

# The everyday-abuse model (abuse beyond COLD's topics: looks, intelligence, family, fandom,
# provoking, sarcasm, oblique threats, defamation, harassment, doxxing, raids, contempt for groups
# COLD lacks; training.train_everyday) is a second opinion on the texts the main model is unsure
# of: P(offensive) in EVERYDAY_BAND. Below the band the main model's "safe" stands: trained on few
# abusive texts, the everyday model alone over-reads some sentence frames. EVERYDAY_LINES: from
# which main-model P on, which line the everyday model's P must reach to flag; the less the main
# model leans to abuse, the surer the second opinion must be. docs/MODEL.md has the settings tried
# and the figures they were chosen by.
EVERYDAY_LINES = ((0.05, 0.9), (0.2, 0.8))
EVERYDAY_BAND = (EVERYDAY_LINES[0][0], MODEL_DECISION)
# The stance model (training.train_stance) reads a Chinese text that uses the words of speech
# against discrimination (context.stance_cue) and would be flagged: under STANCE_LINE, P(attack),
# it is read as arguing against abuse (the anti-bias cue's weights, _context_factors). The line
# is set on COLD dev, whose labels mark most such texts offensive (docs/MODEL.md).
#
# The stance model also reads a text with no cue but with a lexicon term inside quotation marks
# (and no other cue reading it as reported, quoted or argued against): a defence often quotes the
# slur it rejects. The same line; on the development files no attack was lost up to 0.5
# (docs/MODEL.md).
STANCE_LINE = 0.2
# A flagged text with neither a cue nor a quoted term that names an identity group is read by the
# stance model too, under a far stricter line: defences of a group without the usual words
# (河南人也是靠双手吃饭的) sit there beside COLD's attacks. Set on the development files and COLD
# dev (docs/MODEL.md).
GROUP_STANCE_LINE = 0.02
# A flagged text that names no group and holds no cue, no quoted term and no lexicon word (讨论事可以，
# 骂人不行; 大家先别急着骂，看完整视频) is read by the second stance model (training.
# train_person_stance), which has also learned attacks on a person: the first reads a threat or a
# rumour about someone as no attack. COLD, all about groups, has few such texts. The line is the
# stance line, checked on the development files and COLD dev (docs/MODEL.md). A text of that shape
# that the everyday model alone flags is read the same way.
PERSON_STANCE_LINE = 0.2
_GENDER = re.compile(r"[男女]")  # COLD's gender topic is the main model's to judge (女朋友, 男生 …)
# Words that speak of a group as a whole (女人都…, 所有男的, 你们女生): COLD's gender topic still.
_WHOLE_GROUP = re.compile(r"都|全是|全都|所有|这些|那些|们|[男女]性")


def everyday_line(main: float) -> float:
    """The line the everyday model must reach on a text the main model gives P ``main`` (inside
    EVERYDAY_BAND)."""
    line = EVERYDAY_LINES[0][1]
    for low, decision in EVERYDAY_LINES:
        if main >= low:
            line = decision
    return line


def _everyday_may_speak(p: Prepared) -> bool:
    """Whether a text lies outside what the COLD model knows best: it names no identity group and
    no gender, not even in pinyin (``hides_group``), and it neither reports, quotes or argues
    against abuse nor is said of oneself (those cues lower the main model's weight on purpose; the
    second opinion would undo them). One exception: a text said to someone (你…, @…) whose only
    group words are gender words and that speaks of no group as a whole (美女，约吗 is said to a
    person; COLD's gender topic is what 女人都… says of all of them)."""
    ctx = p.context
    if ctx.reporting or ctx.quoting or ctx.anti_bias or ctx.self_directed:
        return False
    text = p.norm.text
    if hides_group(text, p.pinyin):
        return False
    if not p.features.mentions_group and _GENDER.search(text) is None:
        return True
    return ctx.second_person and _WHOLE_GROUP.search(text) is None and GroupMasker.default().only_gender(text)


def _pushback_shape(p: Prepared) -> bool:
    """Whether a Chinese text is of the kind the person-stance model reads: no lexicon word, no
    group named, no stance cue (a flag on it is a model's alone)."""
    return p.lang == "zh" and not p.hits and not p.features.mentions_group and stance_cue(p.norm.text) is None


@cache
def _group_sounds() -> tuple[frozenset[tuple[str, ...]], int]:
    """The pinyin of every group word of two syllables or more (河南人 → he nan ren), and the
    longest."""
    sounds = set()
    for term in GroupMasker.default().terms:
        syllables = to_pinyin(normalize(term)).syllables
        if len(syllables) >= 2:
            sounds.add(syllables)
    return frozenset(sounds), max(map(len, sounds))


def hides_group(text: str, pinyin: PinyinView) -> bool:
    """Whether a text that holds Latin letters names a group or a gender in sound: a group word's
    syllables in a row (河nan人, hei ren), or 女 typed as ``nv``. Typed pinyin hides the word from
    the group masker, and with it the text's topic from the guard of the everyday model."""
    if _LATIN_RUN.search(text) is None:
        return False
    syllables = pinyin.syllables
    if "nv" in syllables:
        return True
    sounds, longest = _group_sounds()
    return any(
        syllables[i : i + k] in sounds
        for i in range(len(syllables) - 1)
        for k in range(2, longest + 1)
    )


def _context_factors(p: Prepared, *, by_stance: bool = False) -> tuple[dict[str, float], float]:
    """Multipliers for lexicon evidence per category, and one for the model's probability.

    The lexicon is blind to context, so every cue corrects it. The model is corrected by the cues
    for speech that quotes abuse without endorsing it: a victim reporting abuse aimed at them, and
    anti-bias speech. The latter is the hardest safe case for detectors (COLD's authors), and
    COLD's own train/dev labels mark most of it offensive, so the model learned the words, not
    the stance: this rule costs dev accuracy on purpose (docs/MODEL.md has the figures).
    """
    ctx = p.context
    lex: dict[str, float] = {}
    model = 1.0
    if ctx.reporting or ctx.quoting:
        # Quoted abuse is evidence about someone else's message: it keeps a quarter of its weight
        # (a report that also exposes personal data still counts as exposure).
        model *= 0.25
        for c in _REPORTABLE:
            lex[c] = lex.get(c, 1.0) * (1.0 if c == "privacy" and p.pii else 0.25)
    if ctx.anti_bias:
        model *= 0.4
        for c in ("discrimination", "hate_incitement", "insult", "ridicule"):
            lex[c] = lex.get(c, 1.0) * 0.4
        if not by_stance:
            # 别再人肉她了, 不要在评论区挂人 name doxxing and pile-ons to reject them (data actually
            # exposed still counts). The stance model learned discrimination, not these: its
            # reading leaves them alone.
            lex["pile_on_incitement"] = lex.get("pile_on_incitement", 1.0) * 0.4
            lex["privacy"] = lex.get("privacy", 1.0) * (1.0 if p.pii else 0.4)
    if ctx.self_directed:
        for c in ("insult", "ridicule"):
            lex[c] = lex.get(c, 1.0) * 0.4
        if self_label(p.norm.text):
            # 我真是个傻子: the speaker calls themselves a name; the model only sees the name. A
            # text that goes on (我就是看不起…) keeps the model's full weight.
            model *= SELF_DIRECTED_MODEL
    if ctx.second_person and not (ctx.reporting or ctx.quoting):
        for c in ("insult", "threat", "ridicule", "sexual_harassment"):
            lex[c] = lex.get(c, 1.0) * 1.15
    return lex, model


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
        everyday: LinearTextModel | Literal["default"] | None = "default",
        categories: CategoryHeads | Literal["default"] | None = "default",
        stance: LinearTextModel | Literal["default"] | None = "default",
        person_stance: LinearTextModel | Literal["default"] | None = "default",
    ) -> None:
        self.lexicon = lexicon if lexicon is not None else Lexicon.default()
        self.models = models if models is not None else default_models()
        # The second opinion on Chinese texts the main model is unsure of (see _everyday_may_speak);
        # None turns it off.
        self.everyday = default_everyday() if everyday == "default" else everyday
        # Which category a flag is when no lexicon word names one (CATEGORY_DECISION).
        self.categories = default_category_heads() if categories == "default" else categories
        # Which side a text that speaks of discrimination is on (STANCE_LINE); None turns it off.
        self.stance = default_stance() if stance == "default" else stance
        # Which side a flagged text that names no group and no abusive word is on
        # (PERSON_STANCE_LINE); None turns it off.
        self.person_stance = default_person_stance() if person_stance == "default" else person_stance
        self.taxonomy = taxonomy or load_taxonomy()
        self.max_chars = max_chars
        self.threshold = threshold
        self.masker = GroupMasker.default()
        decloak.warm()  # its tables load once per process, here rather than on a first request
        warm_pinyin()
        self._severity = {c.code: c.severity for c in self.taxonomy.categories}
        self._codes = self.taxonomy.codes

    @staticmethod
    @cache
    def default() -> Screener:
        return Screener()

    @property
    def versions(self) -> dict[str, str]:
        out = {"taxonomy": self.taxonomy.version, "lexicon": self.lexicon.version}
        for lang, model in self.models.items():
            out[f"model.{lang}"] = model.version
        if self.everyday is not None:
            out[f"model.{EVERYDAY}"] = self.everyday.version
        if self.categories is not None:
            out[f"model.{CATEGORIES}"] = self.categories.version
        if self.stance is not None:
            out[f"model.{STANCE}"] = self.stance.version
        if self.person_stance is not None:
            out[f"model.{PERSON_STANCE}"] = self.person_stance.version
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
        """Verdicts for many texts, in order. A text repeated in the batch (a chant, a copy-paste
        brigade, a redelivery) is screened once and its verdicts are the same object."""
        unique: dict[str, int] = {}
        for t in texts:
            if self.check(t) not in unique:
                unique[t] = len(unique)
        if len(unique) == len(texts):
            return self._screen_unique(texts)
        verdicts = self._screen_unique(list(unique))
        return [verdicts[unique[t]] for t in texts]

    def _screen_unique(self, texts: Sequence[str]) -> list[Verdict]:
        prepared = [prepare(t, self.lexicon, self.masker) for t in texts]  # checked by screen_many
        probs = [0.0] * len(prepared)
        cues: list[list[tuple[str, float, int]]] = [[] for _ in prepared]
        for lang, model in self.models.items():
            idx = [i for i, p in enumerate(prepared) if p.lang == lang]
            if not idx:
                continue
            scored = model.predict_proba([prepared[i].features for i in idx]).tolist()
            for i, pr in zip(idx, scored, strict=True):
                probs[i] = pr
            # Explanations only for the texts the model itself would flag.
            flagged = [i for i in idx if probs[i] >= self.threshold]
            explained = model.top_ngrams([prepared[i].features for i in flagged])
            for i, top in zip(flagged, explained, strict=True):
                cues[i] = top
        stances = self._stances(prepared, probs)
        # (P, line) where the everyday model speaks: P at or over the line for the main model's P
        everyday: list[tuple[float, float] | None] = [None] * len(prepared)
        # The everyday model's P wherever it was asked: candidate hits (a homophone, typed
        # initials) are weighed by it when it leans further to abuse than the main model's
        # (这种脑蚕才会买十张专辑: the decoded 脑残 is abuse outside COLD's topics, which the main
        # model barely hears).
        agree: list[float | None] = [None] * len(prepared)
        if self.everyday is not None and "zh" in self.models:
            low, high = EVERYDAY_BAND
            idx = [
                i
                for i, p in enumerate(prepared)
                if p.lang == "zh" and low <= probs[i] < high and _everyday_may_speak(p)
            ]
            if idx:
                scored = self.everyday.predict_proba([prepared[i].features for i in idx]).tolist()
                for i, pr in zip(idx, scored, strict=True):
                    agree[i] = pr
                    line = everyday_line(probs[i])
                    if pr >= line:
                        everyday[i] = (pr, line)
                # the model's cues explain the flag unless the main model flags anyway
                flagged = [i for i in idx if everyday[i] is not None and probs[i] < self.threshold]
                explained = self.everyday.top_ngrams([prepared[i].features for i in flagged])
                for i, top in zip(flagged, explained, strict=True):
                    cues[i] = top
        self._person_stances(prepared, probs, everyday, stances)
        kinds: list[dict[str, float] | None] = [None] * len(prepared)
        if self.categories is not None:
            idx = [
                i
                for i, p in enumerate(prepared)
                if p.lang == "zh"
                and not p.hits
                and not p.features.mentions_group
                and (probs[i] >= self.threshold or everyday[i] is not None)
            ]
            predicted = self.categories.predict([prepared[i].features for i in idx])
            for i, kind in zip(idx, predicted, strict=True):
                kinds[i] = kind
        versions = self.versions
        return [
            self._decide(p, prob, top, versions, second, kind, stance, agreed)
            for p, prob, top, second, kind, stance, agreed in zip(
                prepared, probs, cues, everyday, kinds, stances, agree, strict=True
            )
        ]

    def _stances(
        self, prepared: list[Prepared], probs: list[float]
    ) -> list[tuple[float, str, str] | None]:
        """(P(attack), what was read, which model read it) for each text the stance model read as
        speech against abuse, else None. It reads a Chinese text that the main model or the
        lexicon would flag and that no other cue already reads as reporting, quoting or arguing
        against abuse: one with a stance cue, one with a lexicon term in quotation marks, or,
        flagged by the main model, one that names a group. Each text cleared gets the anti-bias
        context in place (``prepared`` is changed)."""
        out: list[tuple[float, str, str] | None] = [None] * len(prepared)
        if self.stance is None:
            return out
        # text index → (what the verdict names, the line P(attack) must be under)
        cues: dict[int, tuple[str, float]] = {}
        for i, p in enumerate(prepared):
            if p.lang != "zh" or not (probs[i] >= self.threshold or p.hits):
                continue
            if p.context.anti_bias or p.context.reporting or p.context.quoting:
                continue
            if (cue := stance_cue(p.norm.text)) is not None:
                cues[i] = (f"cue “{cue}”", STANCE_LINE)
            elif p.hits and (
                term := quoted_term(p.norm.original, ((h.start, h.end, h.term) for h in p.hits))
            ) is not None:
                cues[i] = (f"the abuse quoted “{term}”", STANCE_LINE)
            elif p.features.mentions_group and probs[i] >= self.threshold:
                cues[i] = ("a group named, no cue", GROUP_STANCE_LINE)
        if not cues:
            return out
        scored = self.stance.predict_proba([prepared[i].features for i in cues]).tolist()
        for (i, (why, line)), pr in zip(cues.items(), scored, strict=True):
            if pr < line:
                prepared[i].context = arguing_against(prepared[i].context)
                out[i] = (pr, why, "stance model")
        return out

    def _person_stances(
        self,
        prepared: list[Prepared],
        probs: list[float],
        everyday: list[tuple[float, float] | None],
        stances: list[tuple[float, str, str] | None],
    ) -> None:
        """The person-stance model reads each Chinese text that a model alone flags (the main
        model, or the everyday model where the main one is unsure), that names no group and holds
        no stance cue and no lexicon word, and that no cue or stance reading has already cleared.
        Under PERSON_STANCE_LINE the text gets the anti-bias context, its everyday flag is
        withdrawn and ``stances`` says why (all three lists are changed in place)."""
        if self.person_stance is None:
            return
        idx = [
            i
            for i, p in enumerate(prepared)
            if stances[i] is None
            and (probs[i] >= self.threshold or everyday[i] is not None)
            and not (p.context.anti_bias or p.context.reporting or p.context.quoting)
            and _pushback_shape(p)
        ]
        if not idx:
            return
        scored = self.person_stance.predict_proba([prepared[i].features for i in idx]).tolist()
        for i, pr in zip(idx, scored, strict=True):
            if pr < PERSON_STANCE_LINE:
                prepared[i].context = arguing_against(prepared[i].context)
                everyday[i] = None
                why = "no group, no cue, no abusive word"
                if probs[i] < self.threshold:
                    why += "; flagged by the everyday model"
                stances[i] = (pr, why, "person-stance model")

    # --- scoring ----------------------------------------------------------------------------

    def _decide(
        self,
        p: Prepared,
        prob: float,
        cues: list[tuple[str, float, int]],
        versions: dict[str, str],
        everyday: tuple[float, float] | None = None,
        kinds: dict[str, float] | None = None,
        stance: tuple[float, str, str] | None = None,
        agree: float | None = None,
    ) -> Verdict:
        weigh = prob if agree is None else max(prob, agree)
        evidence = _lexicon_evidence(p.hits, weigh) if p.hits else {}
        spans = [
            Span(h.start, h.end, h.term, h.category, "lexicon", h.severity, h.mode, h.weight) for h in p.hits
        ]
        if p.pii:
            doxx_words = "privacy" in evidence
            miss = 1.0 - evidence.get("privacy", 0.0)
            for q in p.pii:
                if doxx_words:
                    ev = 0.97
                elif q.kind in _STRONG_PII and not (
                    q.kind == "address" and offered_by_owner(p.norm.original, q.start, q.end)
                ):
                    ev = 0.7
                else:
                    # contact details people share freely, and a shop's or one's own address
                    ev = 0.3
                miss *= 1.0 - ev * q.confidence
                spans.append(
                    Span(q.start, q.end, q.masked, "privacy", "pii", "illegal", q.kind, q.confidence)
                )
            evidence["privacy"] = 1.0 - miss
        if p.lang == "zh":
            # exposing someone's data by name (真名、住址整理好了，私聊), the digits masked or withheld
            found = exposure_act(p.norm)
            if found is not None:
                start, end, what = found
                evidence["privacy"] = 1.0 - (1.0 - evidence.get("privacy", 0.0)) * (1.0 - EXPOSURE_WEIGHT)
                spans.append(Span(start, end, what, "privacy", "pii", "illegal", "exposure", EXPOSURE_WEIGHT))

        # The model says "offensive or not"; its probability goes to the category the text most
        # clearly is (the strongest lexicon evidence), else discrimination when an identity group
        # is mentioned, else insult.
        notes = list(p.context.notes)
        if weigh > prob and any(h.mode in _CANDIDATE_MODES for h in p.hits):
            notes.append(f"model: everyday abuse P(offensive)={weigh:.2f} weighs the cloaked forms")
        if stance is not None:
            attack, cue, reader = stance
            notes.append(f"stance: read as speech against abuse ({reader} P(attack)={attack:.2f}, {cue})")
        if evidence:
            primary = max(evidence, key=evidence.__getitem__)
        elif kinds and max(kinds.values()) >= CATEGORY_DECISION:
            # No word names the category: the category heads do (an oblique threat is a threat).
            primary = max(kinds, key=kinds.__getitem__)
            notes.append(f"category: {primary} by the category model ({kinds[primary]:.2f})")
        else:
            primary = "discrimination" if p.features.mentions_group else "insult"
        if "pile_on_incitement" in evidence and rallies_support(p.norm.text):
            evidence["pile_on_incitement"] *= SUPPORT_FACTOR
            notes.append("context: a call to support, not to attack")
        if p.context.notes:
            lex_factor, model_factor = _context_factors(p, by_stance=stance is not None)
            for c, f in lex_factor.items():
                if c in evidence:
                    evidence[c] = min(1.0, evidence[c] * f)
            prob *= model_factor
        scores = dict.fromkeys(self._codes, 0.0)
        scores.update(evidence)
        model_ev = model_evidence(prob)
        if model_ev < MODEL_FLOOR and not evidence:
            # the model alone, leaning clearly safe: no category is named on its word (你好); with
            # other evidence it still adds to it
            model_ev = 0.0
        if p.context.reporting or p.context.anti_bias or p.context.quoting:
            # Quoted words: lexicon and model see the same quote, so they are one piece of evidence.
            scores[primary] = max(scores[primary], model_ev)
        else:
            scores[primary] = 1.0 - (1.0 - scores[primary]) * (1.0 - model_ev)
        if prob >= self.threshold and self.models:
            notes.append(f"model: P(offensive)={prob:.2f}")
            spans.extend(self._model_spans(p, cues, primary))
        if everyday is not None:
            # The main model was unsure and the text lies outside COLD's topics: the everyday-abuse
            # model is sure. Its evidence starts on the violation line.
            second, line = everyday
            scores[primary] = max(scores[primary], model_evidence(second, line))
            notes.append(
                f"model: everyday abuse P(offensive)={second:.2f} (line {line:.2f}),"
                f" main model unsure ({prob:.2f})"
            )
            if prob < self.threshold:
                spans.extend(self._model_spans(p, cues, primary))

        violating = [c for c, v in scores.items() if v >= self.threshold]
        severity = max((self._severity[c] for c in violating), key=severity_rank) if violating else None
        if len(spans) > MAX_SPANS:
            # A 100,000-character wall of one insult has tens of thousands of hits: keep the
            # verdict small, PII and model cues first, then the earliest lexicon hits.
            notes.append(f"spans: showing {MAX_SPANS} of {len(spans)}")
            spans.sort(key=lambda sp: (sp.source == "lexicon", sp.start))
            del spans[MAX_SPANS:]
        if len(spans) > 1:
            spans.sort(key=lambda sp: (sp.start, sp.end))
        return Verdict(
            violation=bool(violating),
            score=max(scores.values()),
            severity=severity,
            categories=scores,
            spans=tuple(spans),
            versions=versions,
            notes=tuple(notes),
        )

    @staticmethod
    def _model_spans(p: Prepared, cues: list[tuple[str, float, int]], category: str) -> list[Span]:
        """The character n-grams that pushed the model's score up most, as original spans: cues
        that overlap or touch are one span (the phrase, not its pieces), a span inside a lexicon
        hit is left to the hit, and a lone character is shown only when nothing else is."""
        runs: list[list[float]] = []  # [i, j, weight] in normalised characters
        for token, weight, i in sorted(cues, key=lambda c: c[2]):
            if unicodedata.category(token[0])[0] in "PZ":
                continue
            j = i + len(token)
            if runs and i <= runs[-1][1]:
                runs[-1][1] = max(runs[-1][1], j)
                runs[-1][2] = max(runs[-1][2], weight)
            else:
                runs.append([i, j, weight])
        out: list[Span] = []
        text = p.norm.original
        for i, j, weight in ((int(a), int(b), w) for a, b, w in runs):
            start, end = p.read.span(i, j)
            for h in p.hits:  # what a lexicon hit covers is the hit's to show
                if h.start <= start < h.end:
                    start = h.end
                if h.start < end <= h.end:
                    end = h.start
            while start < end and unicodedata.category(text[start])[0] in "PZ":
                start += 1
            while start < end and unicodedata.category(text[end - 1])[0] in "PZ":
                end -= 1
            if start >= end:
                continue
            # Name the cue by a lexicon hit inside it, if any: 傻逼 is an insult even when the
            # text's strongest category is a threat.
            cat = next((h.category for h in p.hits if h.start < end and start < h.end), category)
            out.append(Span(start, end, text[start:end], cat, "model", "harmful", "ngram", round(weight, 4)))
        if len(out) + len(p.hits) + len(p.pii) > 1:
            out = [sp for sp in out if sp.end - sp.start > 1]
        return out
