"""Context cues that change what a matched word means.

Words alone over-flag: a victim quoting the abuse to report it ("他骂我是傻逼"), a news report, an
argument *against* a stereotype ("不要再说河南人偷井盖了，这是地域黑"), self-deprecation ("我真是个
笨蛋"). And they under-flag: the same word aimed at "你" is an attack. These cues are cheap regular
expressions over the normalised text; the scorer turns them into multipliers and notes, so every
adjustment is visible in the verdict.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from cvguard.detection.normalize import Normalized, clause_breaks, normalize


def _any_of(*alternatives: str) -> re.Pattern[str]:
    """One regex of ``alternatives``, each starting with a literal character. ``re`` then looks
    for those first characters at C speed and tries the pattern only there; a pattern that starts
    with a group is tried at every position, which costs microseconds per text."""
    return re.compile("|".join(alternatives))


# Somebody said it to me, or someone was abused: 他骂我是…, 被骂…, 被网友辱骂为…, 我已经截图举报了
_REPORTERS = ("他", "她", "他们", "她们", "有人", "网友", "对方", "这人", "那人", "楼主", "博主", "up主")
_REPORTING = _any_of(
    *(
        rf"{who}[^，]{{0,6}}(?:骂|说|叫|喊|称|辱骂|攻击|诋毁|造谣说?)(?:我|人家)(?:是|为|成|做)?"
        for who in _REPORTERS
    ),
    r"被(?:人|他|她|网友|他们|一群人|大量网友)?[^，]{0,4}(?:骂|辱骂|网暴|人肉|开盒|造谣|诋毁|威胁)",
    *(rf"{who}(?:截图|截屏|录屏)?(?:举报|报警|投诉|起诉|取证)" for who in ("已经?", "我")),
    # news and official register: 报道称…, 据…报道, 记者调查发现, 警方提醒, 法院审理, 经核实系谣言
    r"报道(?:称|中提到|指出|显示)", r"据[^，。]{0,10}报道", r"记者[^，。]{0,6}(?:调查|获悉|了解到|发现)",
    r"警方(?:提醒|通报|表示|称)", r"法院(?:审理|判决|认定)", r"网信办", r"研究(?:显示|发现|表明)",
    r"调查(?:显示|发现)", r"经核实", r"系谣言", r"辟谣",
)
# Mention, not use: abusive words inside quotation marks that the sentence frames as someone
# else's words (他给我发“…”, 有人说“…”, 骂我“…”, 被同事说“…”, 说“…”的那位), denies it (不是“…”)
# or talks about it as words (“…”这种话 / 这个词 / 什么意思). Read on the original text: the
# normaliser drops quotation marks between CJK characters.
_OPEN, _CLOSE = "“\"「『‘", "”\"」』’"
_QUOTING = re.compile(
    rf"(?:发来|发给我|给我发|发了|收到|私信|留言|刷|号召|散布|说成|称为|包括|吼|"
    rf"有人说|有人发|网友说|对方说|他说|她说|叫我|骂我|骂你|说你|骂他|说他|骂她|说她|拿|用)"
    rf"[^{_OPEN}{_CLOSE}，。！？]{{0,3}}[{_OPEN}]"
    # someone was called it: 被人叫“…”, 被同事说“…”, 被笑“…”
    rf"|被[^{_OPEN}，。！？]{{0,6}}(?:叫|喊|说|称|骂|笑|嘲笑)(?:成|作|为|了)?[^{_OPEN}{_CLOSE}，。！？]{{0,3}}[{_OPEN}]"
    # a name denied: 跨性别者不是“…”
    rf"|不是[{_OPEN}]"
    rf"|[{_CLOSE}](?:(?:这种|这类|这样的|之类的|这个|这些|的)?"
    rf"(?:话|说法|言论|口号|标签|梗|段子|词|缩写|谐音|字眼|私信|留言|评论|骚扰|谣言|是什么意思|什么意思)"
    rf"|的(?:人|那位|那些|那个|们))"
)
_QUOTED = re.compile(rf"[{_OPEN}][^{_OPEN}{_CLOSE}]*[{_CLOSE}]")
_ANY_QUOTE = re.compile(rf"[{_OPEN}{_CLOSE}]")


def _quoting(original: str) -> bool:
    """Quoted words framed as someone else's or as words, with nobody addressed outside the
    quotes: "你" outside them makes it a message to someone (你就是“傻逼”这种人) and no mention."""
    if _ANY_QUOTE.search(original) is None or _QUOTING.search(original) is None:
        return False  # most texts hold no quotation mark: one scan at C speed decides
    outside = _QUOTED.sub("", original).lower()
    return _SECOND_PERSON.search(outside) is None
# Arguing against discrimination or abuse: 不要/别/反对 … 歧视/地域黑/网暴…
_AGAINST = ("不要", "别", "不该", "不应该", "不能", "拒绝", "反对", "抵制", "停止", "少")
_BIASES = ("歧视", "地域黑", "地图炮", "网暴", "偏见", "人肉", "开盒", "挂人")
_ANTI_BIAS = _any_of(
    *(
        rf"{word}[^，。！？,.!?]{{0,12}}"
        r"(?:歧视|地域黑|地图炮|偏见|刻板印象|网暴|谩骂|骂人|人身攻击|一棒子打死|以偏概全|标签"
        r"|人肉|开盒|挂人|扒人|扒别人)"
        for word in _AGAINST
    ),
    *(rf"{bias}(?:是|都是)?(?:不对|错误|可耻|要不得|不可取)" for bias in _BIASES),
    # doxxing and pile-ons named as crimes: 人肉搜索是违法的, “开盒”行为将依法严惩
    *(rf"{bias}[^，。！？,.!?]{{0,8}}(?:违法|犯法|犯罪|严惩|追究|判刑|拘留)" for bias in _BIASES[3:]),
    *(rf"{where}(?:好人|坏人)" for where in ("哪里都有", "到处都有", "都有")),
)
# Words that speech for *and* against a group both use: a rhetorical question (凭什么…, 难道…),
# a name for discrimination (歧视, 地域黑, 刻板印象), a generalisation denied (不是所有…, 以偏概全)
# or a plea (别扯…, 尊重). COLD's own texts with these words are mostly attacks, so they say only
# that the stance model is worth asking (screen.STANCE_LINE), not which side the text is on.
_STANCE_CUE = _any_of(
    "凭什么", "凭啥", "难道", "谁规定", "谁说", "谁给你", "怎么了", "活该", "就该", "不配",
    "歧视", "刻板印象", "地域黑", "地图炮", "以偏概全", "一竿子", "一棒子", "一棍子", "不代表",
    "不是所有", "不是每个", "哪有什么", "个别", "偏见", "人身攻击", "羞辱", "侮辱", "网暴", "尊重",
    "标签", "污名", "开玩笑", "难听", "伤人", "恶毒", "别扯", "别搞", "别上升", "对立", "定性",
    "这种话", "这种说法", "老话",
)


def stance_cue(text: str) -> str | None:
    """The first word in a (normalised) text of the kind that speech against discrimination uses
    (so its stance is worth a model's look), or None."""
    m = _STANCE_CUE.search(text)
    return m.group() if m else None


_SELF = re.compile(r"^(我|本人|俺)(真的?|简直|果然|就|也)?是(个|一个)?")
_SECOND_PERSON = re.compile(r"你|您|尼玛|汝|(?<![a-z0-9])(?:u|you|ur|your)(?![a-z0-9])")


@dataclass(frozen=True, slots=True)
class Context:
    reporting: bool
    anti_bias: bool
    self_directed: bool
    second_person: bool
    quoting: bool = False  # the abusive words are quoted as someone else's, or as words

    @property
    def notes(self) -> tuple[str, ...]:
        return _notes(self.reporting, self.anti_bias, self.self_directed, self.second_person, self.quoting)


@cache
def _notes(
    reporting: bool, anti_bias: bool, self_directed: bool, second_person: bool, quoting: bool
) -> tuple[str, ...]:
    out = []
    if reporting:
        out.append("context: reporting or quoting abuse")
    if quoting:
        out.append("context: quotes the words (mention, not use)")
    if anti_bias:
        out.append("context: argues against discrimination or abuse")
    if self_directed:
        out.append("context: self-directed")
    if second_person:
        out.append("context: second-person target")
    return tuple(out)


def quoted_term(original: str, spans: Iterable[tuple[int, int, str]]) -> str | None:
    """The first term of ``spans`` (start, end, term; offsets into ``original``) that lies inside
    quotation marks: abuse mentioned, perhaps to reject it (残奥会的运动员也是运动员，弹幕里刷“残废比赛”
    的…), perhaps not; the stance model decides (screen.STANCE_LINE)."""
    if _ANY_QUOTE.search(original) is None:
        return None
    quoted = [(m.start(), m.end()) for m in _QUOTED.finditer(original)]
    for start, end, term in spans:
        if any(a < start and end < b for a, b in quoted):
            return term
    return None


def arguing_against(ctx: Context) -> Context:
    """``ctx`` with the anti-bias cue set: the stance model read the text as speech against abuse."""
    return _CONTEXTS[ctx.reporting, True, ctx.self_directed, ctx.second_person, ctx.quoting]


def unless_only_quoted(ctx: Context, original: str) -> Context:
    """``ctx`` without the anti-bias cue when the cue lies only inside quotation marks: a plea
    quoted to mock it is someone else's (那个说“不要地域黑”的家伙主页在这，大家冲一波). The text outside
    the quotes is normalised again; only texts with the cue and a quotation mark pay for it."""
    if not ctx.anti_bias or _ANY_QUOTE.search(original) is None:
        return ctx
    if _ANTI_BIAS.search(normalize(_QUOTED.sub("，", original)).text) is not None:
        return ctx
    return _CONTEXTS[ctx.reporting, False, ctx.self_directed, ctx.second_person, ctx.quoting]


def with_clauses(norm: Normalized) -> str:
    """The normalised text with a "，" put back at every clause break the original had."""
    breaks = clause_breaks(norm)
    if not breaks:
        return norm.text
    text = norm.text
    parts = [text[a:b] for a, b in zip((0, *breaks), (*breaks, len(text)), strict=True)]
    return "，".join(parts)


# Contexts are immutable values: the 32 possible ones are built once.
_CONTEXTS = {
    (r, a, s, p, q): Context(reporting=r, anti_bias=a, self_directed=s, second_person=p, quoting=q)
    for r in (False, True)
    for a in (False, True)
    for s in (False, True)
    for p in (False, True)
    for q in (False, True)
}


_ATTITUDE = re.compile(r"看不起|瞧不起|讨厌|恨|歧视|反感|鄙视|厌恶|受不了|就烦")
SELF_LABEL_CHARS = 6  # at most this many characters after 我(真)是(个): a name for oneself


def self_label(text: str) -> bool:
    """Whether the (normalised) text only calls the speaker something: 我真是个傻子, 我就是个废物;
    not 我就是看不起河南人 (an attitude towards others) nor a longer sentence that goes on."""
    m = _SELF.match(text)
    if m is None:
        return False
    rest = text[m.end():].strip()
    return 0 < len(rest) <= SELF_LABEL_CHARS and _ATTITUDE.search(rest) is None


def read_context(text: str, original: str = "") -> Context:
    """Cues over a normalised text with its clause breaks (``with_clauses``); quoting is read on
    the ``original`` text, where the quotation marks still are."""
    second = _SECOND_PERSON.search(text) is not None
    return _CONTEXTS[
        _REPORTING.search(text) is not None,
        _ANTI_BIAS.search(text) is not None,
        not second and _SELF.match(text) is not None,
        second,
        bool(original) and _quoting(original),
    ]
