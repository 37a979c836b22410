"""The everyday-abuse model: a second opinion on Chinese texts the main model is unsure of.

COLD (the main model's data) covers race, gender and region; the everyday model was trained on
the project's data about looks, intelligence, family, fandom, provoking, sarcasm and oblique
threats, defamation and harassment (training.train_everyday). The screener asks it only inside
the main model's uncertain band and only outside COLD's topics (screen._everyday_may_speak).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from cvguard.detection.features import TextFeatures
from cvguard.detection.lexicon import Lexicon
from cvguard.detection.model import CATEGORIES, EVERYDAY, CategoryHeads
from cvguard.detection.normalize import normalize
from cvguard.detection.port import CascadeScreener
from cvguard.detection.screen import (
    EVERYDAY_BAND,
    EVERYDAY_LINES,
    Screener,
    _everyday_may_speak,
    everyday_line,
    hides_group,
    prepare,
)
from cvguard.errors import ModelError


@pytest.fixture(scope="module")
def screener() -> Screener:
    screener = Screener.default()
    assert screener.everyday is not None, "the committed everyday model is missing"
    return screener


def probabilities(screener: Screener, text: str) -> tuple[float, float]:
    features = [prepare(text, screener.lexicon).features]
    assert screener.everyday is not None
    main = screener.models["zh"].predict_proba(features)[0]
    return float(main), float(screener.everyday.predict_proba(features)[0])


@pytest.mark.parametrize(
    "text",
    [
        "你每天几点下班走哪条路我都清楚，自己掂量掂量",  # an oblique threat
        "你爸妈知道你在网上这么丢人吗",  # at the family
    ],
)
def test_it_decides_what_the_main_model_is_unsure_of(screener: Screener, text: str) -> None:
    main, second = probabilities(screener, text)
    assert EVERYDAY_BAND[0] <= main < EVERYDAY_BAND[1] and second >= everyday_line(main)
    verdict = screener.screen(text)
    assert verdict.violation
    assert any(n.startswith("model: everyday abuse") for n in verdict.notes)
    assert any(s.source == "model" for s in verdict.spans)  # which words, as for the main model
    assert verdict.versions[f"model.{EVERYDAY}"] == screener.everyday.version  # type: ignore[union-attr]
    # without it, the same text passes: the second opinion is what flags it
    assert not Screener(everyday=None).screen(text).violation


class Sure:
    """A second opinion that calls everything abuse, to show where the screener asks it."""

    version = "sure"

    def __init__(self) -> None:
        self.asked: list[str] = []

    def predict_proba(self, feats: Sequence[TextFeatures]) -> np.ndarray:
        self.asked += [f.c for f in feats]
        return np.full(len(feats), 0.99)

    def top_ngrams(self, feats: Sequence[TextFeatures], k: int = 3) -> list[list[tuple[str, float, int]]]:
        return [[] for _ in feats]


def test_it_is_asked_only_inside_the_band(screener: Screener) -> None:
    sure = Sure()
    asking = Screener(everyday=sure)  # type: ignore[arg-type]
    texts = ["这位博主是个好人", "周末一起去爬山吧", "你爸妈知道你在网上这么丢人吗", "你这个傻逼"]
    mains = [probabilities(screener, t)[0] for t in texts]
    verdicts = asking.screen_many(texts)
    for text, main, verdict in zip(texts, mains, verdicts, strict=True):
        inside = EVERYDAY_BAND[0] <= main < EVERYDAY_BAND[1]
        assert (normalize(text).text in sure.asked) is inside, (text, main)
        if not inside and main < EVERYDAY_BAND[0]:
            assert not verdict.violation, text  # below the band the main model's "safe" stands
    assert mains[0] < EVERYDAY_BAND[0] and mains[1] < EVERYDAY_BAND[0]
    assert EVERYDAY_BAND[0] <= mains[2] < EVERYDAY_BAND[1]
    assert mains[3] >= EVERYDAY_BAND[1]  # the main model is sure: not asked either


@pytest.mark.parametrize(
    ("text", "speaks"),
    [
        ("你爸妈知道你在网上这么丢人吗", True),
        ("河南人就是这样", False),  # an identity group: COLD's topic
        ("女人就是这样", False),  # a gender word: COLD's topic
        ("你们女生就是麻烦", False),  # said to someone, but of a gender as a whole
        ("你女朋友知道你在网上这么丢人吗", True),  # said to a person; gender words only
        ("美女，你一晚多少钱", True),  # harassment of a person, not COLD's gender topic
        ("你这个河南女人", False),  # another group besides
        ("他骂我“你爸妈知道你在网上这么丢人吗”", False),  # reporting or quoting abuse
        ("不要地域黑，网暴要不得", False),  # arguing against abuse
        ("我就是个废物", False),  # said of oneself
        # a group or gender word typed in pinyin is still COLD's topic
        ("河nan人就是这样", False),
        ("感受不dao黑ren的美", False),
        ("这个nv生真是的", False),
        ("ni爸妈知道你在网上这么丢人吗", True),  # pinyin, but no group in it
    ],
)
def test_it_speaks_only_outside_colds_topics(text: str, speaks: bool) -> None:
    assert _everyday_may_speak(prepare(text, Lexicon.default())) is speaks


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("wo在东bei呆过", True),  # 东北, a region, in sound
        ("hai呀。河nan人没偷你long", True),
        ("难dao有钱人不hui生nv儿吗", True),  # 女 typed as nv
        ("我是河南人", False),  # no letters: the masker reads the characters themselves
        ("ni zen me hai bu qu si", False),  # pinyin without a group
        ("今天iPhone发布会", False),
    ],
)
def test_a_group_word_typed_in_pinyin_is_heard(text: str, hidden: bool) -> None:
    norm = normalize(text)
    assert hides_group(norm.text, prepare(text, Lexicon.default()).pinyin) is hidden


def test_the_model_port_keeps_it(screener: Screener) -> None:
    class Never:
        @property
        def name(self) -> str:
            return "never"

        def score(self, texts: Sequence[str]) -> Sequence[float]:
            raise AssertionError("not asked")

    cascade = CascadeScreener(screener, Never())
    assert cascade.everyday is screener.everyday and cascade.stance is screener.stance


# --- the category heads: which category a flag is when no lexicon word names one ---------------


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("你每天几点下班走哪条路我都清楚，自己掂量掂量", "threat"),
        ("他那个店卖的都是过期肉，老板还打过顾客，大家别去", "defamation"),
        ("兄弟们，去他微博底下刷屏，让他知道厉害", "pile_on_incitement"),
    ],
)
def test_a_model_only_flag_is_named_by_the_category_heads(
    screener: Screener, text: str, category: str
) -> None:
    verdict = screener.screen(text)
    assert not [s for s in verdict.spans if s.source == "lexicon"]  # no word names it
    assert verdict.violation
    assert max(verdict.categories, key=verdict.categories.__getitem__) == category
    assert f"category: {category} by the category model" in " ".join(verdict.notes)
    assert verdict.versions[f"model.{CATEGORIES}"] == screener.categories.version  # type: ignore[union-attr]
    # without the heads the same flag goes to the default category
    plain = Screener(categories=None).screen(text)
    assert plain.violation and max(plain.categories, key=plain.categories.__getitem__) == "insult"


def test_a_lexicon_word_or_a_group_still_names_the_category(screener: Screener) -> None:
    hit = screener.screen("你这个傻逼，我知道你每天几点下班")
    assert not any(n.startswith("category:") for n in hit.notes)
    group = screener.screen("河南人都是骗子")
    assert not any(n.startswith("category:") for n in group.notes)
    assert max(group.categories, key=group.categories.__getitem__) == "discrimination"


def test_category_heads_round_trip(tmp_path: Path, screener: Screener) -> None:
    heads = screener.categories
    assert heads is not None and set(heads.heads) >= {"threat", "defamation", "insult", "ridicule"}
    path = tmp_path / "heads.npz"
    heads.save(path)
    again = CategoryHeads.load(path)
    features = [prepare(t, screener.lexicon).features for t in ("你等着瞧", "今天天气不错")]
    assert again.predict(features) == heads.predict(features)
    with np.load(path, allow_pickle=False) as z:  # no pickle anywhere in it
        assert all(z[name].dtype != object for name in z.files)
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a model")
    with pytest.raises(ModelError):
        CategoryHeads.load(broken)


def test_the_less_the_main_model_leans_the_surer_the_second_opinion_must_be() -> None:
    lows = [low for low, _ in EVERYDAY_LINES]
    assert lows == sorted(lows) and lows[0] == EVERYDAY_BAND[0]
    lines = [everyday_line(p) for p in (0.05, 0.1, 0.19, 0.2, 0.5, 0.59)]
    assert lines == sorted(lines, reverse=True)  # never easier as the main model leans less
    assert everyday_line(0.1) == EVERYDAY_LINES[0][1] and everyday_line(0.3) == EVERYDAY_LINES[-1][1]


class Leaning:
    """A second opinion with a fixed P, to show that the line depends on the main model's P."""

    version = "leaning"

    def __init__(self, p: float) -> None:
        self.p = p

    def predict_proba(self, feats: Sequence[TextFeatures]) -> np.ndarray:
        return np.full(len(feats), self.p)

    def top_ngrams(self, feats: Sequence[TextFeatures], k: int = 3) -> list[list[tuple[str, float, int]]]:
        return [[] for _ in feats]


def test_a_low_leaning_text_needs_the_higher_line(screener: Screener) -> None:
    low_text, high_text = "明天见面去看你", "你爸妈知道你在网上这么丢人吗"
    low_main, high_main = probabilities(screener, low_text)[0], probabilities(screener, high_text)[0]
    assert EVERYDAY_LINES[0][0] <= low_main < EVERYDAY_LINES[1][0] <= high_main < EVERYDAY_BAND[1]
    between = (EVERYDAY_LINES[0][1] + EVERYDAY_LINES[1][1]) / 2  # over the upper line, under the lower
    verdicts = Screener(everyday=Leaning(between)).screen_many([low_text, high_text])  # type: ignore[arg-type]
    assert not verdicts[0].violation and verdicts[1].violation
    assert f"(line {EVERYDAY_LINES[1][1]:.2f})" in " ".join(verdicts[1].notes)  # which line it passed
