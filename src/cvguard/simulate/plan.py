"""A simulation run: the configuration, the plan of scenarios in time, and the ground truth.

Everything random comes from ``random.Random`` instances seeded from ``SimConfig.seed`` and a
name (``"7/pile_on/2"``), so one seed gives one stream byte for byte, and adding a scenario does
not change the others.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from random import Random
from typing import Any

from cvguard.errors import InputError
from cvguard.simulate import scenarios
from cvguard.simulate.emit import HOUR_MS, MINUTE_MS, Item
from cvguard.simulate.population import Population
from cvguard.simulate.scenarios import Scenario
from cvguard.simulate.timefmt import iso, to_ms

FORMAT = "cvguard-simulate/1"
INCIDENT_KINDS = ("pileon", "brigade", "incitement")
NON_INCIDENT_KINDS = ("celebrity", "debate", "viral", "news", "fanwar", "groupdebate")
SCENARIO_NAMES = (*INCIDENT_KINDS, *NON_INCIDENT_KINDS)
# Asked for by name only (``--scenarios accountability``): not in the default set, so adding it
# changed no default stream.
EXTRA_KINDS = ("accountability",)
# Default counts per 24 hours of simulated time (at least one of each selected kind).
_PER_DAY = {
    "pileon": 3, "brigade": 3, "incitement": 3, "celebrity": 1, "debate": 2,
    "viral": 2, "news": 2, "fanwar": 2, "groupdebate": 2, "accountability": 1,
}
# The kinds of ground-truth record that are not incidents.
NON_INCIDENT_RECORDS = frozenset(
    {"celebrity_day", "civil_debate", "viral_post", "news_thread", "fan_war", "group_debate"}
)


@dataclass(frozen=True, slots=True)
class SimConfig:
    seed: int = 0
    hours: float = 24.0
    users: int = 5000
    targets: int = 1000
    topics: int = 40
    scenarios: tuple[str, ...] = SCENARIO_NAMES
    incidents: int | None = None  # of each selected kind; None: _PER_DAY scaled to ``hours``
    # 2026-11-24 00:00 in Beijing, where the diurnal curve is set.
    start: datetime = field(default_factory=lambda: datetime(2026, 11, 23, 16, 0, tzinfo=UTC))
    per_user_day: float = 40.0  # background events per account per day
    abuse_rate: float = 0.02  # share of ordinary abuse in background traffic
    celebrity_per_hour: float = 1500.0  # mean mentions of the busy celebrity per hour
    out_of_order: float = 0.01  # share of events delivered late
    max_delay_s: float = 30.0

    def check(self) -> None:
        problems = []
        if self.hours <= 0:
            problems.append("hours must be positive")
        if self.users < 100:
            problems.append("users must be at least 100")
        if self.targets < 1:
            problems.append("targets must be at least 1 (more than users means all of them)")
        if self.topics < 1:
            problems.append("topics must be at least 1")
        known = (*SCENARIO_NAMES, *EXTRA_KINDS)
        unknown = sorted(set(self.scenarios) - set(known))
        if unknown:
            problems.append(f"unknown scenario {', '.join(unknown)} (known: {', '.join(known)})")
        if not 0.0 <= self.out_of_order <= 0.5:
            problems.append("out_of_order must be between 0 and 0.5")
        if not 0.0 <= self.abuse_rate <= 0.5:
            problems.append("abuse_rate must be between 0 and 0.5")
        if problems:
            raise InputError("; ".join(problems))

    def count(self, kind: str) -> int:
        if kind not in self.scenarios:
            return 0
        if self.incidents is not None:
            return self.incidents
        return max(1, math.ceil(_PER_DAY[kind] * self.hours / 24.0 - 1e-9))

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["start"] = iso(to_ms(self.start))
        out["scenarios"] = list(self.scenarios)
        return out


class Simulation:
    """Plans every scenario of ``config``; ``truth`` is ready at once, ``items()`` streams."""

    def __init__(self, config: SimConfig) -> None:
        config.check()
        self.config = config
        self.start = to_ms(config.start)
        self.end = self.start + int(config.hours * HOUR_MS)
        seed = config.seed
        self.population = Population(
            Random(f"{seed}/population"), start_ms=self.start, users=config.users,
            targets=config.targets, topics=config.topics,
        )
        self._plan = Random(f"{seed}/plan")
        self.scenarios: list[Scenario] = [
            scenarios.background(
                Random(f"{seed}/background"), self.population, start=self.start, end=self.end,
                per_user_day=config.per_user_day, abuse_rate=config.abuse_rate,
            )
        ]
        self._incidents = 0
        self._non_incidents = 0
        self._plan_incidents()
        self._plan_non_incidents()
        self._plan_extra()

    def _when(self, lead: int, tail: int) -> int:
        """A start time that leaves ``lead`` before and ``tail`` after inside the window when it can."""
        low, high = self.start + lead, self.end - tail
        if high <= low:
            low, high = self.start, max(self.start, self.end - tail // 4)
        return self._plan.randint(low, max(low, high))

    def _plan_incidents(self) -> None:
        pop = self.population
        used: set[str] = set()
        candidates = [a for a in pop.ordinary if not a.minor] or pop.ordinary
        minors = [a for a in pop.ordinary if a.minor]
        creators = [c for c in pop.creators[len(pop.creators) // 20 :] if not c.verified] or pop.creators

        def fresh(pool: list[Any]) -> Any:
            for _ in range(100):
                account = self._plan.choice(pool)
                if account.id not in used:
                    used.add(account.id)
                    return account
            return self._plan.choice(pool)

        seed = self.config.seed
        for i in range(self.config.count("pileon")):
            # Every third pile-on hits a minor: a key group the policy protects more strongly.
            target = fresh(minors if i % 3 == 2 and minors else candidates)
            at = self._when(40 * MINUTE_MS, 150 * MINUTE_MS)
            self._add(scenarios.pile_on(Random(f"{seed}/pileon/{i}"), pop, self._incident_id(), at=at,
                                        target=target))
        for i in range(self.config.count("brigade")):
            at = self._when(3 * HOUR_MS, 20 * MINUTE_MS)
            self._add(scenarios.brigade(Random(f"{seed}/brigade/{i}"), pop, self._incident_id(), at=at,
                                        target=fresh(creators)))
        for i in range(self.config.count("incitement")):
            at = self._when(3 * HOUR_MS, 90 * MINUTE_MS)
            self._add(scenarios.incitement(Random(f"{seed}/incitement/{i}"), pop, self._incident_id(),
                                           at=at, target=fresh(candidates)))

    def _plan_non_incidents(self) -> None:
        pop = self.population
        seed = self.config.seed
        for i in range(self.config.count("celebrity")):
            self._add(scenarios.celebrity_day(
                Random(f"{seed}/celebrity/{i}"), pop, self._non_incident_id(), start=self.start,
                end=self.end, per_hour=self.config.celebrity_per_hour,
            ))
        debates = pop.corpus.words["debate"]
        for i in range(self.config.count("debate")):
            at = self._when(0, 3 * HOUR_MS)
            self._add(scenarios.civil_debate(
                Random(f"{seed}/debate/{i}"), pop, self._non_incident_id(), at=at,
                topic_name=debates[i % len(debates)],
            ))
        # The look-alikes of a pile-on on real threads (issue 7): after the older kinds, so that
        # adding them changed none of the older scenarios' draws.
        ordinary = [a for a in pop.ordinary if not a.minor] or pop.ordinary
        for i in range(self.config.count("viral")):
            self._add(scenarios.viral_post(
                Random(f"{seed}/viral/{i}"), pop, self._non_incident_id(),
                at=self._when(2 * HOUR_MS, 3 * HOUR_MS), poster=self._plan.choice(ordinary),
            ))
        for i in range(self.config.count("news")):
            self._add(scenarios.news_thread(
                Random(f"{seed}/news/{i}"), pop, self._non_incident_id(), at=self._when(HOUR_MS, 2 * HOUR_MS),
            ))
        for i in range(self.config.count("fanwar")):
            self._add(scenarios.fan_war(
                Random(f"{seed}/fanwar/{i}"), pop, self._non_incident_id(),
                at=self._when(HOUR_MS, 2 * HOUR_MS), poster=self._plan.choice(pop.creators),
            ))
        for i in range(self.config.count("groupdebate")):
            at = self._when(0, 3 * HOUR_MS)
            rng = Random(f"{seed}/groupdebate/{i}")
            self._add(scenarios.group_debate(rng, pop, self._non_incident_id(), at=at))

    def _plan_extra(self) -> None:
        pop = self.population
        seed = self.config.seed
        ordinary = [a for a in pop.ordinary if not a.minor] or pop.ordinary
        for i in range(self.config.count("accountability")):
            # the repeat offender's earlier violations fall 50 and 26 hours before (before the
            # window's start in a shorter simulation)
            at = self._when(52 * HOUR_MS, HOUR_MS)
            self._add(scenarios.accountability(
                Random(f"{seed}/accountability/{i}"), pop, self._incident_id(), at=at,
                target=self._plan.choice(ordinary),
            ))

    def _incident_id(self) -> str:
        self._incidents += 1
        return f"I{self._incidents}"

    def _non_incident_id(self) -> str:
        self._non_incidents += 1
        return f"N{self._non_incidents}"

    def _add(self, scenario: Scenario) -> None:
        self.scenarios.append(scenario)

    @property
    def truth(self) -> dict[str, Any]:
        records = [s.truth for s in self.scenarios if s.truth is not None]
        non = NON_INCIDENT_RECORDS
        return {
            "kind": "truth",
            "format": FORMAT,
            "config": self.config.to_json(),
            "start": iso(self.start),
            "end": iso(self.end),
            "incidents": [r for r in records if r["kind"] not in non],
            "non_incidents": [r for r in records if r["kind"] in non],
        }

    def items(self) -> Iterator[Item]:
        """All scenarios merged in event-time order (before any delivery delay)."""
        return heapq.merge(*(s.items for s in self.scenarios), key=lambda item: item[0])
