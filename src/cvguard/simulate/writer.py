"""The stream on disk: delivery order, the truth header, JSON lines, and reading it back.

File format (``cvguard-simulate/1``): UTF-8 JSON lines. Line 1 is the ground truth,
``{"kind": "truth", "format", "config", "start", "end", "incidents": [...], "non_incidents": [...]}``;
every other line is one Event (``cvguard.events``). Events are in ``occurred_at`` order except for
the share ``out_of_order`` that arrive late (up to ``max_delay_s`` after their event time), as a real
feed delivers them. Readers of events skip the truth line (it has ``"kind"``, which no Event has).
"""

from __future__ import annotations

import heapq
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from random import Random
from typing import IO, Any

from cvguard.errors import InputError
from cvguard.simulate.emit import Item
from cvguard.simulate.plan import SimConfig, Simulation

_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def deliver(
    items: Iterator[Item], rng: Random, *, late: float, max_delay_ms: int
) -> Iterator[dict[str, Any]]:
    """``items`` in arrival order: a share ``late`` is held back by up to ``max_delay_ms``."""
    held: list[tuple[int, int, dict[str, Any]]] = []  # (arrives at, sequence, event)
    seq = 0
    for t, event in items:
        while held and held[0][0] <= t:
            yield heapq.heappop(held)[2]
        if late and rng.random() < late:
            seq += 1
            heapq.heappush(held, (t + rng.randint(1, max_delay_ms), seq, event))
        else:
            yield event
    while held:
        yield heapq.heappop(held)[2]


def events(config: SimConfig) -> tuple[dict[str, Any], Iterator[dict[str, Any]]]:
    """The truth header and the events in delivery order."""
    sim = Simulation(config)
    stream = deliver(
        sim.items(), Random(f"{config.seed}/delivery"), late=config.out_of_order,
        max_delay_ms=max(1, int(config.max_delay_s * 1000)),
    )
    return sim.truth, stream


def generate(config: SimConfig) -> Iterator[dict[str, Any]]:
    """Every line of the file as a dict: the truth header first, then the events."""
    truth, stream = events(config)
    yield truth
    yield from stream


@dataclass(slots=True)
class WriteSummary:
    events: int
    incidents: int
    non_incidents: int
    bytes: int


def write_stream(config: SimConfig, out: IO[bytes]) -> WriteSummary:
    truth, stream = events(config)
    size = out.write(_DUMPS(truth).encode("utf-8") + b"\n")
    count = 0
    chunk: list[str] = []
    for event in stream:
        chunk.append(_DUMPS(event))
        if len(chunk) >= 2048:
            size += out.write(("\n".join(chunk) + "\n").encode("utf-8"))
            count += len(chunk)
            chunk.clear()
    if chunk:
        size += out.write(("\n".join(chunk) + "\n").encode("utf-8"))
        count += len(chunk)
    out.flush()
    return WriteSummary(count, len(truth["incidents"]), len(truth["non_incidents"]), size)


def write_file(config: SimConfig, path: str | Path) -> WriteSummary:
    """Writes the stream to ``path`` (``"-"``: stdout)."""
    config.check()  # before the file is created
    if str(path) == "-":
        return write_stream(config, sys.stdout.buffer)
    try:
        with Path(path).open("wb") as out:
            return write_stream(config, out)
    except OSError as exc:
        raise InputError(f"{exc.filename}: {exc.strerror}") from None


def read_truth(path: str | Path) -> dict[str, Any]:
    """The ground-truth header of a simulated stream."""
    try:
        with Path(path).open("rb") as src:
            first = src.readline()
    except OSError as exc:
        raise InputError(f"{exc.filename}: {exc.strerror}") from None
    try:
        truth = json.loads(first)
    except json.JSONDecodeError:
        truth = None
    if not isinstance(truth, dict) or truth.get("kind") != "truth":
        raise InputError(f"{path}: line 1 is not a cvguard-simulate truth header")
    return truth


def is_truth(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("kind") == "truth"


def read_events(path: str | Path) -> Iterator[dict[str, Any]]:
    """The event dicts of a simulated stream, truth header skipped (not validated)."""
    with Path(path).open("rb") as src:
        for line in src:
            if line.strip():
                obj = json.loads(line)
                if not is_truth(obj):
                    yield obj
