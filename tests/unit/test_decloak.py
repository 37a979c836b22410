"""Cloaked forms no table lists: sound (homophones, typed pinyin, digits), initials, emoji.

The general rules of detection/decloak.py, applied by the lexicon to every term it has. The forms
here are chosen to show each rule and its limits; the project's real-world cloaking suite
(data/wild/cloaking.jsonl) measures how far they generalise (bench/bench_wild.py).
"""

from __future__ import annotations

import pytest

from cvguard.detection import decloak
from cvguard.detection.lexicon import Hit, Lexicon
from cvguard.detection.normalize import normalize
from cvguard.detection.screen import Screener


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return Lexicon.default()


def find(lexicon: Lexicon, text: str) -> list[Hit]:
    return lexicon.find(normalize(text))


def found(lexicon: Lexicon, text: str) -> set[tuple[str, str, str]]:
    """(what was written, the term it stands for, how it matched) for every decloaked hit."""
    return {
        (text[h.start : h.end], h.term, h.mode)
        for h in find(lexicon, text)
        if h.mode in ("cloaked", "homophone", "initials")
    }


@pytest.mark.parametrize(
    ("text", "written", "term", "mode"),
    [
        # other characters of the same sound, standing alone (not a word, not part of one)
        ("隔壁宿舍那个制杖", "制杖", "智障", "homophone"),
        ("评论区那个垃鸡又来了", "垃鸡", "垃圾", "homophone"),
        ("我看你就是剑人一个", "剑人", "贱人", "homophone"),
        # typed pinyin, with or without spaces, and pinyin inside Chinese
        ("ni zen me bu qu si", "qu si", "去死", "cloaked"),
        ("楼主这种fei物也配发帖？", "fei物", "废物", "cloaked"),
        ("隔壁宿舍那个la ji", "la ji", "垃圾", "cloaked"),
        # digits read aloud
        ("我看你还是去4吧", "去4", "去死", "cloaked"),
        ("评论区那个王8蛋", "王8蛋", "王八蛋", "cloaked"),
        # an emoji by its CLDR name: the head of 药草 (herb) is 草, 热茶 (hot tea) gives 茶
        ("🌿泥🐴！", "🌿泥🐴", "草泥马", "cloaked"),
        ("隔壁宿舍那个绿🍵婊", "绿🍵婊", "绿茶婊", "cloaked"),
        ("我们组长是个🧠残", "🧠残", "脑残", "cloaked"),
    ],
)
def test_a_cloaked_form_names_its_term(
    lexicon: Lexicon, text: str, written: str, term: str, mode: str
) -> None:
    assert (written, term, mode) in found(lexicon, text)


@pytest.mark.parametrize(
    "text",
    [
        "他白吃白喝了一个月",  # 白吃 is a word, not 白痴
        "我一直涨工资",  # 直涨 sits inside 一直
        "看见人就跑",  # 见人 sits inside 看见
        "@林小雨 你个学生",  # 你个 (ni ge): two everyday characters, not a slur
        "给我看吐了",  # 吐了 beside a function word is not 屠了
        "效率奇低",  # 奇低 (qí dī) keeps none of 起底's tones (qǐ dǐ)
        "重庆小笼包，也支持老乡",  # punctuation between 包 and 也: not 包夜
        "大宝8岁，二宝3岁",  # digits before a measure word count years
        "河南100万考生取400人",  # the 4 of 400 is not si
        "she is a man",  # English, not pinyin typing
        "他说要qu四川玩",  # a mixed form keeps its term's characters: 四 is not 死
        "今天wo men qu si chuan wan",  # qu si inside a longer typed run is a coincidence
        "发个ps看看",  # two letters are an everyday abbreviation, not initials of a term
        "我用fw更新了路由器",  # two letters outside a name's slot: firmware, not 废物
        "黑龙江大学也算是TG亲儿子吧",  # idem
    ],
)
def test_ordinary_writing_is_not_decloaked(lexicon: Lexicon, text: str) -> None:
    assert found(lexicon, text) == set()


def test_initials_of_three_letters_are_a_candidate_in_chinese_text(lexicon: Lexicon) -> None:
    hits = [h for h in find(lexicon, "说的就是你，sqj") if h.mode == "initials"]
    assert [(h.term, h.category) for h in hits] == [("死全家", "threat")]
    # the same letters in a text with no Chinese are not read as initials
    assert [h for h in find(lexicon, "sqj") if h.mode == "initials"] == []


@pytest.mark.parametrize(
    ("text", "term"),
    [("家里那个fw又在打游戏", "废物"), ("你们这帮lj又在刷榜", "垃圾"), ("你个 fw", "废物")],
)
def test_two_letter_initials_of_an_insult_count_where_a_name_stands(
    lexicon: Lexicon, text: str, term: str
) -> None:
    hits = [h for h in find(lexicon, text) if h.mode == "initials"]
    assert [(h.term, h.category) for h in hits] == [(term, "insult")]
    # only a candidate, weighed with the model: firmware talk in a name's slot is not flagged
    verdict = Screener.default().screen("那个fw版本太旧了")
    assert [s.term for s in verdict.spans if s.match == "initials"] == ["废物"]
    assert verdict.categories.get("insult", 0.0) < 0.5


@pytest.mark.parametrize(
    ("text", "written", "term"),
    [
        ("你个傻Z，作业又没写", "傻Z", "傻子"),
        ("这个骚B又发新视频了", "骚B", "骚逼"),
        ("你这个贱r", "贱r", "贱人"),
        ("新来的绿茶B又在找班长借作业", "绿茶B", "绿茶婊"),
        ("喜欢这部剧的都是脑c", "脑c", "脑残"),
    ],
)
def test_one_character_typed_as_its_initial_letter(
    lexicon: Lexicon, text: str, written: str, term: str
) -> None:
    assert (written, term, "cloaked") in found(lexicon, text)
    # not when the characters kept are only the commonest ones (约 of 约炮 is one of them)
    assert not {f for f in found(lexicon, "今晚约P吗") if f[2] == "cloaked"}


@pytest.mark.parametrize(
    "text",
    [
        "iPhone的充电口终于换成Type-C了",  # a code: a sign beside the letter (not 冲了)
        "新欧洲人是中东农人+R系",  # idem (not 人肉)
        "想起了大S小S的奶奶",  # a name beside a common character (not 小三)
        "前任像极了我的b姑娘",  # 姑娘 is a word crossing the span (not 北姑)
        "你个傻bb",  # two letters: not one character's initial
    ],
)
def test_a_letter_in_ordinary_writing_is_not_an_initial(lexicon: Lexicon, text: str) -> None:
    assert not {f for f in found(lexicon, text) if f[2] == "cloaked"}


def test_terms_that_sound_alike_name_their_category_once(lexicon: Lexicon) -> None:
    # 傻逼, 傻比, 沙比 … all read sha bi: typed pinyin stands for one of them, the canonical one.
    hits = find(lexicon, "ni shi sha bi")
    assert [(h.term, h.category) for h in hits] == [("傻逼", "insult")]


def test_the_word_gate() -> None:
    text = "我一直涨工资"
    assert decloak.reads_as_written(text, 2, 4)  # 直涨: 一直 crosses its start
    assert not decloak.reads_as_written("那个制杖", 2, 4, "智障")
    assert decloak.reads_as_written("那个白吃", 2, 4, "白痴")  # a word of its own
    assert decloak.reads_as_written("比养", 0, 2, "逼样")  # no tone kept
    assert not decloak.reads_as_written("辣鸡", 0, 2, "垃圾")  # 鸡 keeps 圾's tone


def test_emoji_readings_come_from_the_cldr_name() -> None:
    assert decloak.emoji_readings("🐶") == ("狗",)  # 狗脸: "dog face"
    assert decloak.emoji_readings("🌿") == ("药草", "草", "药")
    assert decloak.emoji_readings("🗑️") == ("垃圾桶", "桶", "垃")  # the variation selector is ignored
    assert decloak.emoji_readings("a") == ()


def test_decode_writes_the_term_over_the_cloaked_span(lexicon: Lexicon) -> None:
    text = "隔壁宿舍那个la ji，真烦"
    norm = normalize(text)
    read = decloak.decode(norm, find(lexicon, text), normalize)
    assert read is not None
    assert read.text == normalize("隔壁宿舍那个垃圾，真烦").text
    # offsets still point into the original: the term covers the span it replaced
    i = read.text.index("垃圾")
    assert read.span(i, i + 2) == (text.index("la"), text.index("ji") + 2)
    assert decloak.decode(normalize("今天天气不错"), [], normalize) is None


def test_the_model_reads_the_decoded_text() -> None:
    screener = Screener.default()
    text = "隔壁宿舍那个辣鸡"
    plain = screener.screen("隔壁宿舍那个垃圾")
    cloaked = screener.screen(text)
    assert plain.violation and cloaked.violation
    span = next(s for s in cloaked.spans if s.source == "lexicon")
    assert (text[span.start : span.end], span.term, span.match) == ("辣鸡", "垃圾", "homophone")
    # every span, the model's cues too, lies on the original text
    assert all(0 <= s.start < s.end <= len(text) for s in cloaked.spans)
    assert all(s.term == text[s.start : s.end] for s in cloaked.spans if s.source == "model")


def test_controls_stay_safe() -> None:
    screener = Screener.default()
    for text in ("隔壁宿舍那个学生", "他白吃白喝了一个月", "大宝8岁，二宝3岁", "我一直涨工资"):
        assert not screener.screen(text).violation, text


def test_the_emoji_pre_check_covers_every_emoji_with_a_name() -> None:
    from cvguard.detection.lexicon import _EMOJI_RANGE

    assert [e for e in decloak.emoji_chars() if not _EMOJI_RANGE.search(e)] == []
    assert _EMOJI_RANGE.search("今天天气不错，我们去公园散步吧") is None


def test_initials_weigh_like_a_homophone() -> None:
    # The model reads 祝发帖的人死全家 as barely abusive (its words are COLD's rarely); the term's
    # initials in Chinese text are nearly as sure a sign as the term written by another sound.
    screener = Screener.default()
    verdict = screener.screen("祝发帖的人sqj")
    assert verdict.violation
    assert [(s.term, s.match) for s in verdict.spans if s.source == "lexicon"] == [("死全家", "initials")]
    assert max(verdict.categories, key=verdict.categories.__getitem__) == "threat"
    # an everyday abbreviation on the allow list is not read as initials
    assert not screener.screen("我的sfz丢了，去哪补办").violation


def test_the_everyday_model_can_agree_with_a_homophone() -> None:
    # 脑蚕 reads as 脑残; the main model barely hears an insult outside COLD's topics (P 0.06), the
    # everyday model, asked because the text lies outside them, does: its P weighs the homophone.
    text = "这种脑蚕才会买十张专辑"
    verdict = Screener.default().screen(text)
    assert verdict.violation
    assert [(s.term, s.match) for s in verdict.spans if s.source == "lexicon"] == [("脑残", "homophone")]
    assert any("weighs the cloaked forms" in n for n in verdict.notes)
    assert not Screener(everyday=None).screen(text).violation


@pytest.mark.parametrize(
    ("text", "written", "term"),
    [
        ("这帮脑歹戋又在机场堵人", "脑歹戋", "脑残"),  # 残 as 歹戋
        ("那个马蚤货又在直播跳舞", "马蚤货", "骚货"),  # 骚 as 马蚤
        ("班上有个女良炮特别爱哭", "女良炮", "娘炮"),  # 娘 as 女良
    ],
)
def test_a_character_split_into_its_two_parts(lexicon: Lexicon, text: str, written: str, term: str) -> None:
    # The parts come from a decomposition table (data/split_chars.tsv), not from a list of forms.
    assert (written, term, "cloaked") in found(lexicon, text)


@pytest.mark.parametrize("text", ["这个女干部很能干", "我的女子朋友", "他是好人尔后再说"])
def test_ordinary_characters_side_by_side_are_not_a_split(lexicon: Lexicon, text: str) -> None:
    assert found(lexicon, text) == set()


def test_split_spellings_skip_words_and_stay_bounded() -> None:
    spellings = decloak.split_spellings("强奸")
    assert {"弓虽奸", "强女干", "弓虽女干"} <= set(spellings)
    assert "强奸" not in spellings
    assert decloak.split_spellings("一一") == []  # nothing to split
    assert len(decloak.split_spellings("操你妈的")) <= decloak.MAX_SPLIT_SPELLINGS

