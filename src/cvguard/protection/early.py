"""The early signal: abuse starting to converge on one person, before a pile-on warning. Pure.

A pile-on's *warning* needs a surge against the person's baseline (``behavior.pileon``): on a
slowly ramping attack that comes minutes after the first insult. The person can be offered a
shield sooner, at the first sign that strangers' abuse is converging on them:

    crowd    abusive messages aimed at the person from ``min_authors`` distinct people they do not
             follow, within ``window_s`` seconds of event time
    severe   one unlawful message (a threat, doxxing: ``SEVERE_CATEGORIES``) aimed at the person by
             someone they do not follow

"Abusive" is the screening verdict's violation; "aimed at the person" is ``behavior.direction.aim``
(abuse of a third party under their post, of a group, of a rival fandom is not abuse of them).
"Do not follow" is the platform's hint ``target_follows_author`` (unknown counts as not).

**Event time, robust to the stream.** :meth:`ConvergenceWatch.update` takes the event's time. An
event more than ``lateness_s`` behind the newest time seen is too late and ignored (the rule the
behaviour detectors apply); one more than ``max_ahead_s`` ahead of it, or not finite, is absurd and
ignored (it would move the watermark and make every later event late), unless the next abusive
message far ahead is near it too (the stream moved on after a quiet day). Out-of-order events within
the lateness count where they belong in time: the crowd test looks for ``min_authors`` distinct
authors inside any window of ``window_s`` seconds containing the new message, and the signal's
time is the moment that window was complete (its newest message), not the arrival.

**Once per episode.** A person signalled is not signalled again within ``quiet_s`` of event time
(the prompt's own cool-down, ``plan.OFFER_COOLDOWN``, de-duplicates across processes and restarts;
this keeps the planner from seeing the same signal for every later insult). The signal's id is
``early:user:<id>:<epoch second>``: the same stream gives the same ids (a replay appends nothing
twice).

State per person is a short list of recent (time, author) pairs; people whose newest message is
older than the window plus the lateness are forgotten on :meth:`prune`. Cheap per event: most
events are not abusive and return after one attribute read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from cvguard.behavior.direction import aim
from cvguard.events import Event
from cvguard.verdict import Verdict

SEVERE_CATEGORIES = frozenset({"threat", "privacy"})  # privacy: doxxing (开盒, 人肉)

SignalKind = Literal["crowd", "severe"]


@dataclass(frozen=True, slots=True)
class EarlyConfig:
    min_authors: int = 2  # distinct people the person does not follow ...
    window_s: float = 600.0  # ... sending abuse aimed at them within this many seconds
    severe: bool = True  # one threat or doxxing message from a stranger is enough
    lateness_s: float = 600.0  # the behaviour detectors' lateness
    max_ahead_s: float = 86400.0  # further ahead of the newest time seen: absurd, ignored
    quiet_s: float = 86400.0  # no second signal for one person within this (event time)
    keep: int = 32  # recent abusive messages kept per person

    def check(self) -> None:
        if self.min_authors < 1 or not self.window_s > 0 or self.keep < self.min_authors:
            raise ValueError("min_authors >= 1, window_s > 0 and keep >= min_authors are needed")


@dataclass(frozen=True, slots=True)
class EarlySignal:
    """Abuse converging on ``user_id`` at ``at`` (event time): why, and the messages that made it."""

    signal_id: str
    user_id: str
    at: datetime
    kind: SignalKind
    authors: int
    event_ids: tuple[str, ...]

    @property
    def reason(self) -> str:
        if self.kind == "severe":
            return f"a threat or doxxing message from someone the person does not follow ({self.signal_id})"
        return (
            f"abuse from {self.authors} people the person does not follow within minutes"
            f" ({self.signal_id})"
        )


class ConvergenceWatch:
    """The early signal per person (see the module docstring)."""

    def __init__(self, config: EarlyConfig | None = None) -> None:
        self.config = config or EarlyConfig()
        self.config.check()
        self.newest = -math.inf
        self._recent: dict[str, list[tuple[float, str, str]]] = {}  # person -> (t, author, event id)
        self._signalled: dict[str, float] = {}  # person -> time of their last signal
        self._ahead: float | None = None  # a far-ahead time waiting for a second one to confirm it
        self.ignored = 0  # late or absurd events (a metric, not state)

    def update(self, event: Event, verdict: Verdict, t: float) -> list[EarlySignal]:
        """The signals ``event`` (screened ``verdict``, at epoch second ``t``) raises."""
        if not verdict.violation or not event.target_ids:
            return []
        cfg = self.config
        if not math.isfinite(t):
            self.ignored += 1
            return []
        if t > self.newest + cfg.max_ahead_s and self.newest > -math.inf:
            # far ahead: absurd, unless a second message confirms the stream moved on (a quiet day)
            ahead, self._ahead = self._ahead, t
            if ahead is None or abs(t - ahead) > cfg.max_ahead_s:
                self.ignored += 1
                return []
        self._ahead = None
        if t < self.newest - cfg.lateness_s:
            self.ignored += 1
            return []
        if t > self.newest:
            self.newest = t
        if event.relationship.target_follows_author is True or aim(event, verdict)[0] != "target":
            return []
        author = event.author.id
        severe = cfg.severe and verdict.top_category in SEVERE_CATEGORIES
        out: list[EarlySignal] = []
        for person in dict.fromkeys(event.target_ids):
            if person == author:
                continue
            recent = self._recent.setdefault(person, [])
            recent.append((t, author, event.event_id))
            if len(recent) > 1 and recent[-2][0] > t:
                recent.sort()
            if len(recent) > cfg.keep:
                del recent[0]
            last = self._signalled.get(person)
            if last is not None and abs(t - last) < cfg.quiet_s:
                continue
            signal = self._severe(person, t, event) if severe else self._crowd(person, t, recent)
            if signal is not None:
                self._signalled[person] = signal.at.timestamp()
                out.append(signal)
        return out

    def _severe(self, person: str, t: float, event: Event) -> EarlySignal:
        return _signal(person, t, "severe", 1, (event.event_id,))

    def _crowd(self, person: str, t: float, recent: list[tuple[float, str, str]]) -> EarlySignal | None:
        """The earliest window of ``window_s`` holding ``t`` with ``min_authors`` distinct authors."""
        cfg = self.config
        n = len(recent)
        lo = 0
        for hi in range(n):
            end = recent[hi][0]
            if end < t:
                continue  # the window must hold the new message: it ends at or after it
            while recent[lo][0] < end - cfg.window_s:
                lo += 1
            if recent[lo][0] > t:
                break  # windows further right no longer hold t
            inside = recent[lo : hi + 1]
            authors = {a for _, a, _ in inside}
            if len(authors) >= cfg.min_authors:
                return _signal(person, end, "crowd", len(authors), tuple(i for _, _, i in inside))
        return None

    def prune(self) -> None:
        """Forget people whose latest abuse is older than the window plus the lateness."""
        horizon = self.newest - self.config.window_s - self.config.lateness_s
        for person in [p for p, r in self._recent.items() if not r or r[-1][0] < horizon]:
            del self._recent[person]
        quiet = self.newest - self.config.quiet_s - self.config.lateness_s
        for person in [p for p, at in self._signalled.items() if at < quiet]:
            del self._signalled[person]

    def save(self) -> dict[str, Any]:
        return {
            "version": 1,
            "newest": None if self.newest == -math.inf else self.newest,
            "recent": {p: [list(x) for x in r] for p, r in sorted(self._recent.items())},
            "signalled": dict(sorted(self._signalled.items())),
        }

    def restore(self, data: dict[str, Any]) -> None:
        self.newest = -math.inf if data["newest"] is None else float(data["newest"])
        self._recent = {p: [(float(t), str(a), str(i)) for t, a, i in r] for p, r in data["recent"].items()}
        self._signalled = {p: float(at) for p, at in data["signalled"].items()}


def _signal(person: str, t: float, kind: SignalKind, authors: int, ids: tuple[str, ...]) -> EarlySignal:
    return EarlySignal(
        f"early:user:{person}:{int(t)}", person, datetime.fromtimestamp(t, UTC), kind, authors, ids
    )


__all__ = ["SEVERE_CATEGORIES", "ConvergenceWatch", "EarlyConfig", "EarlySignal"]
