"""The screener end to end on the packaged lexicon and model: decisions and their explanations."""

from __future__ import annotations

import random

import pytest

from cvguard.detection.screen import Screener, language_of


@pytest.fixture(scope="module")
def screener() -> Screener:
    return Screener.default()


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("你就是个傻逼", "insult"),  # plain second-person insult
        ("你是傻 * 逼", "insult"),  # separators between the characters
        ("你是個廢物", "insult"),  # traditional characters
        ("nmsl", "insult"),  # pinyin-initial abbreviation
        ("你怎么还不去死，我知道你住哪", "threat"),  # wishing death plus intimidation
        ("兄弟们冲了，去她评论区骂", "pile_on_incitement"),  # calling a crowd onto a person
        ("已经人肉到了，他手机号是13812345678", "privacy"),  # doxxing words plus a phone number
        ("美女约吗，多少钱一晚", "sexual_harassment"),  # sexual solicitation aimed at a person
        ("河南人都是骗子", "discrimination"),  # regional stereotype
    ],
)
def test_violations_are_flagged_in_the_right_category(screener: Screener, text: str, category: str) -> None:
    verdict = screener.screen(text)
    assert verdict.violation, verdict
    assert verdict.categories[category] >= screener.threshold, verdict.categories


@pytest.mark.parametrize(
    ("text", "note"),
    [
        ("他在评论区骂我是傻逼，我已经截图举报了", "reporting"),  # a victim quoting abuse to report it
        ("不要再说河南人偷井盖这种地域黑的话了，这是歧视", "against"),  # anti-bias speech
        ("我真是个笨蛋，又把钥匙锁在家里了", "self-directed"),  # self-deprecation
        ("他私信给我发“你这个贱人去死吧”，我已经存证了", "mention"),  # abuse received, quoted
        ("“河南人都是骗子”这种说法我听一次反驳一次", "mention"),  # a stereotype quoted to reject it
        ("“废物”这个词不该用来形容孩子", "mention"),  # a word talked about as a word
        ("我弟弟在学校被同学叫“傻子”，回家哭了一晚上", "mention"),  # someone was called it
        ("说“废物”的那位，先学会把人当人再来发言", "mention"),  # calling out who said it
        ("残疾人不是“废物”，他们靠自己的双手吃饭", "mention"),  # a name denied
        ("事情还没查清楚，请大家不要人肉她", "against"),  # a plea against doxxing
        ("人肉搜索是违法的，就算对方做错了，也不能把人家住址挂出来", "against"),  # doxxing named a crime
        ("别去她评论区骂人了，等官方通报吧", "against"),  # a plea against a pile-on
        ("姐妹们冲！今晚八点哥哥新歌上线，大家记得去评论区好好夸夸", "support"),  # a call to support
        ("据本台记者报道，该网红遭到大量网友辱骂后关闭了评论区", "reporting"),  # news register
    ],
)
def test_counter_examples_are_not_violations_and_say_why(screener: Screener, text: str, note: str) -> None:
    verdict = screener.screen(text)
    assert not verdict.violation, verdict
    assert any(note in n for n in verdict.notes), verdict.notes


@pytest.mark.parametrize(
    "text",
    [
        "你就是“傻逼”这种人",  # quotation marks around an insult aimed at "你": use, not mention
        "你是“傻”“逼”吧",  # quotation marks as separators (filter dodging)
        "你这个“傻逼”人",  # a closing quote before 人 is no frame
        "被你这种人说“傻逼”也不丢人，你才是“傻逼”",  # a name turned on "你": use
    ],
)
def test_quotation_marks_do_not_launder_an_attack(screener: Screener, text: str) -> None:
    verdict = screener.screen(text)
    assert verdict.violation, verdict
    assert not any("mention" in n for n in verdict.notes), verdict.notes


@pytest.mark.parametrize(
    "text",
    [
        "这家店的服务态度太差了，退款拖了一个月。",  # criticism of a service
        "我买了一台傻瓜相机，拍照很方便",  # benign look-alike on the allow-list
        "今天天气不错，我们去公园散步吧",  # ordinary chatter
        "客服电话是13812345678，欢迎咨询",  # a phone number alone is not doxxing
    ],
)
def test_benign_texts_pass(screener: Screener, text: str) -> None:
    assert not screener.screen(text).violation


def test_spans_point_at_the_original_characters(screener: Screener) -> None:
    text = "你是傻 * 逼"
    spans = [s for s in screener.screen(text).spans if s.source == "lexicon"]
    assert any(text[s.start : s.end] == "傻 * 逼" for s in spans), spans


def test_privacy_span_is_masked_and_highest_tier(screener: Screener) -> None:
    verdict = screener.screen("开盒了，她身份证号110105199003071234，家住幸福路12号")
    pii = [s for s in verdict.spans if s.source == "pii"]
    assert pii and all("1990030712" not in s.term for s in pii)  # the raw number never leaves
    assert verdict.severity == "illegal"


def test_an_owners_address_is_not_doxxing_but_someone_elses_is(screener: Screener) -> None:
    # A shop's new site or one's own home is shared freely: the address counts as contact details.
    for text in ("我们店在东湖区幸福路12号，欢迎光临", "本店新址：东湖区幸福路12号"):
        verdict = screener.screen(text)
        assert not verdict.violation, (text, verdict.categories)
        assert any(s.source == "pii" and s.match == "address" for s in verdict.spans)  # still shown
    assert screener.screen("她家住在东湖区幸福路12号3单元").top_category == "privacy"
    assert screener.screen("她家住在东湖区幸福路12号3单元").violation
    # doxxing words weigh more than the owner's: 开盒 of "our" finding is still exposure
    assert screener.screen("开盒了，我们查到他住东湖区幸福路12号").violation


def test_exposing_someones_data_by_name_is_a_privacy_violation(screener: Screener) -> None:
    verdict = screener.screen("出一份资料：某博主真名、住址、户籍，私聊价格")
    assert verdict.violation and verdict.top_category == "privacy" and verdict.severity == "illegal"
    (span,) = [s for s in verdict.spans if s.match == "exposure"]
    assert (span.source, span.term) == ("pii", "真名")  # which rule and which word
    # with a lexicon privacy word too, the two add up (身份证号 alone is not enough)
    masked = screener.screen("身份证号4101**********2318，就是他天天在超话带节奏")
    alone = screener.screen("身份证号").categories["privacy"]
    assert masked.violation and masked.categories["privacy"] > alone
    # one's own address, told by the person it was threatened at: a report, not an exposure
    assert not screener.screen("他骂我还说要把我的住址发出来，我已经截图了").violation


@pytest.mark.parametrize(
    "text",
    [
        "兄弟们冲她评论区，骂到她删号",  # support words absent, attack words present
        "姐妹们冲，给她点赞点到她怀疑人生，顺便举报她",  # a word of support beside a word of attack
        "那个说“不要地域黑”的家伙主页在这，大家冲一波",  # the plea is quoted to mock it
        "开盒了，她家住在幸福路12号3单元，别歧视我",  # a plea does not launder exposed data
    ],
)
def test_pleas_and_support_do_not_launder_an_attack(screener: Screener, text: str) -> None:
    verdict = screener.screen(text)
    assert verdict.violation, (text, verdict.notes)


def test_model_driven_verdict_names_its_cues(screener: Screener) -> None:
    # No lexicon term here: the model decides, and shows which characters pushed it.
    verdict = screener.screen("黑人的智商普遍低，基因决定的，改不了")
    if verdict.violation:
        assert any(s.source == "model" for s in verdict.spans)
        assert any(n.startswith("model:") for n in verdict.notes)


def test_verdict_records_every_detector_version(screener: Screener) -> None:
    versions = screener.screen("hello").versions
    assert {"taxonomy", "lexicon", "model.zh", "model.en"} <= set(versions)


def test_screen_many_matches_screen(screener: Screener) -> None:
    texts = ["你就是个傻逼", "今天天气不错", "You are a stupid bitch", ""]
    assert screener.screen_many(texts) == [screener.screen(t) for t in texts]


def test_english_abuse_uses_the_english_model(screener: Screener) -> None:
    verdict = screener.screen("shut up you stupid bitch, nobody wants you here")
    assert verdict.violation


def test_a_wall_of_abuse_keeps_the_verdict_small(screener: Screener) -> None:
    # 20,000 repeats of one insult: every hit is real, but a reviewer needs a bounded verdict.
    verdict = screener.screen("傻逼" * 20_000)
    assert verdict.violation
    assert len(verdict.spans) == 256
    assert any(n.startswith("spans: showing 256 of") for n in verdict.notes)


@pytest.mark.parametrize(
    ("text", "flagged"),
    [
        ("我真是个傻子", False),  # the speaker calls themselves a name
        ("我就是个废物", False),
        ("你真是个傻子", True),  # the same name aimed at someone
        ("我就是看不起河南人", True),  # an attitude towards a group, not a name for oneself
        ("我真是个傻子，你更是个傻逼", True),  # second person: not self-directed at all
    ],
)
def test_calling_oneself_a_name_is_not_a_violation(screener: Screener, text: str, flagged: bool) -> None:
    verdict = screener.screen(text)
    assert verdict.violation is flagged, (text, verdict.score, verdict.notes)


@pytest.mark.parametrize("text", ["你好", "谢谢你", "早上好，大家", "hello there", "今天天气不错"])
def test_a_greeting_names_no_category(screener: Screener, text: str) -> None:
    verdict = screener.screen(text)
    assert not verdict.violation and verdict.score == 0.0
    assert all(v == 0.0 for v in verdict.categories.values()), verdict.categories


@pytest.mark.parametrize(
    "text",
    ["你这个垃圾，恶意满满", "你就是个傻逼，滚出去", "你是不是脑子有病啊，恶心", "河南人都是骗子，垃圾地方",
     "你个死肥猪，丑八怪"],
)
def test_model_spans_show_phrases_not_single_characters_nor_what_the_lexicon_shows(
    screener: Screener, text: str
) -> None:
    verdict = screener.screen(text)
    lexicon = [s for s in verdict.spans if s.source == "lexicon"]
    model = [s for s in verdict.spans if s.source == "model"]
    for s in model:
        assert s.end - s.start > 1 or len(verdict.spans) == 1, (text, s)
        assert not any(x.start < s.end and s.start < x.end for x in lexicon), (text, s)
        assert s.term == text[s.start:s.end] and s.term.strip("，,。 ") == s.term


def test_language_is_decided_by_character_counts() -> None:
    def by_characters(text: str) -> str:  # the rule, one character at a time
        cjk = sum(1 for ch in text if "\u3400" <= ch <= "\u4dbf" or "\u4e00" <= ch <= "\u9fff")
        if cjk * 4 >= len(text):
            return "zh"
        latin = sum(1 for ch in text if "a" <= ch <= "z")
        return "en" if latin > 3 * cjk and latin >= 3 else "zh"

    alphabet = "ab zA你好，。1😀\u3400\u4dbf\u4e00\u9fff\u9fa0-"
    rng = random.Random(3)
    texts = ["", "ok", "you are an idiot", "你好", "hello 你好 world", "sb", "idiot 傻逼 idiot idiot"]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(5000)]
    for text in texts:
        assert language_of(text) == by_characters(text), text
    assert language_of("you are an idiot") == "en" and language_of("你这个idiot") == "zh"
