"""Project-written labelled fixtures (``detection/data/fixtures/*.jsonl``): format, labels, coverage.

The fixtures fill the gaps public data leaves (../shared/data/README.md, notes): ordinary platform
traffic the model has never seen, the taxonomy categories COLD lacks, and hard safe cases. Each file is
JSONL; its first line is a header ``{"version", "about"}``, every other line one labelled text.
"""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest

import cvguard.detection
from cvguard.detection.training import data_dir
from cvguard.taxonomy import load_taxonomy

FIXTURES = Path(cvguard.detection.__file__).parent / "data" / "fixtures"
VERSION = "2026.11.1"
FIELDS = {"text", "label", "category", "kind", "lang"}
LANGS = {"zh", "en"}
MIN_ROWS = {
    "safe_everyday.jsonl": 700,
    "safe_everyday_en.jsonl": 200,
    "violations.jsonl": 300,
    "counter_examples.jsonl": 150,
}
SAFE_ONLY = {"safe_everyday.jsonl", "safe_everyday_en.jsonl", "counter_examples.jsonl"}
FILE_LANG = {"safe_everyday.jsonl": "zh", "safe_everyday_en.jsonl": "en", "counter_examples.jsonl": "zh"}
# Categories with no public labelled data (or none beyond COLD's race/gender/region comments).
VIOLATION_MINIMUM = 25
REQUIRED_VIOLATIONS = (
    "threat",
    "privacy",
    "pile_on_incitement",
    "sexual_harassment",
    "defamation",
    "ridicule",
    "insult",
    "hate_incitement",
)
MAX_LEN = 200
NEAR_DUPLICATE = 0.6
CJK = re.compile(r"[\u3400-\u9fff]")
MOBILE = re.compile(r"(?<!\d)1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?!\d)")


@cache
def read(name: str) -> tuple[dict[str, Any], tuple[dict[str, Any], ...]]:
    """(header, rows) of one fixture file; raises on any line that is not a JSON object."""
    lines = (FIXTURES / name).read_text(encoding="utf-8").splitlines()
    assert lines, f"{name} is empty"
    parsed = []
    for n, line in enumerate(lines, 1):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise AssertionError(f"{name}:{n}: not JSON ({e})") from e
        assert isinstance(obj, dict), f"{name}:{n}: not a JSON object"
        parsed.append(obj)
    return parsed[0], tuple(parsed[1:])


def all_rows() -> list[tuple[str, int, dict[str, Any]]]:
    """(file, line number, row) for every labelled row of every file."""
    return [(name, i + 2, row) for name in MIN_ROWS for i, row in enumerate(read(name)[1])]


def fold(text: str) -> str:
    """Comparison key: NFKC, case-folded, without whitespace or punctuation."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in text if not (ch.isspace() or unicodedata.category(ch)[0] == "P"))


def lang_fits(lang: str, text: str) -> bool:
    """en rows have no Chinese characters; zh rows have some, bar pure pinyin/abbreviations ("nmsl")."""
    if CJK.search(text):
        return lang == "zh"
    return lang == "en" or re.fullmatch(r"[a-z0-9 ,.!?]+", text.casefold()) is not None


def bigrams(text: str) -> frozenset[str]:
    key = fold(text)
    return frozenset(key[i : i + 2] for i in range(len(key) - 1))


def test_fixture_folder_holds_exactly_the_known_files() -> None:
    assert sorted(p.name for p in FIXTURES.glob("*.jsonl")) == sorted(MIN_ROWS)


@pytest.mark.parametrize("name", sorted(MIN_ROWS))
def test_file_parses_and_starts_with_version_header(name: str) -> None:
    header, rows = read(name)
    assert set(header) == {"version", "about"}, f"{name}: header must be {{version, about}}, got {header}"
    assert header["version"] == VERSION == load_taxonomy().version
    assert isinstance(header["about"], str) and header["about"].strip()
    assert all("version" not in row for row in rows), f"{name}: a second header line"


@pytest.mark.parametrize("name", sorted(MIN_ROWS))
def test_file_has_minimum_rows(name: str) -> None:
    assert len(read(name)[1]) >= MIN_ROWS[name]


def test_every_row_is_well_formed() -> None:
    codes = set(load_taxonomy().codes)
    problems = []
    for name, line, row in all_rows():
        where = f"{name}:{line}"
        if set(row) != FIELDS:
            problems.append(f"{where}: fields {sorted(row)} != {sorted(FIELDS)}")
            continue
        text, label, category = row["text"], row["label"], row["category"]
        if not isinstance(text, str) or not text.strip() or text != text.strip() or "\n" in text:
            problems.append(f"{where}: text must be a non-empty, stripped, single-line string")
        elif len(text) > MAX_LEN:
            problems.append(f"{where}: text longer than {MAX_LEN} characters")
        if type(label) is not int or label not in (0, 1):
            problems.append(f"{where}: label {label!r} is not 0 or 1")
        if category != "safe" and category not in codes:
            problems.append(f"{where}: category {category!r} is neither 'safe' nor a taxonomy code")
        if (label == 0) != (category == "safe"):
            problems.append(f"{where}: label {label!r} does not agree with category {category!r}")
        if not isinstance(row["kind"], str) or not re.fullmatch(r"[a-z][a-z0-9_]*", row["kind"]):
            problems.append(f"{where}: kind {row['kind']!r} is not a short snake_case tag")
        if row["lang"] not in LANGS:
            problems.append(f"{where}: lang {row['lang']!r} not in {sorted(LANGS)}")
        elif isinstance(text, str) and not lang_fits(row["lang"], text):
            problems.append(f"{where}: lang {row['lang']!r} does not match the text")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", sorted(SAFE_ONLY))
def test_safe_files_hold_only_safe_rows_in_their_language(name: str) -> None:
    rows = read(name)[1]
    assert {r["label"] for r in rows} == {0}
    assert {r["category"] for r in rows} == {"safe"}
    assert {r["lang"] for r in rows} == {FILE_LANG[name]}


def test_violations_cover_the_categories_public_data_lacks() -> None:
    rows = read("violations.jsonl")[1]
    assert {r["label"] for r in rows} == {1}
    counts = Counter(r["category"] for r in rows)
    short = {c: counts[c] for c in REQUIRED_VIOLATIONS if counts[c] < VIOLATION_MINIMUM}
    assert not short, f"categories under {VIOLATION_MINIMUM} rows: {short}"
    small = {c: n for c, n in counts.items() if n < VIOLATION_MINIMUM}
    assert not small, f"every category present needs {VIOLATION_MINIMUM} rows: {small}"


def test_safe_everyday_spans_many_domains() -> None:
    kinds = Counter(r["kind"] for r in read("safe_everyday.jsonl")[1])
    assert len(kinds) >= 30
    for kind in ("garbage", "benign_lookalike", "policy", "disagreement", "victim_report", "anti_bias"):
        assert kinds[kind] >= 10, f"safe_everyday has too few {kind!r} rows"


def test_no_duplicate_texts_within_or_across_files() -> None:
    seen: dict[str, str] = {}
    dupes = []
    for name, line, row in all_rows():
        key = fold(row["text"])
        if key in seen:
            dupes.append(f"{name}:{line} {row['text']!r} repeats {seen[key]}")
        else:
            seen[key] = f"{name}:{line}"
    assert not dupes, "\n".join(dupes)


def test_no_near_duplicates() -> None:
    """Variety: no two rows of six characters or more share over 60% of their character bigrams."""
    rows = [(f"{name}:{line}", bigrams(row["text"])) for name, line, row in all_rows()]
    rows = [(where, grams) for where, grams in rows if len(grams) >= 5]
    close = []
    for i, (where_a, a) in enumerate(rows):
        for where_b, b in rows[i + 1 :]:
            shared = len(a & b)
            if shared and shared / len(a | b) > NEAR_DUPLICATE:
                close.append(f"{where_a} ~ {where_b}")
    assert not close, "near-duplicate rows (vary the wording, not just the names):\n" + "\n".join(close)


def test_mobile_numbers_are_visibly_fake() -> None:
    """Doxxing examples must never carry a real person's number: every mobile is 1xx-0000-xxxx."""
    real_looking = []
    for name, line, row in all_rows():
        for match in MOBILE.finditer(row["text"]):
            digits = re.sub(r"\D", "", match.group())
            if digits[3:7] != "0000":
                real_looking.append(f"{name}:{line} {match.group()}")
    assert not real_looking, "\n".join(real_looking)


def test_no_fixture_text_is_copied_from_cold() -> None:
    root = data_dir() / "cold"
    files = [root / "train.csv", root / "dev.csv"]
    missing = [str(f) for f in files if not f.exists()]
    if missing:
        pytest.skip(f"COLD not found ({', '.join(missing)}); cannot check fixtures against it")
    cold: set[str] = set()
    for path in files:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            cold.update(fold(r["TEXT"]) for r in csv.DictReader(fh))
    copied = [f"{name}:{line} {row['text']!r}" for name, line, row in all_rows() if fold(row["text"]) in cold]
    assert not copied, "fixture rows found in COLD train/dev:\n" + "\n".join(copied)
