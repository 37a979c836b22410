"""The event pipeline: ingest → screen → behaviour → alerts → store, in event time.

    Pipeline       one orchestration over ports (screener, behaviour engine, store); idempotent
    EventClock     "now" is the newest event time seen
    InProcessBus   a bounded queue between producers and the pipeline (back-pressure)
    replay         a JSON-lines file through the pipeline (``cvguard replay``)
"""

from cvguard.pipeline.bus import BusClosed, InProcessBus
from cvguard.pipeline.clock import EventClock
from cvguard.pipeline.engine import DEFAULT_BATCH, IngestResult, Pipeline, PipelineStats
from cvguard.pipeline.replay import ReplaySummary, alert_line, parse_line, replay

__all__ = [
    "DEFAULT_BATCH",
    "BusClosed",
    "EventClock",
    "InProcessBus",
    "IngestResult",
    "Pipeline",
    "PipelineStats",
    "ReplaySummary",
    "alert_line",
    "parse_line",
    "replay",
]
