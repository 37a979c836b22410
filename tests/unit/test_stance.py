"""The stance model: speech against discrimination is read as such, attacks that borrow its words
are not (training.train_stance, screen.STANCE_LINE).

COLD labels most texts that speak of discrimination as offensive, so the main model learned the
words (凭什么, 歧视, 地域黑), not which side the writer is on. The stance model reads only the texts
that hold those words (context.stance_cue) and would be flagged, and clears the ones it reads as
speech against abuse with the anti-bias context, which every verdict then names.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pytest

from cvguard.detection.context import stance_cue
from cvguard.detection.features import TextFeatures
from cvguard.detection.model import PERSON_STANCE, STANCE
from cvguard.detection.normalize import normalize
from cvguard.detection.screen import PERSON_STANCE_LINE, STANCE_LINE, Screener


@pytest.fixture(scope="module")
def screener() -> Screener:
    screener = Screener.default()
    assert screener.stance is not None, "the committed stance model is missing"
    return screener


@pytest.mark.parametrize(
    "text",
    [
        "凭什么因为口音就看不起外地人？",
        "难道农村人就低人一等吗？",
        "凭什么女司机就要被嘲笑？男司机出事故的也不少",
    ],
)
def test_speech_against_discrimination_is_not_flagged(screener: Screener, text: str) -> None:
    without = Screener(stance=None).screen(text)
    assert without.violation, "the main model flags it on its words"
    verdict = screener.screen(text)
    assert not verdict.violation
    assert "context: argues against discrimination or abuse" in verdict.notes
    note = next(n for n in verdict.notes if n.startswith("stance: read as speech against abuse"))
    score, cue = re.fullmatch(r".*P\(attack\)=([0-9.]+), cue “(.+)”\)", note).groups()  # type: ignore[union-attr]
    assert float(score) < STANCE_LINE  # which score cleared it
    assert cue in text and cue == stance_cue(normalize(text).text)  # on which words
    assert verdict.versions[f"model.{STANCE}"] == screener.stance.version  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "text",
    [
        "我不是地域黑，但河南人确实都是骗子",  # an attack wrapped in a defence
        "凭什么让外地人来我们这抢饭碗，外地人都是骗子",
        "难道你们河南人不偷井盖吗？",  # a stereotype asked as a question
    ],
)
def test_attacks_that_borrow_its_words_stay_flagged(screener: Screener, text: str) -> None:
    assert stance_cue(normalize(text).text)
    verdict = screener.screen(text)
    assert verdict.violation
    assert not any(n.startswith("stance:") for n in verdict.notes)


class Clears:
    """A stance model that reads everything as speech against abuse, to show what it is asked."""

    version = "clears"

    def __init__(self) -> None:
        self.asked: list[str] = []

    def predict_proba(self, feats: Sequence[TextFeatures]) -> np.ndarray:
        self.asked += [f.c for f in feats]
        return np.zeros(len(feats))


def test_it_reads_only_flagged_chinese_texts_with_a_stance_cue() -> None:
    clears = Clears()
    screener = Screener(stance=clears)  # type: ignore[arg-type]
    asked = "凭什么河南人都是骗子"  # a cue, and flagged
    no_cue = "你这个人就是个骗子，滚"  # flagged, no cue, no quoted term, no group
    not_flagged = "凭什么今天下雨"  # a cue, nothing to clear
    already = "不要地域黑，河南人都是骗子这种话别说了"  # the anti-bias rule already reads it
    english = "why is everyone so biased against them, idiots"
    verdicts = screener.screen_many([asked, no_cue, not_flagged, already, english])
    assert clears.asked == [normalize(asked).text]
    assert not verdicts[0].violation  # cleared: the anti-bias weights, named in the notes
    assert "context: argues against discrimination or abuse" in verdicts[0].notes
    assert verdicts[1].violation  # never asked, never cleared


def test_a_flagged_text_that_names_a_group_is_asked_under_a_stricter_line() -> None:
    # No cue word and no quoted term, but a group named: the stance model is asked, and only a
    # very sure "not an attack" (GROUP_STANCE_LINE) clears it.
    from cvguard.detection.screen import GROUP_STANCE_LINE

    assert GROUP_STANCE_LINE < STANCE_LINE
    clears = Clears()
    verdict = Screener(stance=clears).screen("河南人都是骗子")  # type: ignore[arg-type]
    assert clears.asked == [normalize("河南人都是骗子").text]
    assert not verdict.violation
    assert any("a group named, no cue" in n for n in verdict.notes)
    assert Screener.default().screen("河南人都是骗子").violation  # the real model reads an attack


def test_the_cue_is_a_question_not_an_answer() -> None:
    # Both sides use these words; the cue only says the stance model should look.
    cued = (("凭什么歧视外地人", "凭什么"), ("外地人就该被歧视", "就该"), ("别搞地域对立", "别搞"))
    for text, cue in (*cued, ("不是所有人都这样", "不是所有")):
        assert stance_cue(text) == cue  # the first cue word, for the verdict's note
    for text in ("今天天气不错", "你这个傻逼", "河南人都是骗子"):
        assert not stance_cue(text)


def test_without_the_model_nothing_changes(screener: Screener) -> None:
    plain = Screener(stance=None)
    assert plain.stance is None and f"model.{STANCE}" not in plain.versions
    text = "今天的比赛真精彩"
    assert plain.screen(text).violation == screener.screen(text).violation


def test_abuse_quoted_to_reject_it_is_read_by_the_stance_model(screener: Screener) -> None:
    # No cue word, but the slur it rejects is in quotation marks: the stance model is asked too.
    text = "残奥会的运动员也是运动员，弹幕里刷“残废比赛”的，你跑得过人家一条腿的吗？"
    assert Screener(stance=None).screen(text).violation, "the lexicon and the main model flag it"
    verdict = screener.screen(text)
    assert not verdict.violation
    note = next(n for n in verdict.notes if n.startswith("stance: read as speech against abuse"))
    score, term = re.fullmatch(r".*P\(attack\)=([0-9.]+), the abuse quoted “(.+)”\)", note).groups()  # type: ignore[union-attr]
    assert float(score) < STANCE_LINE and term == "残废"


@pytest.mark.parametrize(
    "text",
    [
        "楼上那个“傻逼”又来了",  # quotation marks that launder nothing
        "你就是个“废物”，别装了",  # said to someone
        "这个主播卖的\"助农苹果\"是批发市场进的烂货",  # scare quotes around no abuse
    ],
)
def test_quotation_marks_alone_do_not_clear_an_attack(screener: Screener, text: str) -> None:
    assert screener.screen(text).violation


def test_quoted_term_needs_the_term_inside_the_marks() -> None:
    from cvguard.detection.context import quoted_term

    text = "他被叫“傻逼”，傻逼才这么说"
    inside, outside = (text.index("傻逼"), "傻逼"), (text.rindex("傻逼"), "傻逼")
    assert quoted_term(text, [(a, a + 2, t) for a, t in (outside, inside)]) == "傻逼"
    assert quoted_term(text, [(outside[0], outside[0] + 2, "傻逼")]) is None
    assert quoted_term("没有引号的傻逼", [(5, 7, "傻逼")]) is None


def test_a_flagged_text_that_names_no_group_and_no_abusive_word_goes_to_the_person_stance_model() -> None:
    # Neither a cue, a quoted term, a group nor a lexicon word: the first stance model, which
    # learned its attacks from discrimination, is not asked; the person-stance model is, under
    # PERSON_STANCE_LINE, and the verdict names it.
    first, person = Clears(), Clears()
    screener = Screener(stance=first, person_stance=person)  # type: ignore[arg-type]
    plain = "讨论事可以，骂人不行。"  # the main model flags it on 骂人 alone
    with_word = "你这个人就是个骗子，滚"  # lexicon words: the lexicon's to judge
    group = "河南人都是骗子"  # a group named: the first stance model's
    assert Screener(stance=None, person_stance=None).screen(plain).violation
    verdicts = screener.screen_many([plain, with_word, group])
    assert person.asked == [normalize(plain).text]
    assert first.asked == [normalize(group).text]
    assert not verdicts[0].violation
    assert "context: argues against discrimination or abuse" in verdicts[0].notes
    assert any(
        n.startswith("stance: read as speech against abuse (person-stance model P(attack)=0.00")
        and "no group, no cue, no abusive word" in n
        for n in verdicts[0].notes
    )
    assert verdicts[1].violation
    assert f"model.{PERSON_STANCE}" in screener.versions
    assert f"model.{PERSON_STANCE}" not in Screener(person_stance=None).versions


@pytest.mark.parametrize("text", ["讨论事可以，骂人不行。", "你们骂得这么起劲，有人看完整个视频吗？"])
def test_pushing_back_without_a_cue_or_a_group_is_not_flagged(screener: Screener, text: str) -> None:
    assert Screener(person_stance=None).screen(text).violation, "the main model flags it"
    verdict = screener.screen(text)
    assert not verdict.violation
    note = next(n for n in verdict.notes if n.startswith("stance: read as speech against abuse"))
    score = re.fullmatch(r".*person-stance model P\(attack\)=([0-9.]+), .*\)", note).group(1)  # type: ignore[union-attr]
    assert float(score) < PERSON_STANCE_LINE


@pytest.mark.parametrize("text", ["你活着就是浪费空气", "你妈没教过你做人吗"])
def test_attacks_on_a_person_without_an_abusive_word_stay_flagged(screener: Screener, text: str) -> None:
    # The first stance model reads many of these as no attack; the person-stance model learned them.
    verdict = screener.screen(text)
    assert verdict.violation
    assert not any(sp.source == "lexicon" for sp in verdict.spans)
    assert not any(n.startswith("stance:") for n in verdict.notes)


def test_pushback_the_everyday_model_alone_flags_is_read_by_the_person_stance_model(
    screener: Screener,
) -> None:
    # The main model is unsure (0.45) and the everyday model, which learned no defences of a
    # person, flags it; the person-stance model reads it as it would had the main model flagged it.
    text = "这话你敢当着他本人说吗？"
    without = Screener(person_stance=None).screen(text)
    assert without.violation
    assert any(n.startswith("model: everyday abuse") for n in without.notes)
    verdict = screener.screen(text)
    assert not verdict.violation
    note = next(n for n in verdict.notes if n.startswith("stance: read as speech against abuse"))
    assert "person-stance model" in note and "flagged by the everyday model" in note
    assert not any(n.startswith("model: everyday abuse") for n in verdict.notes)


def test_an_attack_the_everyday_model_flags_stays_flagged(screener: Screener) -> None:
    verdict = screener.screen("楼主这种人也配当老师？误人子弟。")
    assert verdict.violation
    assert any(n.startswith("model: everyday abuse") for n in verdict.notes)
    assert not any(n.startswith("stance:") for n in verdict.notes)
