"""The everyday-abuse model: a second opinion on Chinese texts the main model is unsure of.

COLD (the main model's data) covers race, gender and region; the everyday model was trained on
the project's data about looks, intelligence, family, fandom, provoking, sarcasm and oblique
threats, defamation and harassment (training.train_everyday). The screener asks it only inside
the main model's uncertain band and only outside COLD's topics (screen._everyday_may_speak).
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from cvguard.detection.lexicon import Lexicon
from cvguard.detection.model import EVERYDAY
from cvguard.detection.port import CascadeScreener
from cvguard.detection.screen import (
    EVERYDAY_BAND,
    EVERYDAY_DECISION,
    Screener,
    _everyday_may_speak,
    prepare,
)


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
    assert EVERYDAY_BAND[0] <= main < EVERYDAY_BAND[1] and second >= EVERYDAY_DECISION
    verdict = screener.screen(text)
    assert verdict.violation
    assert any(n.startswith("model: everyday abuse") for n in verdict.notes)
    assert any(s.source == "model" for s in verdict.spans)  # which words, as for the main model
    assert verdict.versions[f"model.{EVERYDAY}"] == screener.everyday.version  # type: ignore[union-attr]
    # without it, the same text passes: the second opinion is what flags it
    assert not Screener(everyday=None).screen(text).violation


def test_it_is_not_asked_below_the_band(screener: Screener) -> None:
    # Alone, it reads sentence frames as abuse (trained on few, mostly addressed, abusive texts):
    # where the main model says clearly safe, that stands.
    for text in ("这位博主是个好人", "明天见面去看你"):
        main, second = probabilities(screener, text)
        assert main < EVERYDAY_BAND[0] and second >= EVERYDAY_DECISION, text
        assert not screener.screen(text).violation, text


@pytest.mark.parametrize(
    ("text", "speaks"),
    [
        ("你爸妈知道你在网上这么丢人吗", True),
        ("河南人就是这样", False),  # an identity group: COLD's topic
        ("你女朋友知道你在网上这么丢人吗", False),  # a gender word: COLD's topic
        ("他骂我“你爸妈知道你在网上这么丢人吗”", False),  # reporting or quoting abuse
        ("不要地域黑，网暴要不得", False),  # arguing against abuse
        ("我就是个废物", False),  # said of oneself
    ],
)
def test_it_speaks_only_outside_colds_topics(text: str, speaks: bool) -> None:
    assert _everyday_may_speak(prepare(text, Lexicon.default())) is speaks


def test_the_model_port_keeps_it(screener: Screener) -> None:
    class Never:
        @property
        def name(self) -> str:
            return "never"

        def score(self, texts: Sequence[str]) -> Sequence[float]:
            raise AssertionError("not asked")

    assert CascadeScreener(screener, Never()).everyday is screener.everyday
