"""Personal information in text: the evidence of doxxing (人肉 / 开盒).

``find_pii(norm)`` scans the normalised text for mainland mobile numbers, resident ID numbers,
bank cards, licence plates, e-mail addresses, QQ numbers, WeChat ids and street addresses, and
returns :class:`PiiHit` records whose offsets point into the *original* text. A hit never keeps
the raw value: only a masked form (``138****5678``) that is safe to log and show to reviewers.

Structured numbers are validated, not just shaped: ID numbers need a valid GB 11643 check digit
and a real birth date, bank cards need a valid Luhn digit and either a UnionPay ``62`` prefix or a
word such as 卡号 nearby. A number embedded in a longer digit run is not a phone number.

Most comments contain none of this, so a character-set test skips them before any regex runs.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Literal

from cvguard.detection.normalize import Normalized

PiiKind = Literal["phone", "id_card", "bank_card", "plate", "email", "qq", "wechat", "address"]

# When two hits overlap, the earlier kind in this tuple wins (a valid ID number is also an
# 18-digit run that could pass Luhn; "QQ 13812345678" is a QQ number first).
_PRIORITY: tuple[PiiKind, ...] = (
    "id_card",
    "bank_card",
    "email",
    "qq",
    "phone",
    "wechat",
    "plate",
    "address",
)
_RANK = {kind: i for i, kind in enumerate(_PRIORITY)}


@dataclass(frozen=True, slots=True)
class PiiHit:
    """One piece of personal information; ``start``/``end`` are offsets into the scanned text."""

    kind: PiiKind
    start: int
    end: int
    masked: str
    confidence: float


# A text without any of these characters cannot contain anything below: every number-shaped
# kind needs an ASCII digit (the views scanned have full-width digits folded), e-mail needs "@",
# WeChat needs 信 or a w/x (微信, V信, vx, wx, weixin, wechat), addresses without digits need
# 号/栋/幢/室/单元 after a Chinese numeral. One character-class search is the cheapest test.
_TRIGGER = re.compile(r"[0-9@号栋幢室单信xXwW]")

_DIGITS = "0123456789"
_CN_NUM = "一二三四五六七八九十百零〇两"
_NUM = rf"[0-9{_CN_NUM}]{{1,5}}"

_PHONE = re.compile(
    r"(?<![0-9])(?<![0-9]-)"
    r"(?:(?:\+|00)?86[-\s]?)?"
    r"(1[3-9][0-9])[-\s]?([0-9]{4})[-\s]?([0-9]{4})"
    r"(?!-?[0-9])"
)

_ID_CARD = re.compile(r"(?<![0-9A-Za-z])([1-9][0-9]{16}[0-9Xx])(?![0-9A-Za-z])")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

_BANK_CARD = re.compile(
    r"(?<![0-9])(?<![0-9][-\s])"
    r"([0-9]{16,19}|[0-9]{4}(?:[-\s][0-9]{4}){3}(?:[-\s]?[0-9]{1,3})?)"
    r"(?![0-9])(?![-\s][0-9])"
)
_CARD_CONTEXT = re.compile(r"卡号|银行卡|储蓄卡|信用卡|借记卡|开户行|银行账号|收款账号|账号|卡")

_PLATE = re.compile(
    r"(?<![A-Za-z0-9])"
    r"([京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼])"
    r"([A-HJ-NP-Za-hj-np-z])[·•.\-\s]?"
    r"([DFdf][A-HJ-NP-Za-hj-np-z0-9][0-9]{4}|[0-9]{5}[DFdf]|[A-HJ-NP-Za-hj-np-z0-9]{5})"
    r"(?![A-Za-z0-9])"
)

_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])"
    r"([A-Za-z0-9._%+-]{1,64})@([A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24})"
    r"(?![A-Za-z0-9-])"
)

_QQ = re.compile(
    r"(?:(?<![A-Za-z])qq|扣扣|企鹅|(?<![A-Za-z])q号)\s*(?:号码|号)?\s*[:：]?\s*"
    r"([1-9][0-9]{4,10})(?![0-9])",
    re.IGNORECASE,
)

_WECHAT = re.compile(
    r"(?:微信|威信|薇信|[vV]信|(?<![A-Za-z])(?:wx|vx|weixin|wechat))\s*(?:号)?\s*[:：]?\s*"
    r"([a-zA-Z][-_a-zA-Z0-9]{5,19})(?![-_a-zA-Z0-9])",
    re.IGNORECASE,
)

# Addresses are found from their tail (a road number, a compound with a building, or a chain of
# building/unit/room numbers) and then extended leftwards over place-name characters. Extending by
# hand keeps the scan linear; a single regex with optional province/city/district groups
# backtracks badly on long runs of Chinese text.
_UNIT = rf"{_NUM}\s*(?:号楼|号院|栋|幢|座|单元|层|室|号|楼)"
_ADDR_TAIL = re.compile(
    rf"(?P<road>(?:路|街|大道|道|巷|胡同|弄)\s*{_NUM}\s*(?:号|弄))(?:[-\s]?{_UNIT})*"
    rf"|(?P<compound>小区|花园|公寓|家园|大厦|新村|社区|苑)(?:[-\s]?{_UNIT})+"
    rf"|(?P<units>{_NUM}\s*(?:号楼|栋|幢)(?:[-\s]?{_UNIT})+)"
)
# Characters that end a place name when walking leftwards ("他家住在|幸福路12号").
_NAME_STOPS = "在住是的了到去就我你他她它们家说和与及或把被给从向往这那有个"
# Matched against the reversed text before a tail, so a C-speed ``match`` does the walk.
_NAME_BACKWARDS = re.compile(rf"(?:(?![{_NAME_STOPS}])[\u4e00-\u9fff0-9])*")
_ADMIN = re.compile(r"省|自治区|市|区|县|镇|乡|街道")
_MAX_NAME = 24


def _mask(value: str, keep_head: int, keep_tail: int) -> str:
    hidden = len(value) - keep_head - keep_tail
    if hidden <= 0:
        return "*" * len(value)
    return value[:keep_head] + "*" * hidden + value[len(value) - keep_tail :]


def id_checksum_ok(number: str) -> bool:
    """GB 11643-1999: the 18th character is the ISO 7064 MOD 11-2 check of the first 17."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17].upper()


def _plausible_birth_date(number: str) -> bool:
    year, month, day = int(number[6:10]), int(number[10:12]), int(number[12:14])
    # The core never reads the clock, so "plausible" is a fixed window rather than "not future".
    if not 1900 <= year <= 2099:
        return False
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def luhn_ok(digits: str) -> bool:
    """The Luhn (mod 10) check used by bank card numbers."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _phones(text: str) -> Iterator[PiiHit]:
    for m in _PHONE.finditer(text):
        digits = "".join(m.groups())
        yield PiiHit("phone", m.start(), m.end(), _mask(digits, 3, 4), 0.9)


def _id_cards(text: str) -> Iterator[PiiHit]:
    for m in _ID_CARD.finditer(text):
        number = m.group(1)
        if id_checksum_ok(number) and _plausible_birth_date(number):
            yield PiiHit("id_card", m.start(), m.end(), _mask(number.upper(), 3, 4), 0.98)


def _bank_cards(text: str) -> Iterator[PiiHit]:
    for m in _BANK_CARD.finditer(text):
        digits = "".join(ch for ch in m.group(1) if ch in _DIGITS)
        if not 16 <= len(digits) <= 19 or not luhn_ok(digits):
            continue
        context = _CARD_CONTEXT.search(text, max(0, m.start() - 12), m.start()) is not None
        if digits.startswith("62") or context:
            confidence = 0.95 if context else 0.8
            yield PiiHit("bank_card", m.start(), m.end(), _mask(digits, 4, 4), confidence)


def _plates(text: str) -> Iterator[PiiHit]:
    for m in _PLATE.finditer(text):
        province, letter, rest = m.group(1), m.group(2).upper(), m.group(3).upper()
        # A regular plate has at most two letters among its five characters; "京AWESOME" is not one.
        if sum(ch in _DIGITS for ch in rest) < 3:
            continue
        yield PiiHit("plate", m.start(), m.end(), province + letter + _mask(rest, 0, 2), 0.85)


def _emails(text: str) -> Iterator[PiiHit]:
    for m in _EMAIL.finditer(text):
        local, domain = m.group(1), m.group(2)
        yield PiiHit("email", m.start(), m.end(), f"{local[:1]}***@{domain}", 0.95)


def _qqs(text: str) -> Iterator[PiiHit]:
    for m in _QQ.finditer(text):
        yield PiiHit("qq", m.start(1), m.end(1), _mask(m.group(1), 2, 2), 0.85)


def _wechats(text: str) -> Iterator[PiiHit]:
    for m in _WECHAT.finditer(text):
        yield PiiHit("wechat", m.start(1), m.end(1), _mask(m.group(1), 2, 2), 0.8)


def _addresses(text: str) -> Iterator[PiiHit]:
    for m in _ADDR_TAIL.finditer(text):
        window = text[max(0, m.start() - _MAX_NAME) : m.start()]
        run = _NAME_BACKWARDS.match(window[::-1])
        name_len = run.end() if run else 0
        start = m.start() - name_len
        name = text[start : m.start()]
        has_admin = _ADMIN.search(name) is not None
        if m.group("units") is not None:
            confidence = 0.8 if name else 0.6
        elif len(name) < 2:
            # "知道3号" and "小区3栋" without a name are too weak to call an address.
            continue
        else:
            confidence = 0.9 if has_admin else 0.75
        yield PiiHit("address", start, m.end(), _mask_address(text[start : m.end()]), confidence)


# An address its owner gives out: a shop's or office's new site, one's own home for a delivery
# or a visit (我们店在…, 本店地址…, 我家住…). The window before the address names the speaker's
# own place and no other person after that (我家楼下那个女的住… is someone else's home).
_OWNER = re.compile(r"(?:我|咱|本)们?(?:家|店|公司|司|门店|工作室|单位|住)|店址|门店|新店|地址[:：]")
_OTHER_PERSON = re.compile(r"[他她]|这人|此人|那人|那个|这个|这货|楼主|博主|对方")
_OWNER_WINDOW = 12


def offered_by_owner(text: str, start: int, end: int) -> bool:
    """Whether the address at ``text[start:end]`` is given out by its owner: the few characters
    before it, or the place name it begins with (本店新址东湖区…), name the speaker's own home,
    shop or office, and no other person after that. Doxxing names someone else's home (她家住在…,
    查到了，他住…)."""
    window = text[max(0, start - _OWNER_WINDOW) : end]
    last = max((m.end() for m in _OWNER.finditer(window)), default=-1)
    return last >= 0 and _OTHER_PERSON.search(window, last) is None


# The act of exposing someone's personal data, named rather than shown: the data (真名, 住址,
# 身份证, 宿舍号, 病历, 聊天记录…) beside an act of exposing or digging it up (扒, 晒, 发到群里, 整理,
# 拿到, 谁知道…, 要的私我), about another person, in a text that is not advice, a report, a praise,
# a lost-and-found or an official contact. A doxxer often masks the digits or keeps them for DMs
# (159****3307, 私聊要完整的), so no number need be found. docs/MODEL.md has how the words were
# chosen and what they cost.
_DATA = re.compile(
    r"真名|本名|真实姓名|实名信息|实名|住址|地址|户籍|老家|身份证(?:号码?|照片|复印件|正反面)?|手机号码?|手机尾号"
    r"|电话(?:号码)?|座机|微信号?|[Qq][Qq]号?|学号|工号|工牌|学生证|宿舍(?:号|楼|门牌)?|门牌号?|班级|工位|单位"
    r"|车牌号?|病历|社保|开房记录|聊天记录|聊天截图|定位|坐标|快递单号|收件人信息|个人信息|家人照片|毕业照"
    r"|身份信息|本人照片|住哪"
)
_EXPOSE = re.compile(
    r"扒|开盒|盒子|人肉|曝光|公开|挂出|放出|发出|贴出|晒|整理好?|拿到|搞到|找到|查到|查下|查一下|查出|对比|认认"
    r"|私我|私聊|私信我|评论区见|放群里|发群|发到|发网上|发业主群|转部门群|放这|附上|都在图里|截图|截下来|截出来|记下"
    r"|要的扣|要的私|出一份|有没有人(?:知道|认识|能查)|谁(?:知道|有|能查)|帮我查|帮忙查|扣个"
)
_NOT_EXPOSURE = re.compile(
    r"不要|别[把让发晒]|请勿|切勿|禁止|谨防|小心|保护|防止|如何|怎么办|怎么处理|举报|报警|违法|犯法|侵犯|泄露他人"
    r"|反诈|诈骗电话|客服|热线|官方|表扬|感谢|捡到|失物|遗失|落在|丢了|澄清|辟谣|新闻|拘留|判决|处罚|通报"
)
_ANOTHER = re.compile(
    r"[他她]|这个|那个|某|前男友|前女友|老婆|老公|主播|[uU][pP]主|博主|楼主|网红|渣男|黑粉|键盘侠|车主|房东|卖家|顾客"
    r"|同事|老师|@"
)
_OWN_DATA = re.compile(r"(?:我|我们|本人|本店|自己)的?$")
_OWN_NEAR = re.compile(r"我|本人|本店|自己")
# A phone or ID number shown with its middle masked (159****3307, 4101**********2318): shown all
# the same, to people who can ask for the rest.
_MASKED_NUMBER = re.compile(
    r"(?<![0-9])(?:1[3-9][0-9][*＊xX]{4}[0-9]{4}|[1-9][0-9]{3,5}[*＊]{6,12}[0-9]{3}[0-9Xx])(?![0-9])"
)
_EXPOSURE_REACH = 14


def exposure_act(norm: Normalized) -> tuple[int, int, str] | None:
    """``(start, end, what)``, offsets into the original text, where a text exposes, or calls to dig
    up, another person's personal data without showing it (她的真名、住址、户籍整理好了，私聊; 谁知道他
    住哪栋楼) or with its digits masked (他的电话159****3307), else None. Not for advice, reports,
    news of punishment, praise, lost-and-found or official contacts (_NOT_EXPOSURE), nor for one's
    own data (我的电话…)."""
    text = norm.text
    if _DATA.search(text) is None or _NOT_EXPOSURE.search(text) or not _ANOTHER.search(text):
        return None
    original = norm.original
    masked = _MASKED_NUMBER.search(original)  # the normaliser drops the asterisks
    if masked is not None and not _OWN_NEAR.search(original, max(0, masked.start() - 6), masked.start()):
        return masked.start(), masked.end(), "masked number"
    for data in _DATA.finditer(text):
        if _OWN_DATA.search(text, max(0, data.start() - 3), data.start()):
            continue
        low, high = max(0, data.start() - _EXPOSURE_REACH), min(len(text), data.end() + _EXPOSURE_REACH)
        if _EXPOSE.search(text, low, high):
            return (*norm.span(data.start(), data.end()), data.group())
    return None


_HIDE_NUMBERS = str.maketrans(dict.fromkeys(_DIGITS + _CN_NUM, "*"))


def _mask_address(value: str) -> str:
    # Keep the coarse place (first characters), hide the numbers that locate a door.
    return value.translate(_HIDE_NUMBERS)


# Each scanner with a character class that every one of its matches contains: one C-level search
# skips the scanner's generator and its more expensive regex. Phone, ID and card numbers and QQ
# numbers all hold three ASCII digits in a row; road, compound and building words each contain
# one of the address characters.
_DIGITS3 = re.compile(r"[0-9]{3}")
_SCANNERS: tuple[tuple[re.Pattern[str], Callable[[str], Iterator[PiiHit]]], ...] = (
    (_DIGITS3, _id_cards),
    (_DIGITS3, _bank_cards),
    (_DIGITS3, _phones),
    (re.compile("@"), _emails),
    (_DIGITS3, _qqs),
    (re.compile(r"[信xXwW]"), _wechats),
    (re.compile("[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼]"), _plates),
    (re.compile("[路街道巷胡弄区园寓厦村苑号栋幢]"), _addresses),
)


def _resolve(found: list[PiiHit]) -> list[PiiHit]:
    """Drop hits that overlap a stronger one (earlier kind, then longer); the rest by start."""
    found.sort(key=lambda h: (_RANK[h.kind], -(h.end - h.start), h.start))
    # Kept hits never overlap, so sorted by start they are also sorted by end: one bisection
    # finds the only two neighbours a new hit could collide with.
    kept: list[PiiHit] = []
    starts: list[int] = []
    for hit in found:
        i = bisect_right(starts, hit.start)
        if i > 0 and kept[i - 1].end > hit.start:
            continue
        if i < len(kept) and kept[i].start < hit.end:
            continue
        kept.insert(i, hit)
        starts.insert(i, hit.start)
    return kept


def _collect(text: str) -> list[PiiHit]:
    if _TRIGGER.search(text) is None:
        return []
    return [hit for gate, scanner in _SCANNERS if gate.search(text) for hit in scanner(text)]


def scan_text(text: str) -> list[PiiHit]:
    """Personal information in ``text``; offsets are into ``text`` itself, hits sorted by start."""
    found = _collect(text)
    return _resolve(found) if found else []


# The light view: full-width ASCII folded to ASCII (one character for one, offsets unchanged) and
# invisible characters dropped. The lexicon normaliser's text is not enough on its own: it undoes
# leetspeak ("@" → "a") and drops punctuation, which destroys e-mail addresses and WeChat ids.
_FULL_WIDTH = str.maketrans({chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)} | {"\u3000": " "})
_INVISIBLE = frozenset("\u00ad\u180e\u200b\u200c\u200d\u200e\u200f\u2060\ufeff")
# Full-width punctuation (，！) is in every Chinese comment; only folding the characters PII is
# made of (digits, letters, ＋－．＠＿) is worth a translate.
_NEEDS_FOLDING = re.compile(
    "[\uff0b\uff0d\uff0e\uff10-\uff19\uff20-\uff3a\uff3f\uff41-\uff5a" + "".join(sorted(_INVISIBLE)) + "]"
)


def _light_view(original: str) -> tuple[str, list[int] | None]:
    """The folded text and, when characters were dropped, each kept character's original index."""
    if _NEEDS_FOLDING.search(original) is None:
        return original, None
    folded = original.translate(_FULL_WIDTH)
    if _INVISIBLE.isdisjoint(folded):
        return folded, None
    index = [i for i, ch in enumerate(folded) if ch not in _INVISIBLE]
    return "".join(folded[i] for i in index), index


def find_pii(norm: Normalized) -> list[PiiHit]:
    """Personal information in a normalised text, with offsets into the original text.

    Two views are scanned and merged: the light view of the original (keeps "@", "_", ".") and the
    normaliser's text (traditional characters simplified, separators between characters removed).
    """
    light, index = _light_view(norm.original)
    found: list[PiiHit] = []
    for hit in _collect(light):
        if index is None:
            found.append(hit)
        else:
            found.append(
                PiiHit(hit.kind, index[hit.start], index[hit.end - 1] + 1, hit.masked, hit.confidence)
            )
    if norm.text != light:
        for hit in _collect(norm.text):
            start, end = norm.span(hit.start, hit.end)
            found.append(PiiHit(hit.kind, start, end, hit.masked, hit.confidence))
    return _resolve(found) if found else []
