"""The screening-in-the-wild suites (``data/wild/``): read and validated.

Training may read the files in ``TRAINABLE`` and nothing else here. ``DEVELOPMENT`` files are
never trained on but may be read to choose settings (lines, bands, rules); ``HELD_OUT`` files are
for measuring only (bench/bench_wild.py). Each file is JSONL whose first line is a header
``{"version", "about"}``:

- ``cloaking.jsonl``: pairs of one abusive sentence written plainly and cloaked the way people
  cloak it (``plain``, ``cloaked``, ``term`` → ``form``, substitution ``type``, ``source``), with
  a ``control``: the same sentence frame holding a neutral word, which should pass, so that a
  flag on the cloaked sentence is known to come from the form and not from the frame;
- ``beyond_cold_train.jsonl`` / ``beyond_cold_heldout.jsonl``: labelled texts on the topics COLD
  lacks, in a fixed split; the held-out file is for measuring only; ``everyday_abuse_train.jsonl``:
  the same kinds written separately, by another hand, for training; ``addressed_safe_train.jsonl``:
  safe texts that address a person (greetings, replies, praise, plans), for training;
- ``counter_speech.jsonl``: speech against discrimination (safe) and attacks wrapped in a
  defence (label 1), for measuring; ``counter_speech_train.jsonl`` and ``stance_train.jsonl``:
  the same kinds written separately, by two other hands, for training;
- ``oblique_train.jsonl``: oblique threats, defamation and harassment with safe look-alikes in
  the same words, by another hand, for training;
- ``doxxing_threat_train.jsonl``, ``rumour_mockery_train.jsonl``, ``other_groups_train.jsonl``:
  the taxonomy's categories beyond COLD's topics, one file per hand (doxxing, threats and sexual
  harassment; defamation, incitement to pile on and ridicule; discrimination and incitement
  against groups COLD lacks), each with safe look-alikes and with harmless counterparts in the
  sentence frames of its abusive rows (kind ``neutral_frame``), for training;
  ``defamation_rumour_train.jsonl``, ``threat_harassment_train.jsonl``,
  ``contempt_mockery_train.jsonl``: the same three groups again, by three more hands, each with
  look-alikes and harmless frames by the same hand, for training; ``defence_a_train.jsonl``,
  ``defence_b_train.jsonl``: counter-speech and attacks in the same words by two more hands
  (development files until the sixth session), for training;
- ``dev_*.jsonl``: the same three groups of categories and counter-speech, each by yet another
  hand, for development: how a setting carries to a writer no training row comes from;
  ``dev_cloaking.jsonl`` holds cloaked forms in the cloaking suite's shape, by another hand.

Labelled rows have the fixtures' shape (``text``, ``label``, ``category``, ``kind``, ``lang``).
A malformed file raises :class:`~cvguard.errors.DataError` listing every bad line as
``file:line``, not just the first.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cvguard.errors import DataError
from cvguard.taxonomy import load_taxonomy

WILD_DIR = Path(__file__).parent / "data" / "wild"
CLOAKING = "cloaking.jsonl"
BEYOND_TRAIN = "beyond_cold_train.jsonl"
BEYOND_HELDOUT = "beyond_cold_heldout.jsonl"
COUNTER_SPEECH = "counter_speech.jsonl"
COUNTER_TRAIN = "counter_speech_train.jsonl"
EVERYDAY_TRAIN = "everyday_abuse_train.jsonl"
ADDRESSED_TRAIN = "addressed_safe_train.jsonl"
STANCE_TRAIN = "stance_train.jsonl"
OBLIQUE_TRAIN = "oblique_train.jsonl"
DOXXING_TRAIN = "doxxing_threat_train.jsonl"
RUMOUR_TRAIN = "rumour_mockery_train.jsonl"
GROUPS_TRAIN = "other_groups_train.jsonl"
DEFAMATION_TRAIN = "defamation_rumour_train.jsonl"
THREAT_TRAIN = "threat_harassment_train.jsonl"
CONTEMPT_TRAIN = "contempt_mockery_train.jsonl"
# Two development files of counter-speech until the sixth session, trained on since (README).
DEFENCE_TRAIN = ("defence_a_train.jsonl", "defence_b_train.jsonl")
# Pushback against abuse of a person or a group, most of it without cue words, by two more hands
# (the seventh session): trained on by the person-stance model only (the stance model trained with
# them flagged fewer development defences but lost COLD dev attacks: docs/MODEL.md).
PUSHBACK_TRAIN = ("pushback_a_train.jsonl", "pushback_b_train.jsonl")
# What training may read; every other file here is for measurement only.
TRAINABLE = (
    BEYOND_TRAIN, COUNTER_TRAIN, EVERYDAY_TRAIN, ADDRESSED_TRAIN, STANCE_TRAIN, OBLIQUE_TRAIN,
    DOXXING_TRAIN, RUMOUR_TRAIN, GROUPS_TRAIN, DEFAMATION_TRAIN, THREAT_TRAIN, CONTEMPT_TRAIN,
    *DEFENCE_TRAIN, *PUSHBACK_TRAIN,
)
HELD_OUT = (CLOAKING, BEYOND_HELDOUT, COUNTER_SPEECH)
# Never trained on, but read to choose settings: abuse by category (three hands) and counter-speech
# (two hands), each hand apart from every training file's (docs/MODEL.md).
DEV_ABUSE = ("dev_doxxing_threat.jsonl", "dev_rumour_mockery.jsonl", "dev_other_groups.jsonl")
DEV_COUNTER = ("dev_counter_speech_c.jsonl", "dev_counter_speech_d.jsonl")
# Cloaked forms by a fourteenth hand, in the cloaking suite's shape (``load_cloaking``).
DEV_CLOAKING = "dev_cloaking.jsonl"
DEVELOPMENT = (*DEV_ABUSE, *DEV_COUNTER, DEV_CLOAKING)
# What the stance model learns speech against discrimination from (training.train_stance).
STANCE_FILES = (COUNTER_TRAIN, STANCE_TRAIN, *DEFENCE_TRAIN)
# ... and the person-stance model, with the pushback files (training.train_person_stance).
PERSON_STANCE_FILES = (*STANCE_FILES, *PUSHBACK_TRAIN)
# What the everyday model learns from: every trainable file but the later counter-speech ones
# (with them it lost five points of recall on the rumour development file: docs/MODEL.md).
EVERYDAY_FILES = tuple(name for name in TRAINABLE if name not in (*DEFENCE_TRAIN, *PUSHBACK_TRAIN))

# How the cloaked form differs from the plain term.
CLOAK_TYPES = ("emoji", "homophone", "pinyin", "initials", "split", "mixed_script", "number")
LABELLED_FIELDS = frozenset({"text", "label", "category", "kind", "lang"})
CLOAK_FIELDS = frozenset(
    {"plain", "cloaked", "control", "term", "form", "type", "source", "label", "category", "lang"}
)
_KIND = re.compile(r"[a-z][a-z0-9_]*")
MAX_LEN = 200


@dataclass(frozen=True, slots=True)
class LabelledText:
    text: str
    label: int
    category: str  # a taxonomy code, or "safe"
    kind: str


@dataclass(frozen=True, slots=True)
class CloakPair:
    plain: str
    cloaked: str
    control: str
    term: str
    form: str
    type: str
    source: str
    category: str


def _lines(path: Path, errors: list[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every row after a valid header; bad lines go to ``errors``."""
    if not path.exists():
        raise DataError("no such file", where=str(path))
    lines = path.read_text(encoding="utf-8").splitlines()
    name = path.name
    try:
        header = json.loads(lines[0]) if lines else None
    except json.JSONDecodeError:
        header = None
    if not isinstance(header, dict) or set(header) != {"version", "about"}:
        errors.append(f"{name}:1: the first line must be a header object {{version, about}}")
    for n, line in enumerate(lines[1:], 2):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(f"{name}:{n}: not JSON ({exc.msg})")
            continue
        if not isinstance(obj, dict):
            errors.append(f"{name}:{n}: not a JSON object")
            continue
        yield n, obj


def _text_problem(value: object) -> str | None:
    if not isinstance(value, str) or not value.strip() or value != value.strip() or "\n" in value:
        return "must be a non-empty, stripped, single-line string"
    if len(value) > MAX_LEN:
        return f"is longer than {MAX_LEN} characters"
    return None


def _category_problems(label: object, category: object, codes: frozenset[str]) -> list[str]:
    out = []
    if type(label) is not int or label not in (0, 1):
        out.append(f"label {label!r} is not 0 or 1")
    if category != "safe" and category not in codes:
        out.append(f"category {category!r} is neither 'safe' nor a taxonomy code")
    elif (label == 0) != (category == "safe"):
        out.append(f"label {label!r} does not agree with category {category!r}")
    return out


def _raise(path: Path, errors: list[str]) -> None:
    if errors:
        raise DataError(f"{len(errors)} problem(s) in {path.name}:\n" + "\n".join(errors), where=str(path))


def load_labelled(path: Path) -> list[LabelledText]:
    """A labelled suite (beyond-COLD or counter-speech), validated whole."""
    codes = frozenset(load_taxonomy().codes)
    errors: list[str] = []
    rows: list[LabelledText] = []
    seen: dict[str, int] = {}
    for n, obj in _lines(path, errors):
        where = f"{path.name}:{n}"
        if set(obj) != LABELLED_FIELDS:
            errors.append(f"{where}: fields {sorted(obj)} != {sorted(LABELLED_FIELDS)}")
            continue
        problems = _category_problems(obj["label"], obj["category"], codes)
        if (why := _text_problem(obj["text"])) is not None:
            problems.append(f"text {why}")
        elif obj["text"] in seen:
            problems.append(f"text repeats line {seen[obj['text']]}")
        if not isinstance(obj["kind"], str) or not _KIND.fullmatch(obj["kind"]):
            problems.append(f"kind {obj['kind']!r} is not a short snake_case tag")
        if obj["lang"] != "zh":
            problems.append(f"lang {obj['lang']!r} is not 'zh'")
        if problems:
            errors.extend(f"{where}: {p}" for p in problems)
            continue
        seen[obj["text"]] = n
        rows.append(LabelledText(obj["text"], obj["label"], obj["category"], obj["kind"]))
    _raise(path, errors)
    return rows


def load_cloaking(path: Path | None = None) -> list[CloakPair]:
    """The real-world cloaking pairs, validated whole: every row is abusive (label 1), its
    cloaked sentence is the plain one with ``term`` written as ``form``, and no cloaked text repeats."""
    path = path or WILD_DIR / CLOAKING
    codes = frozenset(load_taxonomy().codes)
    errors: list[str] = []
    pairs: list[CloakPair] = []
    seen: dict[str, int] = {}
    for n, obj in _lines(path, errors):
        where = f"{path.name}:{n}"
        if set(obj) != CLOAK_FIELDS:
            errors.append(f"{where}: fields {sorted(obj)} != {sorted(CLOAK_FIELDS)}")
            continue
        problems = _category_problems(obj["label"], obj["category"], codes)
        if obj["label"] != 1:
            problems.append("every cloaking pair is abusive: label must be 1")
        for key in ("plain", "cloaked", "control", "term", "form", "source"):
            if (why := _text_problem(obj[key])) is not None:
                problems.append(f"{key} {why}")
        if obj["type"] not in CLOAK_TYPES:
            problems.append(f"type {obj['type']!r} is not one of {', '.join(CLOAK_TYPES)}")
        if obj["lang"] != "zh":
            problems.append(f"lang {obj['lang']!r} is not 'zh'")
        if not problems:
            plain, cloaked, term, form = obj["plain"], obj["cloaked"], obj["term"], obj["form"]
            before, _, after = plain.partition(term)
            control = obj["control"]
            if term == form or term not in plain or plain.replace(term, form, 1) != cloaked:
                problems.append(f"cloaked text is not the plain text with {term!r} written as {form!r}")
            elif control in (plain, cloaked) or not (
                control.startswith(before) and control.endswith(after) and len(control) > len(before + after)
            ):
                problems.append(f"control is not the plain text's frame with another word for {term!r}")
            elif cloaked in seen:
                problems.append(f"cloaked text repeats line {seen[cloaked]}")
        if problems:
            errors.extend(f"{where}: {p}" for p in problems)
            continue
        seen[obj["cloaked"]] = n
        pairs.append(
            CloakPair(
                obj["plain"],
                obj["cloaked"],
                obj["control"],
                obj["term"],
                obj["form"],
                obj["type"],
                obj["source"],
                obj["category"],
            )
        )
    _raise(path, errors)
    return pairs


def load_suite(name: str, directory: Path | None = None) -> list[LabelledText]:
    """One of the labelled suites by file name (``BEYOND_TRAIN``, ``BEYOND_HELDOUT``, ``COUNTER_SPEECH``,
    ``COUNTER_TRAIN``)."""
    return load_labelled((directory or WILD_DIR) / name)
