"""The simulator's texts: templates the project wrote itself (``simulate/data``), filled and disguised.

Templates carry placeholders (``{name}``, ``{topic}``, ``{city}``, ``{emoji}``, ``{phone}``, ``{addr}``,
``{n}``, ``{handle}``) and mark abusive words as ``[term]`` so that evasion knows what an abuser would
disguise: a homophone or pinyin spelling from ``evasion.tsv``, or noise characters between the
characters. Every phone number and address is made up from a seeded generator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from random import Random

# The abuse mix of ordinary traffic, by category (weights).
BACKGROUND_ABUSE = {
    "insult": 55, "ridicule": 12, "discrimination": 12, "threat": 10, "defamation": 7, "privacy": 2,
}
# A pile-on is angrier and more personal.
PILE_ON_ABUSE = {
    "insult": 55, "threat": 15, "ridicule": 10, "discrimination": 10, "defamation": 5, "privacy": 5,
}
_SEPARATORS = (" ", "*", ".", "_", "-", "…", "/", "丶")
_TOKEN = re.compile(r"\{(\w+)\}|\[([^\]]+)\]")

Token = tuple[int, str]  # (0: literal, 1: placeholder, 2: evadable term), text
Template = tuple[Token, ...]


def _parse(template: str) -> Template:
    tokens: list[Token] = []
    pos = 0
    for m in _TOKEN.finditer(template):
        if m.start() > pos:
            tokens.append((0, template[pos : m.start()]))
        tokens.append((1, m.group(1)) if m.group(1) else (2, m.group(2)))
        pos = m.end()
    if pos < len(template):
        tokens.append((0, template[pos:]))
    return tuple(tokens)


def _lines(name: str) -> list[str]:
    text = resources.files("cvguard.simulate").joinpath("data", name).read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


@dataclass(frozen=True, slots=True)
class Corpus:
    neutral: tuple[Template, ...]
    praise: tuple[Template, ...]
    disagree: tuple[Template, ...]
    hot_event: tuple[Template, ...]
    search: tuple[Template, ...]
    incite: tuple[Template, ...]
    brigade: tuple[Template, ...]
    situation: tuple[Template, ...]  # swearing at the situation, at nobody
    third_party: tuple[Template, ...]  # abuse of the people in the news, not of the poster
    fan_war: tuple[Template, ...]  # commenters abusing each other's fandom
    heated: tuple[Template, ...]  # sharp words in a debate among people who know each other
    chant: tuple[Template, ...]  # benign copy-paste: check-ins, fan chants
    news: tuple[Template, ...]  # a news account's report about other people
    abuse: dict[str, tuple[Template, ...]]
    evasion: dict[str, tuple[str, ...]]
    words: dict[str, tuple[str, ...]]  # prefix, core, topics, debate, cities, roads, compounds, emoji

    @staticmethod
    @cache
    def default() -> Corpus:
        abuse: dict[str, list[Template]] = {}
        for line in _lines("abuse.tsv"):
            category, template = line.split("\t", 1)
            abuse.setdefault(category, []).append(_parse(template))
        evasion = {row[0]: tuple(row[1:]) for row in (line.split("\t") for line in _lines("evasion.tsv"))}
        words = {row[0]: tuple(row[1].split()) for row in (line.split("\t") for line in _lines("names.txt"))}

        def templates(name: str) -> tuple[Template, ...]:
            return tuple(_parse(line) for line in _lines(name))

        return Corpus(
            neutral=templates("neutral.txt"),
            praise=templates("praise.txt"),
            disagree=templates("disagree.txt"),
            hot_event=templates("hot_event.txt"),
            search=templates("search.txt"),
            incite=templates("incite.txt"),
            brigade=templates("brigade.txt"),
            situation=templates("situation.txt"),
            third_party=templates("third_party.txt"),
            fan_war=templates("fan_war.txt"),
            heated=templates("heated.txt"),
            chant=templates("chant.txt"),
            news=templates("news.txt"),
            abuse={k: tuple(v) for k, v in abuse.items()},
            evasion=evasion,
            words=words,
        )

    # ------------------------------------------------------------------------------ filling

    def render(
        self, rng: Random, template: Template, *, name: str = "", topic: str = "", evade: float = 0.0
    ) -> str:
        """``template`` filled in; each ``[term]`` is disguised with probability ``evade``."""
        out: list[str] = []
        for kind, value in template:
            if kind == 0:
                out.append(value)
            elif kind == 2:
                out.append(self.disguise(rng, value) if evade and rng.random() < evade else value)
            else:
                out.append(self._fill(rng, value, name, topic))
        return "".join(out)

    def _fill(self, rng: Random, key: str, name: str, topic: str) -> str:
        if key == "name":
            return name
        if key == "handle":
            return "@" + name
        if key == "topic":
            return topic
        if key == "city":
            return rng.choice(self.words["cities"])
        if key == "emoji":
            return rng.choice(self.words["emoji"])
        if key == "phone":
            return fake_phone(rng)
        if key == "addr":
            return self.fake_address(rng)
        if key == "n":
            return str(rng.randint(2, 99))
        raise KeyError(f"unknown placeholder {{{key}}}")

    def disguise(self, rng: Random, term: str) -> str:
        """How an abuser writes ``term`` to slip past a word filter."""
        variants = self.evasion.get(term, ())
        if variants and rng.random() < 0.6:
            return rng.choice(variants)
        if len(term) > 1 and not term.isascii():
            return rng.choice(_SEPARATORS).join(term)
        return term

    def fake_address(self, rng: Random) -> str:
        w = self.words
        return (
            f"{rng.choice(w['cities'])}市{rng.choice(w['roads'])}{rng.randint(1, 300)}号"
            f"{rng.choice(w['compounds'])}{rng.randint(1, 30)}栋{rng.randint(1, 6)}单元"
            f"{rng.randint(101, 2904)}室"
        )

    # --------------------------------------------------------------------------- by kind

    def abusive(
        self,
        rng: Random,
        *,
        name: str,
        topic: str = "",
        mix: dict[str, int] | None = None,
        evade: float = 0.15,
    ) -> str:
        weights = mix or BACKGROUND_ABUSE
        category = rng.choices(tuple(weights), weights=tuple(weights.values()))[0]
        return self.render(rng, rng.choice(self.abuse[category]), name=name, topic=topic, evade=evade)

    def pick(self, rng: Random, pool: tuple[Template, ...], *, name: str = "", topic: str = "") -> str:
        return self.render(rng, rng.choice(pool), name=name, topic=topic)

    def near_duplicate(self, rng: Random, template: Template, *, name: str, topic: str) -> str:
        """One brigade copy: the shared message with a few small edits."""
        text = self.render(rng, template, name=name, topic=topic, evade=0.25)
        for _ in range(rng.randint(1, 3)):
            edit = rng.randrange(6)
            if edit == 0:
                text = text.replace("，", rng.choice((",", " ", "！", "。")), 1)
            elif edit == 1:
                text += rng.choice(self.words["emoji"]) * rng.randint(1, 3)
            elif edit == 2:
                text += rng.choice(("！", "！！！", "。", "...", "?!", ""))
            elif edit == 3:
                cut = rng.randrange(1, max(2, len(text)))
                text = text[:cut] + rng.choice((" ", "，", "~")) + text[cut:]
            elif edit == 4:
                text = rng.choice(("转发：", "+1 ", "说得对，", "")) + text
            else:
                text += f" #{topic}" if topic else ""
        return text


def fake_phone(rng: Random) -> str:
    """A made-up mainland mobile number (matches the PII phone pattern; belongs to no one we know)."""
    return f"{rng.choice(('138', '139', '150', '186', '177'))}{rng.randrange(10**8):08d}"
