"""Whom an abusive message is aimed at: the person it is addressed to, a group, or someone else.

Events that comment on a post name the poster as their target, whatever the comment says. A news
post draws abuse at the people in the news; a post about a fan war draws abuse at the other
fandom; a post on a gender topic draws abuse at women or men in general. None of that is abuse of
the poster, and a pile-on detector that counts it warns on every heated news thread. So behaviour
counts an abusive message against its target only when it reads as aimed at them:

    target   sent as a direct message, or naming a handle (@name: the platform sets the target from
             it), or written in the second person singular (你, 您, you), or naming nobody else
             (the default: abuse posted under your post is about you)
    group    an identity group is the top category (discrimination) and nobody is addressed, or
             it addresses a plural ("你们…都", "你们粉丝", "他们都") rather than a person, or it is
             fan talk aimed at a fandom (黑粉, 脑残粉, 私生饭, "我们哥哥")
    other    a third party is named and nobody is addressed: a demonstrative with a person noun
             (这个司机, 那个男的, 这些贪官), "…的那个人"; or the addressee's idol (你家哥哥), which
             in fan talk is someone else again; or nobody is addressed in a thread under a news
             report (a 【headline】, "据…报道", "警方通报"): abuse there is presumed to be at the
             people in the news

The cues are cheap regular expressions over the original text plus the verdict's top category and
its "second-person target" note; the reason is returned so that evidence can show it.
"""

from __future__ import annotations

import re
from typing import Literal

from cvguard.events import Event, Surface
from cvguard.verdict import Verdict

Aim = Literal["target", "group", "other"]

_PERSON = (
    "男的|女的|男人|女人|男生|女生|小孩|孩子|人贩子|司机|老师|医生|护士|凶手|罪犯|嫌疑人|嫌犯|商家|老板|"
    "公司|官员|贪官|保安|城管|警察|骗子|小偷|渣男|渣女|家长|患者|乘客|大妈|大爷|房东|中介|领导|校长|"
    "明星|艺人|主播|网红|博主|人"
)
_THIRD = re.compile(
    rf"(?:这|那)(?:个|些|帮|群|位|俩|两个|几个)(?:{_PERSON})"
    rf"|的那(?:个|些|位)(?:{_PERSON})"
    rf"|(?:这|那)(?:人|男的|女的)"
)
# "你家哥哥", "你家那位": the addressee's idol, a third party (fan talk)
_THEIR_IDOL = re.compile(r"你家(?:哥哥|姐姐|弟弟|妹妹|那位|那个|爱豆|正主|偶像|idol|主子)|你们家")
# Fan talk: insults for fans of the other side (黑粉, 脑残粉, 私生饭, 对家) and "我们哥哥" are
# aimed at a fandom, whoever the comment is posted under.
_FANDOM = re.compile(r"黑粉|脑残粉|私生饭|毒唯|唯粉|对家|饭圈|粉丝|我们(?:哥哥|姐姐|家)|我家(?:哥哥|姐姐)")
_PLURAL = re.compile(r"你们|他们都|她们都|他们全|她们全|这些人都|那些人都|\w粉都|粉丝都|\w粉全")
_HANDLE = re.compile(r"@[\w\-]{2,}")
_SINGULAR_YOU = re.compile(r"你(?!们)|您|(?<![a-z0-9])(?:u|you|ur|your)(?![a-z0-9])", re.IGNORECASE)


_NEWS = re.compile(
    r"^\s*[【\[#][^】\]#]{4,60}[】\]#]|据[^，。]{0,12}(?:报道|消息|通报)|(?:警方|官方|法院|检方)(?:通报|表示|称|回应)"
    r"|记者[^，。]{0,6}(?:获悉|了解到|调查|采访)|(?:通报|消息|报道)称"
)


def is_news(text: str) -> bool:
    """Whether a post reads as a news report (headline in brackets or a reporting formula)."""
    return _NEWS.search(text) is not None


def aim(event: Event, verdict: Verdict, *, news: bool = False) -> tuple[Aim, str]:
    """Whom an abusive ``event`` is aimed at, and the cue that says so; ``news``: the event sits in
    a thread under a news report."""
    if event.surface == Surface.dm:
        return "target", "direct message"
    text = event.text
    handle = _HANDLE.search(text)
    if handle is not None:
        return "target", f"names a handle: {handle.group(0)}"
    idol = _THEIR_IDOL.search(text)
    if idol is not None:
        return "other", f"the addressee's idol: {idol.group(0)}"
    plural = _PLURAL.search(text)
    if plural is not None:
        return "group", f"addresses a plural: {plural.group(0)}"
    fandom = _FANDOM.search(text)
    if fandom is not None:
        return "group", f"fan talk: {fandom.group(0)}"
    if _SINGULAR_YOU.search(text) is not None:
        return "target", "second person"
    if verdict.top_category == "discrimination":
        return "group", "identity group, nobody addressed"
    third = _THIRD.search(text)
    if third is not None:
        return "other", f"third party: {third.group(0)}"
    if news:
        return "other", "under a news report, nobody addressed"
    return "target", "posted to the target, nobody else named"


__all__ = ["Aim", "aim", "is_news"]
