"""The pipeline: ingest → screen → behaviour → alerts → store, one orchestration over ports.

    pipeline = Pipeline.open(settings)                 # SQLite (or PostgreSQL) store, migrated
    result = pipeline.ingest(events)                   # one batch, in arrival order
    result.new_ids, result.duplicates, result.alerts
    pipeline.close()

What the pipeline guarantees:

- **Idempotent by ``event_id``.** The store writes a batch and reports which events were new;
  only those are fed to behaviour. An event delivered twice (a retried POST, a redelivered
  message, the same file replayed) is stored once and counted once in every window.
- **Event time.** Behaviour reads each event's ``occurred_at``; the :class:`EventClock` follows the
  newest event time and is what "now" means for reads (``target_state``, ``topic_state``).
- **No event can drag the clock.** Before anything is stored, a gate (``pipeline.clock``) decides
  which events may move it: online (the API) an event more than the configured skew ahead of the
  wall clock is refused (``IngestResult.future`` with why); offline (``replay``) one far ahead of
  the stream's watermark waits for a quorum of later events to vouch for it and is set aside at the
  end of the stream if none do (``set_aside``). The wall clock is injected (``wall``); it also
  caps text retention (``store.retention``).
- **Late events are kept, not fed.** An event more than the detectors' lateness (10 minutes)
  behind the clock is screened and stored with its verdict, and reported in ``IngestResult.late``,
  but not fed to behaviour: its windows have closed (the detectors would drop it themselves).
- **Conflicts are named.** An ``event_id`` already stored with a different text (SHA-256) is a
  conflict, reported in ``IngestResult.conflicts``; the stored version stays.
- **Alerts after events.** Alerts reference events, so they are written after the batch that
  holds them commits. An alert the store could not take stays pending and is written before the
  next batch (the behaviour state will not emit it again).
- **Feed actions after alerts.** Once the store took them, every emission (resumed ones too) is
  planned into the action feed in the same database (``pipeline.actions``); idempotent by key,
  and a failed append is retried with the next batch.
- **Protection after deciding.** Decisions read the targets' key groups and shields from an
  in-memory cache (``pipeline.protection``); what a decision holds back from a person goes to
  their filtered folder, and shields near their end get their reminder in the feed.
- **MCN members from authors.** The fresh events' ``author.mcn_id`` keep MCN membership
  (``pipeline.mcn``: only pairs not seen before are written; a refused write waits for the next
  batch). The same desk, ``Pipeline.mcn``, is the ledger's listener for MCN measures.
- **Review after storing.** Held decisions, alerts at warning or above and DM escalations enter
  the staff review queue once stored (``pipeline.review``); the feed leaves content a person
  decided alone.
- **Enforcement after deciding.** A decision won by a rule that confirms violations records one
  for the author in the violation ledger, graded into a sanction by the ladder (a feed action with
  its statement of reasons, an audit entry); DM escalations count as violations of their sender;
  decisions read the authors' standing (prior violations, restricted) from an in-memory ledger
  (``pipeline.enforce``).
- **Restarts resume.** The behaviour state is saved to the store every ``CHECKPOINT_EVERY`` new
  events and on ``close``; ``open`` restores it and feeds behaviour the events stored after it
  (after a crash, the ones the lost state had seen), so a restart neither forgets an unfolding
  pile-on nor counts an event twice.

The ports are protocols (``Screening``, ``Behaviour``, ``AlertStore``): the packaged screener,
``BehaviourEngine`` and ``EventStore`` fit them, and tests may pass twins. One lock serialises
``ingest`` and the behaviour reads, because behaviour state is not thread-safe and the API serves
requests on a thread pool.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from cvguard.behavior import Alert, BehaviourEngine, TargetState, TopicState
from cvguard.config import Settings
from cvguard.detection.screen import Screener
from cvguard.enforcement.ladder import load_ladder
from cvguard.events import Event, parse_events
from cvguard.pipeline.actions import AlertActions
from cvguard.pipeline.clock import EventClock, WallClock, WallGate, WatermarkGate, wall_clock
from cvguard.pipeline.context import PolicyLike, compiled
from cvguard.pipeline.enforce import Enforcer, Ledger
from cvguard.pipeline.ingest import (
    Screening,
    admit_online,
    decide_fresh,
    paused_gc,
    split_late,
    store_screened,
)
from cvguard.pipeline.mcn import McnDesk, mcn_thresholds
from cvguard.pipeline.protection import PeopleBook
from cvguard.pipeline.review import ReviewIntake
from cvguard.policy import Decision, PolicyHolder, default_policy
from cvguard.protection.dm import DmGuard, DmLimits, Escalation
from cvguard.store import EventStore
from cvguard.store.actions import ActionFeed
from cvguard.store.audit import AuditLog
from cvguard.store.decisions import DecisionRecord
from cvguard.store.dm import EscalationStore
from cvguard.store.enforcement import EnforcementStore
from cvguard.store.mcns import McnStore
from cvguard.store.people import PeopleStore
from cvguard.store.port import DecisionStore, SnapshotStore
from cvguard.store.retention import TextRetention
from cvguard.store.review import ReviewStore
from cvguard.verdict import Verdict
from cvguard.vocabulary import SUBJECT_TYPES

# Subject types the store accepts. Brigades aimed at no single user/thread/topic name an LSH
# "cluster"; until the store takes those, such alerts are emitted (replay output, API) but not
# stored, and counted in ``PipelineStats.unstored_alerts``.
_STORABLE: frozenset[str] | None = frozenset(SUBJECT_TYPES)

log = logging.getLogger(__name__)

# Events a transaction. Each commit writes every index page the batch touched (event ids, authors,
# threads, targets and topics land on random pages), so bigger batches share those pages: 5,000 a
# commit stores about 35% faster than 2,000 on a day-sized database (bench/bench_replay.py).
DEFAULT_BATCH = 5000

# Behaviour state survives restarts: a checkpoint (engine.save(), compressed) every this many new
# events and on close, and on start the events stored after it are fed again (module docstring).
CHECKPOINT_EVERY = 200_000
SNAPSHOT_NAME = "embedded"
SNAPSHOT_FORMAT = 1
RESUME_WITHOUT_CHECKPOINT = timedelta(days=3)  # the longest look-back of the detectors
# An event this far behind the clock is not fed to behaviour: the detectors' lateness (all 600 s,
# ``behavior``), read from the engine's config when the behaviour is a ``BehaviourEngine``.
DEFAULT_LATENESS_S = 600.0
DEFAULT_SKEW_S = 300.0


class Behaviour(Protocol):
    def process_many(self, items: Iterable[tuple[Event, Verdict]], batch: int = ...) -> list[Alert]: ...

    def target_state(self, target_id: str, t: Any) -> TargetState: ...

    def topic_state(self, topic_id: str, t: Any) -> TopicState: ...


class AlertStore(Protocol):
    def add_batch(
        self, events: Sequence[Event], verdicts: Sequence[Verdict], *, keep_text: bool
    ) -> list[str]: ...

    def upsert_alerts(self, alerts: Sequence[Any]) -> int: ...

    def close(self) -> None: ...


class EscalationSink(Protocol):
    """Where escalations of repeated abusive private messages go (``store.dm.EscalationStore``)."""

    def upsert(self, escalations: Sequence[Escalation]) -> int: ...


def dm_limits(settings: Settings, lateness_s: float = DEFAULT_LATENESS_S) -> DmLimits:
    """The private-message rules' numbers from the settings (``protection.dm``)."""
    return DmLimits(
        per_recipient=settings.dm_rate_per_recipient,
        per_recipient_window_s=settings.dm_rate_per_recipient_window_s,
        per_sender=settings.dm_rate_per_sender,
        per_sender_window_s=settings.dm_rate_per_sender_window_s,
        abuse_threshold=settings.dm_abuse_escalate_after,
        abuse_window_s=settings.dm_abuse_window_s,
        unanswered_expiry_s=settings.dm_unanswered_expiry_days * 86_400.0,
        lateness_s=lateness_s,
    )


@dataclass(slots=True)
class IngestResult:
    """What one ``ingest`` did. ``received == len(new_ids) + duplicates + len(conflicts)
    + len(future) + len(waiting) (+ len(errors) for submit)``; offline, events that waited in an
    earlier batch may be among ``new_ids`` too."""

    received: int
    new_ids: list[str]
    duplicates: int
    alerts: list[Alert]  # every emission (raise or escalation), in the order behaviour made them
    errors: list[dict[str, Any]] = field(default_factory=list)  # per bad event (``submit`` only)
    late: list[str] = field(default_factory=list)  # stored, not fed to behaviour (too late)
    conflicts: list[str] = field(default_factory=list)  # id stored with another text: not stored
    future: list[tuple[str, str]] = field(default_factory=list)  # online: (id, why) refused
    waiting: int = 0  # offline: events far ahead of the watermark, waiting for a quorum
    # one per fresh event (new_ids), in arrival order: what the active policy decided
    decisions: list[Decision] = field(default_factory=list)
    # shadow mode: the candidate policy's decisions (recorded, never answered)
    shadow_decisions: list[Decision] = field(default_factory=list)
    # repeated abusive private messages raised or updated by this batch (protection.dm)
    escalations: list[Escalation] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return len(self.new_ids)


@dataclass(slots=True)
class PipelineStats:
    """Running totals, with the seconds each stage took (where the time goes)."""

    batches: int = 0
    received: int = 0
    new: int = 0
    duplicates: int = 0
    alerts: int = 0
    unstored_alerts: int = 0
    checkpoints: int = 0  # behaviour state saved to the store
    late: int = 0  # stored but not fed to behaviour: behind the clock by more than the lateness
    future: int = 0  # refused (online) or set aside (offline): too far ahead to move the clock
    conflicts: int = 0  # an event_id already stored with another text
    resumed: int = 0  # events fed to behaviour again on start (stored after the last checkpoint)
    screen_s: float = 0.0
    store_s: float = 0.0
    behaviour_s: float = 0.0
    alerts_s: float = 0.0
    decisions: int = 0
    decide_s: float = 0.0  # deciding, storing the decisions included

    def to_dict(self) -> dict[str, float | int]:
        return {name: getattr(self, name) for name in self.__slots__}


class Pipeline:
    """Screens, stores and watches batches of events; see the module docstring for guarantees."""

    def __init__(
        self,
        *,
        screener: Screening,
        behaviour: Behaviour,
        store: AlertStore,
        clock: EventClock | None = None,
        keep_text: bool = True,
        batch_size: int = DEFAULT_BATCH,
        checkpoint_every: int = CHECKPOINT_EVERY,
        persist_behaviour: bool = True,
        text_retention_days: float | None = None,
        gate: WallGate | WatermarkGate | None = None,
        wall: WallClock = wall_clock,
        lateness_s: float | None = None,
        policy: PolicyLike | None = None,
        shadow_policy: PolicyLike | None = None,
        decide: bool = True,
        actions: AlertActions | None = None,
        dm: DmGuard | None = None,
        dm_rules: bool = True,
        escalations: EscalationSink | None = None,
        people: PeopleBook | None = None,
        mcn: McnDesk | None = None,
        review: ReviewIntake | None = None,
        enforcer: Enforcer | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.screener = screener
        self.behaviour = behaviour
        self.store = store
        self.clock = clock if clock is not None else EventClock()
        self.keep_text = keep_text
        self.batch_size = batch_size
        self.stats = PipelineStats()
        self.checkpoint_every = checkpoint_every
        self.persist_behaviour = persist_behaviour
        self.wall = wall
        self.gate = gate if gate is not None else WallGate(DEFAULT_SKEW_S, wall)
        self.lateness_s = lateness_s if lateness_s is not None else _lateness_of(behaviour)
        self.retention = TextRetention.of(store, text_retention_days, wall=wall)
        # decisions at ingest: the active policy (a holder follows its file), a shadow candidate
        self.policy: PolicyLike = policy if policy is not None else default_policy()
        self.shadow_policy: PolicyLike | None = shadow_policy
        self.decide = decide  # False: no decision step (the benchmark's baseline)
        self._undecided: list[DecisionRecord] = []  # decisions the store has not taken yet
        self.set_aside: list[str] = []  # offline: ids never admitted (too far ahead, not vouched for)
        self.resumed_alerts: list[Alert] = []  # raised again by ``resume`` (for ``replay --out``)
        self._lock = threading.RLock()
        self._unsaved: dict[str, Alert] = {}  # alerts the store has not taken yet, by alert_id
        self.actions = actions  # feed actions from alerts (pipeline.actions); None: no feed
        self._unplanned: list[Alert] = []  # emissions stored but not yet planned into the feed
        self.people = people  # key groups and shields (pipeline.protection); None: no protection
        self.mcn = mcn  # MCN joint handling (pipeline.mcn): membership from authors; None: none
        self._since_checkpoint = 0
        # private messages (protection.dm): the rules' state, checkpointed with behaviour, and
        # where escalations go (kept for the next batch when the store fails)
        self.dm: DmGuard | None = (dm if dm is not None else DmGuard()) if dm_rules else None
        self.escalations = escalations
        self._unescalated: dict[str, Escalation] = {}
        self.review = review  # the staff review queue (pipeline.review); None: nothing queued
        # violations and sanctions (pipeline.enforce); None: no enforcement
        self.enforcer = enforcer

    @classmethod
    def open(
        cls,
        settings: Settings,
        *,
        screener: Screening | None = None,
        behaviour: Behaviour | None = None,
        batch_size: int = DEFAULT_BATCH,
        persist_behaviour: bool = True,
        offline: bool = False,
        wall: WallClock = wall_clock,
        policy: PolicyLike | None = None,
        shadow_policy: PolicyLike | None = None,
    ) -> Pipeline:
        """The embedded defaults: the store at ``settings.database_url`` (migrated), in-memory behaviour,
        the action feed in the same database (alerts planned into it with the pipeline's policy).

        ``persist_behaviour=False``: no checkpoint is read or written (a process that only reads
        the store while workers own the behaviour state, e.g. the API in scale-out mode).
        ``offline``: events come from a file (``replay``), judged against the stream's watermark
        rather than the wall clock (see ``pipeline.clock``).
        ``policy`` / ``shadow_policy``: what decides each fresh event (default: ``settings.policy_file``
        followed for edits, else the default policy) and the shadow candidate (default:
        ``settings.shadow_policy_file``, if set).
        """
        if policy is None:
            policy = PolicyHolder(settings.policy_file) if settings.policy_file is not None else None
        if shadow_policy is None and settings.shadow_policy_file is not None:
            shadow_policy = PolicyHolder(settings.shadow_policy_file)
        gate: WallGate | WatermarkGate = (
            WatermarkGate(settings.replay_horizon_s, settings.replay_quorum)
            if offline
            else WallGate(settings.max_clock_skew_s, wall)
        )
        store = EventStore.open(settings.database_url)
        try:
            pipeline = cls(
                screener=screener if screener is not None else Screener.default(),
                behaviour=behaviour if behaviour is not None else BehaviourEngine(),
                store=store,
                keep_text=settings.keep_text,
                batch_size=batch_size,
                persist_behaviour=persist_behaviour,
                text_retention_days=settings.text_retention_days,
                gate=gate,
                wall=wall,
                policy=policy,
                shadow_policy=shadow_policy,
                dm=DmGuard(dm_limits(settings)),
                escalations=EscalationStore(store.engine),
            )
            active = pipeline  # the feed is planned with the policy that decides (one version)
            people = PeopleBook(PeopleStore(store.engine), extra_groups=settings.extra_key_groups)
            pipeline.people = people
            feed = ActionFeed(store.engine)
            pipeline.actions = AlertActions(feed, store, lambda: compiled(active.policy), protection=people)
            if settings.audit_automated:  # what cvguard does by itself, in the audit trail
                store.decisions_audit = feed.audit = people.audit = AuditLog(store.engine)
            pipeline.mcn = McnDesk(
                McnStore(store.engine), feed, audit=AuditLog(store.engine),
                thresholds=mcn_thresholds(settings),
            )
            # the review queue; a person's content decision keeps the feed's re-decisions off it
            review = ReviewStore(store.engine)
            pipeline.review = ReviewIntake(review, minor=lambda u: "minor" in people.groups_of(u))
            pipeline.actions.people_decided = review.person_decided
            # enforcement: the ledger cached in memory, sanctions into the feed and the audit trail
            ladder = load_ladder(settings.ladder_file) if settings.ladder_file is not None else None
            pipeline.enforcer = Enforcer(
                Ledger(EnforcementStore(store.engine), ladder=ladder), feed=pipeline.actions.feed,
                audit=AuditLog(store.engine),
            )
            # MCN joint handling counts every violation confirmed and reversed (pipeline.mcn)
            pipeline.enforcer.listeners.append(pipeline.mcn)
            pipeline.resume()
        except BaseException:
            store.close()
            raise
        return pipeline

    def close(self) -> None:
        with self._lock:
            try:
                self._save_alerts([])
                self.checkpoint()
            finally:
                self.store.close()

    # -- behaviour across restarts --------------------------------------------------------------

    def _persisted(self) -> tuple[SnapshotStore, BehaviourEngine] | None:
        """The store and engine to checkpoint, when this pipeline keeps behaviour across restarts
        (a store that keeps no snapshots, or a twin behaviour, has none to write or restore)."""
        store, behaviour = self.store, self.behaviour
        if not self.persist_behaviour:
            return None
        if isinstance(store, SnapshotStore) and isinstance(behaviour, BehaviourEngine):
            return store, behaviour
        return None

    def checkpoint(self) -> bool:
        """Save the behaviour state to the store (with what it covers); False if it cannot be.

        Called every ``checkpoint_every`` new events and on ``close``. What a crash loses since
        the last checkpoint is rebuilt by ``resume`` from the events stored after it.
        """
        with self._lock:
            persisted = self._persisted()
            if persisted is None:
                return False
            store, behaviour = persisted
            through = store.last_ingested_at()
            if through is None:
                return False
            state = {
                "engine": behaviour.save(),
                "clock": self.clock.now().isoformat() if self.clock.started else None,
                "dm": self.dm.save() if self.dm is not None else None,
                # protection's early signal (pipeline.protection): the last minutes of abuse per person
                "early": self.people.early.save() if self.people is not None else None,
            }
            data = zlib.compress(json.dumps(state, separators=(",", ":")).encode(), 1)
            store.save_snapshot(SNAPSHOT_NAME, data, through=through, fmt=SNAPSHOT_FORMAT)
            self._since_checkpoint = 0
            self.stats.checkpoints += 1
            return True

    def resume(self) -> int:
        """Load the last checkpoint, then feed behaviour the events stored after it (or, with no
        checkpoint, those of the last ``RESUME_WITHOUT_CHECKPOINT``); returns how many were fed.

        Alerts this raises again are upserted, which changes nothing already stored.
        """
        with self._lock:
            persisted = self._persisted()
            if persisted is None:
                return 0
            store, behaviour = persisted
            snapshot = store.load_snapshot(SNAPSHOT_NAME)
            after: datetime | None = None
            since: datetime | None = None
            if snapshot is not None and snapshot.format == SNAPSHOT_FORMAT:
                state = json.loads(zlib.decompress(snapshot.data))
                behaviour.restore(state["engine"])
                if state["clock"] is not None:
                    self.clock.advance(datetime.fromisoformat(state["clock"]))
                if self.dm is not None and state.get("dm") is not None:
                    self.dm.restore(state["dm"])
                if self.people is not None and state.get("early") is not None:
                    self.people.early.restore(state["early"])
                after = snapshot.through
            else:
                newest = store.last_occurred_at()
                if newest is None:
                    return 0
                since = newest - RESUME_WITHOUT_CHECKPOINT
            fed = 0
            for chunk in store.events_since(ingested_after=after, occurred_from=since):
                on_time, _late = self._split_late(chunk)
                alerts = behaviour.process_many(on_time, batch=self.batch_size)
                for event, _ in on_time:
                    self.clock.advance(event.occurred_at)
                if self.people is not None and on_time:  # prompts lost in a crash: the same keys
                    self.people.watch(on_time, None if self.actions is None else self.actions.feed, alerts)
                self._save_alerts(alerts)
                self._save_escalations(self._observe_dms(chunk))
                self.resumed_alerts.extend(alerts)
                fed += len(chunk)
            self.stats.resumed += fed
            if fed:
                log.info("behaviour resumed: %d events stored after the last checkpoint fed again", fed)
            return fed

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- ingest ---------------------------------------------------------------------------------

    def submit(self, raws: Sequence[Any]) -> IngestResult:
        """Untrusted JSON objects in: the good ones are ingested, every bad one is reported."""
        good, bad = parse_events(list(raws))
        result = self.ingest(good) if good else IngestResult(0, [], 0, [])
        result.received += len(bad)
        result.errors = bad
        return result

    def ingest(self, events: Sequence[Event]) -> IngestResult:
        """One batch of validated events, in arrival order (any size; the store chunks its writes)."""
        with self._lock:
            stats = self.stats
            if self._since_checkpoint >= self.checkpoint_every:
                # due after the last batch; taken now that its alerts were handed on (replay --out)
                self.checkpoint()
            admitted, future = self._admit(events)
            step = store_screened(self.screener, self.store, admitted, keep_text=self.keep_text)
            new_ids, conflicts = step.new_ids, step.conflicts
            t2 = time.perf_counter()
            fresh = step.fresh
            on_time, late = self._split_late(fresh)
            alerts = self.behaviour.process_many(on_time, batch=self.batch_size) if on_time else []
            for event, _ in on_time:
                self.clock.advance(event.occurred_at)
            t3 = time.perf_counter()
            if self.people is not None and on_time:  # protection's early signal, before the warning's
                self.people.watch(on_time, None if self.actions is None else self.actions.feed, alerts)
            self._save_alerts(alerts)
            self._since_checkpoint += len(fresh)
            if self.retention is not None and self.clock.started:
                self.retention.advance(self.clock.now())
            t4 = time.perf_counter()
            escalated = self._observe_dms(fresh)  # before deciding: each message judged as of itself
            decisions: list[Decision] = []
            shadow: list[Decision] = []
            if self.decide and fresh:
                # after behaviour saw the whole batch: its alerts count for every event of it
                people = self.people
                if people is not None:
                    people.refresh()  # another process's changes (a poll at most every second)
                enforcer = self.enforcer
                if enforcer is not None:
                    enforcer.ledger.refresh()
                active_policy = compiled(self.policy)  # one version for the batch and its violations
                decided = decide_fresh(
                    active_policy, fresh, self.behaviour,
                    at=self.clock.now() if self.clock.started else None, shadow=self.shadow_policy,
                    dm=self.dm,
                    people=people,
                    standing=None if enforcer is None else enforcer.ledger,
                )
                decisions, shadow = decided.decisions, decided.shadow
                with paused_gc():
                    self._save_decisions(decided.records)
                if self.review is not None:
                    self.review.held(fresh, decisions)
                if people is not None:
                    self._protect(fresh, decisions)
                if enforcer is not None:
                    with paused_gc():  # violations, sanctions and their rows: no cycles, as decisions
                        enforcer.on_decisions(fresh, decided.inputs, decisions, policy=active_policy)
                stats.decisions += len(decisions)
                stats.decide_s += time.perf_counter() - t4
            self._save_escalations(escalated)
            if self.mcn is not None and fresh:  # members from authors (only unseen pairs are written)
                self.mcn.observe(e for e, _ in fresh)
            duplicates = step.duplicates
            waiting = self.gate.waiting if isinstance(self.gate, WatermarkGate) else 0
            stats.batches += 1
            stats.received += len(events)
            stats.new += len(new_ids)
            stats.duplicates += duplicates
            stats.conflicts += len(conflicts)
            stats.late += len(late)
            stats.future += len(future)
            stats.alerts += len(alerts)
            stats.screen_s += step.screen_s
            stats.store_s += step.store_s
            stats.behaviour_s += t3 - t2
            stats.alerts_s += t4 - t3
            return IngestResult(
                len(events), new_ids, duplicates, alerts, late=late, conflicts=conflicts, future=future,
                waiting=waiting, decisions=decisions, shadow_decisions=shadow, escalations=escalated,
            )

    def finish(self) -> IngestResult:
        """The end of an offline stream: events still waiting for a quorum are set aside (ids in
        ``set_aside`` and the result's ``future``), except in a stream too short to reach one,
        whose events around its median time are ingested now (``WatermarkGate.flush``)."""
        with self._lock:
            if not isinstance(self.gate, WatermarkGate):
                return IngestResult(0, [], 0, [])
            admitted, aside = self.gate.flush()
            result = self.ingest(admitted) if admitted else IngestResult(0, [], 0, [])
            result.received = 0  # counted when they arrived
            self.stats.received -= len(admitted)
            self.set_aside.extend(e.event_id for e in aside)
            self.stats.future += len(aside)
            result.future = [(e.event_id, "far ahead of the stream's watermark") for e in aside]
            return result

    def _admit(self, events: Sequence[Event]) -> tuple[list[Event], list[tuple[str, str]]]:
        """The events that may be stored now, and (online) the refused ones with why."""
        gate = self.gate
        if isinstance(gate, WatermarkGate):
            return gate.admit(events), []
        return admit_online(gate, events)

    def _split_late(
        self, items: Sequence[tuple[Event, Verdict]]
    ) -> tuple[list[tuple[Event, Verdict]], list[str]]:
        """(fed to behaviour, ids too late for it): late means more than the detectors' lateness
        behind the newest time fed before it, the same rule the detectors apply themselves."""
        newest = self.clock.now().timestamp() if self.clock.started else -float("inf")
        return split_late(items, newest=newest, lateness_s=self.lateness_s)

    def run(self, batches: Iterable[Sequence[Event]]) -> Iterator[IngestResult]:
        """``ingest`` each batch (a bus, a list of lists...) and yield what it did."""
        for batch in batches:
            yield self.ingest(batch)

    def _save_alerts(self, alerts: Sequence[Alert]) -> None:
        # an episode emitted twice in one batch (raised, then escalated) is written once, newest
        for alert in alerts:
            if _STORABLE is not None and alert.subject_type not in _STORABLE:
                self.stats.unstored_alerts += 1
                continue
            self._unsaved.pop(alert.alert_id, None)
            self._unsaved[alert.alert_id] = alert
        if self._unsaved:
            saved = list(self._unsaved.values())
            self.store.upsert_alerts(saved)  # a StoreError leaves them pending
            self._unsaved.clear()
            if self.review is not None:  # the staff review queue: those at warning or above
                self.review.alerts(saved)
        if self.actions is not None:  # every emission, in order; a failure retries with the next batch
            self._unplanned.extend(alerts)
            if self._unplanned:
                now = self.clock.now() if self.clock.started else None
                self.actions.on_alerts(self._unplanned, now=now, behaviour=self.behaviour)
                self._unplanned.clear()

    def _observe_dms(self, items: Sequence[tuple[Event, Verdict]]) -> list[Escalation]:
        """Feed the private-message rules every new message (late ones too: they count in event
        time); the escalations raised or updated."""
        if self.dm is None or not items:
            return []
        return self.dm.observe(items, now=self.clock.now() if self.clock.started else None)

    def _save_escalations(self, escalations: Sequence[Escalation]) -> None:
        """Write escalations where they go; a failure keeps them for the next batch."""
        for e in escalations:
            log.info("dm escalation %s: %d abusive messages", e.escalation_id, e.count)
            self._unescalated[e.escalation_id] = e  # the newest version of each
        if self.escalations is not None and self._unescalated:
            saved = list(self._unescalated.values())
            self.escalations.upsert(saved)  # a StoreError leaves them pending
            self._unescalated.clear()
            if self.review is not None:
                self.review.escalations(saved)
        elif self.escalations is None:
            self._unescalated.clear()
        if self.enforcer is not None and escalations:
            self.enforcer.on_escalations(escalations)  # the sender's violation, once per escalation
    def _protect(self, fresh: Sequence[tuple[Event, Verdict]], decisions: Sequence[Decision]) -> None:
        """After deciding: what was held back goes to the filtered folders of the people it is aimed
        at; shields within a day of their end get their reminder in the feed (event time)."""
        people = self.people
        assert people is not None
        people.file(fresh, decisions)
        if self.actions is not None and self.clock.started:
            due = people.reminders(self.clock.now())
            if due:
                self.actions.feed.append(due)
                people.reminded(due)

    def _save_decisions(self, records: list[DecisionRecord]) -> None:
        """Record decisions in the store when it keeps them; a failure keeps them for the next batch."""
        store = self.store
        if not isinstance(store, DecisionStore):
            return
        self._undecided.extend(records)
        if self._undecided:
            store.add_decisions(self._undecided)  # a StoreError leaves them pending
            self._undecided = []

    @property
    def pending_alerts(self) -> int:
        """Alerts raised but not yet in the store (the store failed; retried on the next batch)."""
        return len(self._unsaved)

    # -- reads ----------------------------------------------------------------------------------

    def now(self) -> datetime:
        with self._lock:
            return self.clock.now()

    def target_state(self, target_id: str) -> tuple[datetime, TargetState]:
        """The behaviour view of one user as of the event clock (and that time)."""
        with self._lock:
            at = self.clock.now()
            return at, self.behaviour.target_state(target_id, at)

    def topic_state(self, topic_id: str) -> tuple[datetime, TopicState]:
        with self._lock:
            at = self.clock.now()
            return at, self.behaviour.topic_state(topic_id, at)


def _lateness_of(behaviour: object) -> float:
    if isinstance(behaviour, BehaviourEngine):
        cfg = behaviour.config
        return min(cfg.pile_on.lateness_s, cfg.incitement.lateness_s, cfg.brigade.lateness_s,
                   cfg.topic.lateness_s)
    return DEFAULT_LATENESS_S

