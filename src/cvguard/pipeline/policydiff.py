"""``cvguard policy diff``: replay a file of events in memory, deciding with two policies.

The events go through what ingest does — the packaged screener, a fresh :class:`BehaviourEngine`,
a :class:`MemoryStore`-backed :class:`Pipeline` with the offline clock rules (the file's own
watermark) — with the active policy deciding and the candidate in shadow. Every decision pair is
counted by surface and action change (``policy.diff_pairs``); nothing is written anywhere.
"""

from __future__ import annotations

from typing import IO

from cvguard.behavior import BehaviourEngine
from cvguard.config import Settings
from cvguard.pipeline.clock import WatermarkGate
from cvguard.pipeline.engine import DEFAULT_BATCH, IngestResult, Pipeline
from cvguard.pipeline.ingest import Screening
from cvguard.pipeline.replay import ReplaySummary, read_batches
from cvguard.policy import CompiledPolicy, Decision, PolicyDiff, diff_pairs
from cvguard.store.memory import MemoryStore


def diff_replay(
    src: IO[bytes],
    active: CompiledPolicy,
    candidate: CompiledPolicy,
    *,
    settings: Settings,
    screener: Screening | None = None,
    batch_size: int = DEFAULT_BATCH,
    examples: int = 3,
) -> PolicyDiff:
    """How ``candidate``'s decisions about the events in ``src`` differ from ``active``'s."""
    if screener is None:
        from cvguard.detection.screen import Screener

        screener = Screener.default()
    pipeline = Pipeline(
        screener=screener,
        behaviour=BehaviourEngine(),
        store=MemoryStore(),
        keep_text=False,
        batch_size=batch_size,
        persist_behaviour=False,
        gate=WatermarkGate(settings.replay_horizon_s, settings.replay_quorum),
        policy=active,
        shadow_policy=candidate,
    )
    pairs: list[tuple[Decision, Decision]] = []

    def collect(result: IngestResult) -> None:
        pairs.extend(zip(result.decisions, result.shadow_decisions, strict=True))

    with pipeline:
        for batch in read_batches(src, batch_size=batch_size, tally=ReplaySummary()):
            collect(pipeline.ingest(batch))
        collect(pipeline.finish())
    return diff_pairs(active.version, candidate.version, pairs, examples=examples)
