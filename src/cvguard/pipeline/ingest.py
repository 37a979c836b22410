"""The ingest step, once: gate → screen → store → the new events, with late / future / conflicts named.

Both ways events come in use it: the embedded :class:`~cvguard.pipeline.engine.Pipeline` (API,
``replay``) and the scale-out :class:`~cvguard.pipeline.worker.Worker`. What happens next differs
(the pipeline feeds its own behaviour engine; a worker submits to the shared behaviour log and
acknowledges the stream), so a decision step added after screening is wired here, in one place.

    refused = refusals(gate, events)                       # online: why each event may not move the clock
    step = store_screened(screener, store, admitted, keep_text=True)
    step.new_ids, step.conflicts, step.duplicates, step.fresh
    on_time, late = split_late(step.fresh, newest=..., lateness_s=600)
    # ... behaviour processes ``on_time`` ...
    decided = decide_fresh(policy, step.fresh, behaviour, at=clock.now(), shadow=candidate)
    decided.decisions, decided.shadow, decided.records   # records: for the store's decisions table

Screening is ``Screening.screen_many`` over the batch: the packaged screener screens each distinct
text once (a chant, a copy-paste brigade, a redelivery) and gives its repeats the same verdict.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from cvguard.events import Event
from cvguard.pipeline.clock import WallGate
from cvguard.pipeline.context import (
    DecisionContext,
    DmReader,
    PeopleView,
    PolicyLike,
    StandingReader,
    compiled,
)
from cvguard.policy import Decision, DecisionInput
from cvguard.store.decisions import DecisionRecord
from cvguard.verdict import Verdict

# Events and verdicts, paired: what behaviour (and a decision) reads.
Item = tuple[Event, Verdict]


class Screening(Protocol):
    def screen_many(self, texts: Sequence[str]) -> list[Verdict]: ...


class EventSink(Protocol):
    """Where screened events are written: ``add_batch`` returns the ids that were new, each once."""

    def add_batch(
        self, events: Sequence[Event], verdicts: Sequence[Verdict], *, keep_text: bool
    ) -> list[str]: ...


@runtime_checkable
class ConflictReporter(Protocol):
    """A store that can say which of a batch's not-new ids are stored with another text."""

    def conflicts(self, events: Sequence[Event], new_ids: Sequence[str]) -> list[str]: ...


@dataclass(slots=True)
class Screened:
    """One batch screened and stored: ``received == len(new_ids) + duplicates + len(conflicts)``."""

    events: list[Event]  # the batch as stored (admitted), in arrival order
    verdicts: list[Verdict]  # one per event
    new_ids: list[str]  # the ids the store did not hold, each once
    conflicts: list[str]  # ids already stored with another text (the stored version stays)
    screen_s: float = 0.0
    store_s: float = 0.0

    @property
    def duplicates(self) -> int:
        return len(self.events) - len(self.new_ids) - len(self.conflicts)

    @property
    def fresh(self) -> list[Item]:
        """The new events with their verdicts, each once (its first occurrence), in arrival order."""
        return first_of(self.events, self.verdicts, self.new_ids)


def refusals(gate: WallGate, events: Sequence[Event]) -> list[str | None]:
    """Online: per event, why it may not be stored (dated too far ahead of the wall clock), or None."""
    limit = gate.limit()
    if all(e.occurred_at <= limit for e in events):
        return [None] * len(events)
    out: list[str | None] = []
    for e in events:
        why = gate.refusal(e.occurred_at, limit)
        out.append(None if why is None else f"occurred_at {why}")
    return out


def admit_online(gate: WallGate, events: Sequence[Event]) -> tuple[list[Event], list[tuple[str, str]]]:
    """The events that may be stored now, and the refused ones as (event_id, why)."""
    admitted: list[Event] = []
    refused: list[tuple[str, str]] = []
    for e, why in zip(events, refusals(gate, events), strict=True):
        if why is None:
            admitted.append(e)
        else:
            refused.append((e.event_id, why))
    return admitted, refused


def store_screened(
    screener: Screening,
    store: EventSink,
    events: Sequence[Event],
    *,
    keep_text: bool,
    find_conflicts: bool = True,
) -> Screened:
    """Screen the batch, store it with its verdicts (idempotent by ``event_id``), name what was new.

    ``find_conflicts``: ask the store (when it can tell, :class:`ConflictReporter`) which of the ids
    it already held came with another text; otherwise every id not new counts as a duplicate.
    """
    events = list(events)
    t0 = time.perf_counter()
    verdicts = screener.screen_many([e.text for e in events])
    t1 = time.perf_counter()
    new_ids = store.add_batch(events, verdicts, keep_text=keep_text)
    conflicts: list[str] = []
    if find_conflicts and len(new_ids) != len(events) and isinstance(store, ConflictReporter):
        conflicts = store.conflicts(events, new_ids)
    t2 = time.perf_counter()
    return Screened(events, list(verdicts), new_ids, conflicts, screen_s=t1 - t0, store_s=t2 - t1)


def split_late(items: Sequence[Item], *, newest: float, lateness_s: float) -> tuple[list[Item], list[str]]:
    """(fed to behaviour, ids too late for it): late means more than ``lateness_s`` behind the newest
    event time fed before it (``newest``, epoch seconds), the same rule the detectors apply."""
    on_time: list[Item] = []
    late: list[str] = []
    for item in items:
        t = item[0].occurred_at.timestamp()
        if t < newest - lateness_s:
            late.append(item[0].event_id)
        else:
            on_time.append(item)
            newest = max(newest, t)
    return on_time, late


def first_of(events: Sequence[Event], verdicts: Sequence[Verdict], new_ids: Sequence[str]) -> list[Item]:
    """The events the store reported new, each once (its first occurrence), in arrival order."""
    wanted = set(new_ids)
    out: list[Item] = []
    for event, verdict in zip(events, verdicts, strict=True):
        if event.event_id in wanted:
            wanted.discard(event.event_id)
            out.append((event, verdict))
    return out


@contextmanager
def paused_gc() -> Iterator[None]:
    """Cyclic garbage collection paused for a burst of acyclic allocations (deciding a batch).

    A batch's decisions are thousands of small objects kept until the batch is answered; each
    collection they trigger would walk the whole heap (the behaviour state is most of it) and
    cost more than the deciding itself (bench/bench_decide.py --pipeline). They form no cycles,
    so reference counting frees them; collection resumes, as it was, right after."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@dataclass(slots=True)
class Decided:
    """The decisions about one batch's fresh events, in arrival order, and their store records."""

    decisions: list[Decision]  # the active policy's, one per fresh event
    shadow: list[Decision]  # the candidate's (shadow mode), one per fresh event; empty without one
    records: list[DecisionRecord]  # both, for the store (shadow ones flagged)
    decide_s: float = 0.0
    escalations: list[Any] = field(default_factory=list)  # scale-out: DM escalations (``shared_dm``)
    inputs: list[DecisionInput] = field(default_factory=list)  # what each decision was made on


def decide_fresh(
    policy: PolicyLike,
    items: Sequence[Item],
    behaviour: object,
    *,
    at: datetime | float | None,
    shadow: PolicyLike | None = None,
    whole: bool = False,
    dm: DmReader | None = None,
    people: PeopleView | None = None,
    standing: StandingReader | None = None,
) -> Decided:
    """Decide every fresh event with ``policy`` (and the shadow candidate, if any), each event's
    context read from ``behaviour`` as of ``at`` (the batch's clock after behaviour processed it:
    see ``pipeline.context`` on granularity). Late events are decided too: stored, they are
    published; the state they see is the batch's. ``whole``: the records carry the verdict's parts
    themselves (a scale-out API node records decisions before a worker stores the verdicts).
    ``dm``: the private-message state, the batch already observed (``protection.dm``).
    ``people``: the targets' key groups and shields (``pipeline.protection``); None: none known.
    ``standing``: the authors' violations and sanctions (``pipeline.enforce``); None: unknown."""
    with paused_gc():
        return _decide(policy, items, behaviour, at, shadow, whole, dm, people, standing)


def _decide(
    policy: PolicyLike,
    items: Sequence[Item],
    behaviour: object,
    at: datetime | float | None,
    shadow: PolicyLike | None,
    whole: bool = False,
    dm: DmReader | None = None,
    people: PeopleView | None = None,
    standing: StandingReader | None = None,
) -> Decided:
    t0 = time.perf_counter()
    active = compiled(policy)
    candidate = compiled(shadow) if shadow is not None else None
    ctx = DecisionContext(behaviour, at, dm, people, standing)
    inputs: list[DecisionInput] = []
    decisions: list[Decision] = []
    shadows: list[Decision] = []
    records: list[DecisionRecord] = []
    for event, verdict in items:
        inp = ctx.input_for(event, verdict)
        inputs.append(inp)
        d = active.decide(inp)
        decisions.append(d)
        records.append(DecisionRecord.of(d, event.occurred_at, whole=whole))
        if candidate is not None:
            c = candidate.decide(inp)
            shadows.append(c)
            records.append(DecisionRecord.of(c, event.occurred_at, shadow=True, whole=whole))
    return Decided(decisions, shadows, records, time.perf_counter() - t0, inputs=inputs)
