"""Replay: a JSON-lines file of events pushed through the whole pipeline, in event time.

A reader thread parses lines into batches and publishes them on a bounded :class:`InProcessBus`
(it blocks when the pipeline falls behind); the calling thread ingests each batch and hands the
alerts it raised to ``on_alerts``. Lines with a ``"kind"`` key (the simulator's ground-truth
header) are skipped; blank lines too. A malformed line stops the reader: everything before it is
ingested and its alerts handed over, then ``InputError("line N: ...")`` is raised.

Time (``pipeline.clock``): the pipeline should be opened ``offline``, so that the stream's own
watermark judges each event: one far ahead of it (a 2099 typo) waits for a quorum of later events
and is set aside at the end if none vouch for it (``ReplaySummary.set_aside``). Events more than
the detectors' lateness behind the clock are stored but not fed to behaviour (``late``). Alerts that
``resume`` raised again on opening (a crashed run's tail) are handed to ``on_alerts`` first.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from pydantic import ValidationError

from cvguard.behavior import Alert
from cvguard.errors import InputError
from cvguard.events import Event, clean_text
from cvguard.pipeline.bus import BusClosed, InProcessBus
from cvguard.pipeline.engine import IngestResult, Pipeline
from cvguard.policy import Decision

QUEUE_BATCHES = 8  # batches parsed ahead of the pipeline before the reader blocks
# "N": SIGKILL the process once the N-th batch is stored, before its alerts are handed over (tests)
FAULT_ENV = "CVGUARD_REPLAY_FAULT"
SHOWN_IDS = 100  # ids listed per kind in the summary (the counts are exact)


@dataclass(slots=True)
class ReplaySummary:
    lines: int = 0  # lines read, header and blanks included
    events: int = 0  # valid events ingested
    new: int = 0
    duplicates: int = 0
    late: list[str] = field(default_factory=list)  # stored, not fed to behaviour (too late)
    set_aside: list[str] = field(default_factory=list)  # far ahead of the watermark: not applied
    conflicts: list[str] = field(default_factory=list)  # id already stored with another text
    alerts: Counter[tuple[str, str]] = field(default_factory=Counter)  # (kind, level) → emissions
    seconds: float = 0.0

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        by_kind: dict[str, dict[str, int]] = {}
        for (kind, level), n in sorted(self.alerts.items()):
            by_kind.setdefault(kind, {})[level] = n
        return {
            "events": self.events,
            "new": self.new,
            "duplicates": self.duplicates,
            "late": len(self.late),
            "late_ids": self.late[:SHOWN_IDS],
            "set_aside": len(self.set_aside),
            "set_aside_ids": self.set_aside[:SHOWN_IDS],
            "conflicts": len(self.conflicts),
            "conflict_ids": self.conflicts[:SHOWN_IDS],
            "alerts": sum(self.alerts.values()),
            "alerts_by_kind": by_kind,
            "seconds": round(self.seconds, 3),
            "events_per_s": round(self.events_per_s, 1),
        }


def parse_line(number: int, raw: bytes) -> Event | None:
    """One line: an Event, or None for a blank line or a header (an object with ``"kind"``)."""
    if not raw.strip():
        return None
    if b'"kind"' in raw:  # rare: only then pay for a second parse to spot the header
        obj = _loads(raw)
        if isinstance(obj, dict) and "kind" in obj:
            return None
    try:
        return Event.model_validate_json(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        if err["type"] != "json_invalid":
            raise _line_error(number, err) from None
        # Python's parser takes what the fast one refuses in a text that is still JSON (a lone
        # surrogate escape, which the event cleans as screening does); anything else is not JSON
        obj = _loads(raw)
        if obj is None:
            if "recursion" in str(err["msg"]):
                raise InputError(f"line {number}: not valid JSON (nested too deeply)") from None
            raise InputError(f"line {number}: not valid JSON ({err['msg']})") from None
    try:
        return parse_event_object(obj)
    except ValidationError as exc:
        raise _line_error(number, exc.errors()[0]) from None


def parse_event_object(obj: Any) -> Event:
    return Event.model_validate(clean_text(obj))


def _loads(raw: bytes) -> Any:
    """The JSON value of ``raw``, or None if it is not JSON (too deeply nested included)."""
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        return None


def _line_error(number: int, err: Any) -> InputError:
    where = ".".join(str(p) for p in err["loc"]) or "(event)"
    msg = str(err["msg"]).removeprefix("Value error, ")
    return InputError(f"line {number}: {where}: {msg}", field=where)


def read_batches(src: IO[bytes], *, batch_size: int, tally: ReplaySummary,
                 progress: Callable[[int], None] | None = None) -> Iterator[list[Event]]:
    """Batches of events from ``src``; a bad line raises after the batch before it was yielded."""
    batch: list[Event] = []
    for raw in src:
        tally.lines += 1
        if progress is not None:
            progress(len(raw))
        try:
            event = parse_line(tally.lines, raw)
        except InputError:
            if batch:
                yield batch
            raise
        if event is not None:
            batch.append(event)
            if len(batch) >= batch_size:
                yield batch
                batch = []
    if batch:
        yield batch


def replay(
    pipeline: Pipeline,
    src: IO[bytes],
    *,
    on_alerts: Callable[[Sequence[Alert]], None],
    progress: Callable[[int], None] | None = None,
    summary: ReplaySummary | None = None,
    queue_batches: int = QUEUE_BATCHES,
    crash_after: int | None = None,
    on_decisions: Callable[[Sequence[Decision]], None] | None = None,
) -> ReplaySummary:
    """Replays ``src`` through ``pipeline``; ``summary`` (if given) is filled in even on error.

    ``crash_after``: kill the process (SIGKILL) after that many batches were stored, before their
    alerts reach ``on_alerts``, as a crash would (``FAULT_ENV``; tests of resuming).
    ``on_decisions``: handed each batch's decisions (one per new event, after its alerts).
    """
    tally = summary if summary is not None else ReplaySummary()
    bus: InProcessBus[list[Event]] = InProcessBus(queue_batches)

    def read() -> None:
        try:
            for batch in read_batches(src, batch_size=pipeline.batch_size, tally=tally, progress=progress):
                bus.publish(batch)
        except BusClosed:
            return
        except BaseException as exc:  # handed to the consumer, which raises it after the earlier batches
            bus.close(exc)
            return
        bus.close()

    started = time.perf_counter()
    resumed, pipeline.resumed_alerts = pipeline.resumed_alerts, []
    if resumed:  # a crashed run's alerts, raised again on opening: they belong in the output too
        _count(tally, IngestResult(0, [], 0, resumed))
        on_alerts(resumed)
    reader = threading.Thread(target=read, name="cvguard-replay-reader", daemon=True)
    reader.start()
    try:
        try:
            for n, result in enumerate(pipeline.run(bus), start=1):
                if n == crash_after:
                    os.kill(os.getpid(), signal.SIGKILL)
                _count(tally, result)
                if result.alerts:
                    on_alerts(result.alerts)
                if result.decisions and on_decisions is not None:
                    on_decisions(result.decisions)
        except InputError:
            _finish(pipeline, tally, on_alerts, on_decisions)  # a bad line: the good ones before it are kept
            raise
        _finish(pipeline, tally, on_alerts, on_decisions)
    finally:
        bus.cancel()
        reader.join()
        tally.seconds = time.perf_counter() - started
    return tally


def _finish(
    pipeline: Pipeline,
    tally: ReplaySummary,
    on_alerts: Callable[[Sequence[Alert]], None],
    on_decisions: Callable[[Sequence[Decision]], None] | None = None,
) -> None:
    """The end of the stream: what waited for a quorum is ingested or set aside."""
    result = pipeline.finish()
    _count(tally, result)
    if result.alerts:
        on_alerts(result.alerts)
    if result.decisions and on_decisions is not None:
        on_decisions(result.decisions)


def _count(tally: ReplaySummary, result: IngestResult) -> None:
    tally.events += result.received
    tally.new += len(result.new_ids)
    tally.duplicates += result.duplicates
    tally.late.extend(result.late)
    tally.conflicts.extend(result.conflicts)
    tally.set_aside.extend(i for i, _ in result.future)
    for alert in result.alerts:
        tally.alerts[(alert.kind, alert.level)] += 1


def alert_line(alert: Alert) -> dict[str, Any]:
    """An alert as one ALERTS.jsonl line: subject, kind, level, times, evidence, event ids."""
    return alert.to_dict()
