"""PII (doxxing) detection: what counts, what is rejected, and that raw values never leak."""

from __future__ import annotations

import time
import timeit

import pytest

from cvguard.detection.normalize import Normalized, normalize
from cvguard.detection.pii import (
    PiiHit,
    exposure_act,
    find_pii,
    id_checksum_ok,
    luhn_ok,
    offered_by_owner,
    scan_text,
)


def kinds(text: str) -> list[tuple[str, str]]:
    """(kind, matched substring) for every hit, in order."""
    return [(h.kind, text[h.start : h.end]) for h in scan_text(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # plain mainland mobile number inside Chinese text
        ("我电话13812345678有事打", [("phone", "13812345678")]),
        # grouped with spaces, the way people paste it
        ("打 138 1234 5678 找他", [("phone", "138 1234 5678")]),
        # grouped with dashes
        ("tel:139-1234-5678", [("phone", "139-1234-5678")]),
        # +86 country prefix is part of the hit
        ("call +86 15012345678 now", [("phone", "+86 15012345678")]),
        # second digit must be 3-9: 12x is not a mobile prefix
        ("12812345678", []),
        # inside a longer digit run (an order number) it is not a phone
        ("订单号 9913812345678123", []),
        # directly after a digit and dash (a longer dashed number) it is not a phone
        ("0755-13812345678-12", []),
        # one digit short
        ("1381234567", []),
    ],
)
def test_phone(text: str, expected: list[tuple[str, str]]) -> None:
    assert kinds(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the GB 11643 example number, check character X
        ("身份证11010519491231002X", [("id_card", "11010519491231002X")]),
        # lower-case x check character is accepted
        ("身份证 11010519491231002x 。", [("id_card", "11010519491231002x")]),
        # valid checksum, born 1990-03-07
        ("号码320106199003071234", [("id_card", "320106199003071234")]),
        # last digit changed: checksum invalid, rejected (and not a phone or card either)
        ("身份证320106199003071235", []),
        # valid checksum but born 1880: not a plausible living resident
        ("440524188001010014", []),
        # valid checksum but 30 February does not exist
        ("110105194902300012", []),
        # 29 February 2000 exists (leap year)
        ("110105200002290021", [("id_card", "110105200002290021")]),
        # inside a longer alphanumeric token: not an ID number
        ("A110105199101010034B", []),
    ],
)
def test_id_card(text: str, expected: list[tuple[str, str]]) -> None:
    assert kinds(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # 19-digit UnionPay (62) number passing Luhn, no context needed
        ("转账到6217000000000000004", [("bank_card", "6217000000000000004")]),
        # grouped in fours with spaces after 卡号
        ("卡号 6222 0212 3456 7890 128", [("bank_card", "6222 0212 3456 7890 128")]),
        # Visa test number: no 62 prefix, but 银行卡 context makes it a card
        ("他的银行卡4111111111111111", [("bank_card", "4111111111111111")]),
        # same number without context: just a long number, not reported
        ("编号4111111111111111", []),
        # UnionPay prefix but Luhn-invalid: rejected
        ("卡号6217000000000000005", []),
    ],
)
def test_bank_card(text: str, expected: list[tuple[str, str]]) -> None:
    assert kinds(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # ordinary plate
        ("车牌京A12345停楼下", [("plate", "京A12345")]),
        # new-energy plate with a middle dot
        ("粤B·D12345", [("plate", "粤B·D12345")]),
        # large new-energy plate, letter at the end
        ("沪A12345D", [("plate", "沪A12345D")]),
        # I and O are never used on plates
        ("京I12345", []),
        # letters only after the province: a word, not a plate
        ("京AWESOME", []),
    ],
)
def test_plate(text: str, expected: list[tuple[str, str]]) -> None:
    assert kinds(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # e-mail address
        ("邮箱 zhang.san+x@example.com.cn 发", [("email", "zhang.san+x@example.com.cn")]),
        # an @mention is not an e-mail
        ("@张三 你好", []),
        # QQ number with QQ context; the hit is the number
        ("加我QQ：123456789", [("qq", "123456789")]),
        # 扣扣 spelling
        ("扣扣 98765", [("qq", "98765")]),
        # digits without QQ context are not a QQ number
        ("我有123456789个理由", []),
        # WeChat id after 微信
        ("微信 zhang_san99 联系", [("wechat", "zhang_san99")]),
        # vx / V信 spellings used to dodge filters
        ("vx:abc-def1", [("wechat", "abc-def1")]),
        ("V信Lisi2024x", [("wechat", "Lisi2024x")]),
        # WeChat ids start with a letter and have at least 6 characters
        ("微信 ab12", []),
        # "wx" inside a longer Latin word is not the keyword
        ("thewxyz_abcdef", []),
    ],
)
def test_contact_ids(text: str, expected: list[tuple[str, str]]) -> None:
    assert kinds(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # full address: province, city, district, road, number, building, unit, room; the leading
        # "他家住在" is not part of the address
        (
            "他家住在广东省深圳市南山区科技园路12号3栋2单元501室",
            [("address", "广东省深圳市南山区科技园路12号3栋2单元501室")],
        ),
        # road and number only
        ("就在幸福路88号门口", [("address", "幸福路88号")]),
        # Chinese numerals
        ("住人民街十二号", [("address", "人民街十二号")]),
        # residential compound with building and room
        ("阳光小区5栋1203室", [("address", "阳光小区5栋1203室")]),
        # a bare building/unit/room chain still locates a door
        ("3号楼2单元401", [("address", "3号楼2单元")]),
        # "道" from 知道 followed by a date-like number is not a road
        ("我知道3号去", []),
        # a compound name without any building number is not an address
        ("阳光小区环境不错", []),
    ],
)
def test_address(text: str, expected: list[tuple[str, str]]) -> None:
    assert kinds(text) == expected


def test_several_kinds_in_one_text_in_order() -> None:
    # a typical doxxing post: phone, ID, plate, address; hits come back sorted by position
    text = "开盒：电话13812345678，身份证11010519491231002X，车牌京A12345，住幸福路88号"
    assert [k for k, _ in kinds(text)] == ["phone", "id_card", "plate", "address"]


def test_valid_id_number_is_not_also_a_bank_card_or_phone() -> None:
    # 18 digits could pass Luhn; the overlap goes to the ID number alone
    hits = scan_text("卡号110105199101010034")
    assert [h.kind for h in hits] == ["id_card"]


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("13812345678", "138****5678"),
        ("138 1234 5678", "138****5678"),
        ("11010519491231002X", "110***********002X"),
        ("6217000000000000004", "6217***********0004"),
        ("a.b@qq.com", "a***@qq.com"),
        ("京A12345", "京A***45"),
    ],
)
def test_masked_value_hides_the_middle(text: str, masked: str) -> None:
    (hit,) = scan_text(text)
    assert hit.masked == masked


def test_raw_value_is_not_kept_anywhere_on_the_hit() -> None:
    # only the masked form may travel: no field of the record holds the full number
    (hit,) = scan_text("电话13812345678")
    assert "13812345678" not in repr(hit)
    assert set(PiiHit.__slots__) == {"kind", "start", "end", "masked", "confidence"}


def test_checksum_helpers() -> None:
    # GB 11643 MOD 11-2
    assert id_checksum_ok("11010519491231002X")
    assert not id_checksum_ok("110105194912310021")
    assert not id_checksum_ok("1101051949123100")  # too short
    # Luhn
    assert luhn_ok("4111111111111111")
    assert not luhn_ok("4111111111111112")


def test_find_pii_maps_offsets_to_the_original_text() -> None:
    # the normaliser dropped a zero-width space inside the number and folded full-width digits;
    # the hit must cover the original characters, separator included
    original = "电话１３８\u200b12345678"
    text = "电话138" + "12345678"
    starts = (0, 1, 2, 3, 4, *range(6, 14))
    norm = Normalized(original=original, text=text, starts=starts, ends=tuple(s + 1 for s in starts))
    (hit,) = find_pii(norm)
    assert (hit.kind, hit.start, hit.end) == ("phone", 2, 14)
    assert original[hit.start : hit.end] == "１３８\u200b12345678"
    assert hit.masked == "138****5678"


@pytest.mark.parametrize(
    ("original", "kind", "found"),
    [
        # full-width digits with spaces
        ("他电话是１３８ １２３４ ５６７８", "phone", "１３８ １２３４ ５６７８"),
        # zero-width characters hidden inside the number to dodge filters
        ("电话138\u200b1234\u200d5678", "phone", "138\u200b1234\u200d5678"),
        # circled digits, folded by the normaliser
        ("①③⑧①②③④⑤⑥⑦⑧", "phone", "①③⑧①②③④⑤⑥⑦⑧"),
        # the normaliser turns "@" into "a" (leetspeak) and drops "_": the e-mail and WeChat id
        # must still be found, from the lightly folded original
        ("邮箱ABC＠QQ.COM", "email", "ABC＠QQ.COM"),
        ("V信：ZhangSan_99", "wechat", "ZhangSan_99"),
        # traditional characters: 區/號 only become 区/号 in the normalised text
        ("他家住在廣東省深圳市南山區科技園路12號", "address", "廣東省深圳市南山區科技園路12號"),
    ],
)
def test_find_pii_through_the_real_normaliser(original: str, kind: str, found: str) -> None:
    (hit,) = find_pii(normalize(original))
    assert hit.kind == kind
    assert original[hit.start : hit.end] == found


def test_find_pii_fast_path() -> None:
    # the whole find_pii on an ordinary 50-character comment (full-width punctuation included)
    norm = normalize(
        "你这个人真的是太过分了，大家都看不下去了，赶紧给我滚出这个圈子吧，别再出来丢人现眼了好吗朋友们啊啊"
    )
    assert find_pii(norm) == []
    n = 2000
    per_call = min(timeit.repeat(lambda: find_pii(norm), number=n, repeat=5)) / n
    assert per_call < 20e-6  # target ≲ 5 µs; the bound leaves room for slow CI machines


def test_text_without_digits_is_skipped_fast() -> None:
    # the fast path: a 50-character comment with no digit, @ or keyword costs a few microseconds
    text = (
        "你这个人真的是太过分了，大家都看不下去了，赶紧给我滚出这个圈子吧，别再出来丢人现眼了好吗朋友们啊啊"
    )
    assert scan_text(text) == []
    n = 2000
    per_call = min(timeit.repeat(lambda: scan_text(text), number=n, repeat=5)) / n
    assert per_call < 20e-6  # target ≲ 5 µs; the bound leaves room for slow CI machines


def test_pathological_input_stays_linear() -> None:
    # long repetitive inputs that would make a backtracking address regex explode
    for text in ("路1号" * 5000, "小区1栋" * 5000, "1 " * 20000, "a" * 20000 + "@", "我" * 50000 + "号"):
        started = time.perf_counter()
        scan_text(text)
        assert time.perf_counter() - started < 1.0, text[:10]


@pytest.mark.parametrize(
    ("text", "owner"),
    [
        # a shop, an office and one's own home, given out by their owner
        ("我们店在东湖区幸福路12号，欢迎光临", True),
        ("本店新址：东湖区幸福路12号", True),  # the owner's words walked into the place name
        ("我们公司搬到了高新区科技路9号5栋", True),
        ("我家就在东湖区幸福街66号，欢迎来玩", True),
        # someone else's home
        ("她家住在东湖区幸福路12号3单元", False),
        ("我查到了，他家就在东湖区幸福路12号", False),  # 我 alone is not an owner
        ("我家楼下那个女的住东湖区幸福路12号3栋", False),  # another person after the owner
        ("我知道你住在东湖区幸福路12号3栋", False),
    ],
)
def test_an_address_given_out_by_its_owner(text: str, owner: bool) -> None:
    (hit,) = [h for h in scan_text(text) if h.kind == "address"]
    assert offered_by_owner(text, hit.start, hit.end) is owner


@pytest.mark.parametrize(
    ("text", "what"),
    [
        # the act named, the data withheld: a sale, a call to dig, a threat to post
        ("出一份资料：某博主真名、住址、户籍，私聊价格", "真名"),
        ("谁知道这个主播的本名？", "本名"),
        ("他的宿舍号和学号我都整理好了，要的扣1", "宿舍号"),
        # the digits masked: shown all the same
        ("这个差评师的电话159****3307，随便加随便骂", "masked number"),
        ("身份证号4101**********2318，就是他天天带节奏", "masked number"),
    ],
)
def test_exposing_someones_data_by_name_is_found(text: str, what: str) -> None:
    found = exposure_act(normalize(text))
    assert found is not None and found[2] == what
    start, end, _ = found
    assert text[start:end] == what or (what == "masked number" and "*" in text[start:end])


@pytest.mark.parametrize(
    "text",
    [
        "我的电话138****1234，有事联系他",  # one's own number
        "我的真名和住址都写在简历里了，整理好发给HR",  # one's own data
        "不要把他的住址和电话发到网上，这是违法的",  # advice
        "在公交上捡到一张学生证，姓名赵某某，请本人私信我",  # lost and found
        "这是他们公司的客服电话，大家有问题可以打",  # an official contact
        "新闻：一男子因在网上公开他人住址和电话被行政拘留十日",  # news of a punishment
        "这个外卖员的工号我发出来了，大家一起给平台写表扬",  # praise
        "快递放门口就行，谢谢",  # no personal data named
    ],
)
def test_advice_own_data_and_everyday_posts_are_not_exposure(text: str) -> None:
    assert exposure_act(normalize(text)) is None
