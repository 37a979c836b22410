"""Prometheus metrics: what the API (``GET /metrics``) and each worker (``--metrics-port``) expose.

Counts only: no event, user or alert id and no text is ever a label. Most figures are read at
scrape time from the running totals the pipeline and the workers already keep (``PipelineStats``,
``WorkerStats``), by a custom collector, so the hot path pays nothing for them:

    cvguard_events_received_total        events that reached the pipeline (or worker)
    cvguard_events_stored_total          ... of which new (stored)
    cvguard_events_duplicate_total       ... of which already stored (same event_id)
    cvguard_events_late_total            stored, not fed to behaviour (too far behind the clock)
    cvguard_events_refused_total{reason} refused: future (ahead of the clock), conflict, invalid
    cvguard_verdicts_total{violation,category}   verdicts on ingested events (top category)
    cvguard_alerts_emitted_total         alert emissions (raises, escalations)
    cvguard_alerts{kind,level,status}    alerts in the store now
    cvguard_batches_total, cvguard_stage_seconds_total{stage}   batches and where their time went
    cvguard_store_seconds_total          time spent writing batches to the store (latency / batch)
    cvguard_stream_lag{group}, cvguard_stream_pending{group}    scale-out: entries not yet
                                         delivered to / not yet acknowledged by the workers' group
    cvguard_http_requests_total{method,route,status}, cvguard_http_request_seconds{method,route}
    cvguard_plugin_texts_total{outcome}  the model port (only with a plug-in): uncertain texts the
                                         plug-in decided, or the built-in decided and why
                                         (unreachable, timeout, error, malformed, load, skipped)
    cvguard_plugin_calls_total, cvguard_plugin_seconds_total   calls to the plug-in, time in them

Fields are read by name with a default of 0, so a collector works with older or newer stats.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client import Counter as PromCounter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cvguard.verdict import Verdict

# (metric suffix, stats field, help); a missing field reads 0
_EVENT_COUNTERS = (
    ("events_received", "received", "Events that reached the pipeline."),
    ("events_stored", "new", "Events stored (new event ids)."),
    ("events_duplicate", "duplicates", "Events whose event_id was already stored."),
    ("events_late", "late", "Events stored but not fed to behaviour: too far behind the event clock."),
    ("alerts_emitted", "alerts", "Alert emissions (an episode raised or escalated)."),
    ("batches", "batches", "Batches processed."),
)

def _refused(stats: object) -> dict[str, float]:
    """Refusals by reason: future (dated too far ahead of the clock: refused online, set aside
    offline), conflict (an event_id already stored with another text), invalid (a worker's stream
    entry that is not an event; a worker dead-letters future events too, so those are taken out)."""
    future = _field(stats, "future")
    invalid = max(0.0, _field(stats, "dead_letters") - future) if hasattr(stats, "dead_letters") else 0.0
    return {"future": future, "conflict": _field(stats, "conflicts"), "invalid": invalid}

_STAGES = ("screen", "store", "behaviour", "alerts", "read", "submit", "pump")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def _field(stats: object, name: str) -> float:
    value = getattr(stats, name, 0)
    return float(value) if isinstance(value, int | float) else 0.0


class VerdictTally:
    """Verdicts by (violation, top category), counted as the pipeline screens (thread-safe)."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def observe(self, verdicts: Iterable[Verdict]) -> None:
        batch: Counter[tuple[str, str]] = Counter()
        for v in verdicts:
            top = max(v.categories.items(), key=lambda kv: kv[1])[0] if v.violation and v.categories else ""
            batch["true" if v.violation else "false", top or "none"] += 1
        with self._lock:
            self._counts.update(batch)

    def counts(self) -> dict[tuple[str, str], int]:
        with self._lock:
            return dict(self._counts)


class CountingScreening:
    """A screening port that tallies each verdict it returns (wraps the pipeline's screener)."""

    def __init__(self, inner: Any, tally: VerdictTally) -> None:
        self.inner = inner
        self.tally = tally

    def screen_many(self, texts: Sequence[str]) -> list[Verdict]:
        verdicts: list[Verdict] = self.inner.screen_many(texts)
        self.tally.observe(verdicts)
        return verdicts


class StatsCollector(Collector):
    """Reads running totals (``PipelineStats`` / ``WorkerStats``, or None before there are any)
    and the verdict tally at scrape time."""

    def __init__(
        self,
        stats: Callable[[], object | None],
        tally: VerdictTally | None = None,
        aliases: dict[str, str] | None = None,
    ) -> None:
        self._stats = stats
        self._tally = tally
        self._aliases = aliases or {}  # a field's name in these stats, e.g. received -> entries

    def collect(self) -> Iterator[Metric]:
        stats = self._stats()
        for suffix, name, doc in _EVENT_COUNTERS:
            family = CounterMetricFamily(f"cvguard_{suffix}", doc)
            family.add_metric([], _field(stats, self._aliases.get(name, name)))
            yield family
        refused = CounterMetricFamily(
            "cvguard_events_refused", "Events refused or set aside, by reason.", labels=["reason"]
        )
        for reason, n in _refused(stats).items():
            refused.add_metric([reason], n)
        yield refused
        stages = CounterMetricFamily(
            "cvguard_stage_seconds", "Seconds spent in each stage of batch processing.", labels=["stage"]
        )
        for stage in _STAGES:
            if hasattr(stats, f"{stage}_s"):
                stages.add_metric([stage], _field(stats, f"{stage}_s"))
        yield stages
        store = CounterMetricFamily(
            "cvguard_store_seconds", "Seconds spent writing batches to the store (divide by batches)."
        )
        store.add_metric([], _field(stats, "store_s"))
        yield store
        verdicts = CounterMetricFamily(
            "cvguard_verdicts", "Verdicts on ingested events, by violation and top category.",
            labels=["violation", "category"],
        )
        for (violation, category), n in sorted((self._tally.counts() if self._tally else {}).items()):
            verdicts.add_metric([violation, category], n)
        yield verdicts


class AlertsCollector(Collector):
    """Alerts in the store now, by kind, level and status (one GROUP BY a scrape)."""

    def __init__(self, counts: Callable[[], dict[tuple[str, str, str], int] | None]) -> None:
        self._counts = counts

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "cvguard_alerts", "Alerts in the store, by kind, level and status.",
            labels=["kind", "level", "status"],
        )
        for labels, n in sorted((self._counts() or {}).items()):
            family.add_metric(list(labels), n)
        yield family


class StreamCollector(Collector):
    """Scale-out: per consumer group, entries not yet delivered (lag) and delivered but not
    acknowledged (pending), from ``XINFO GROUPS``; nothing when Redis cannot be read."""

    def __init__(self, client: Any, stream: str) -> None:
        self._client = client
        self._stream = stream

    def collect(self) -> Iterator[Metric]:
        lag = GaugeMetricFamily("cvguard_stream_lag", "Stream entries not yet delivered to the group.",
                                labels=["group"])
        pending = GaugeMetricFamily("cvguard_stream_pending", "Entries delivered but not acknowledged.",
                                    labels=["group"])
        length = GaugeMetricFamily("cvguard_stream_length", "Entries in the event stream.")
        try:
            groups = self._client.xinfo_groups(self._stream)
            length.add_metric([], float(self._client.xlen(self._stream)))
        except Exception:  # no stream yet, or Redis unreachable: a scrape must not fail for it
            groups = []
        for g in groups:
            name = g.get("name", b"")
            name = name.decode() if isinstance(name, bytes) else str(name)
            lag.add_metric([name], float(g.get("lag") or 0))
            pending.add_metric([name], float(g.get("pending") or 0))
        yield lag
        yield pending
        yield length


class HttpMetrics:
    """Requests by method, route template (never the raw path: ids stay out) and status, and
    their latency; :class:`HttpMetricsMiddleware` records them."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = PromCounter(
            "cvguard_http_requests", "HTTP requests, by method, route and status.",
            ["method", "route", "status"], registry=registry,
        )
        self.latency = Histogram(
            "cvguard_http_request_seconds", "HTTP request latency, by method and route.",
            ["method", "route"], registry=registry, buckets=LATENCY_BUCKETS,
        )


class HttpMetricsMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = str(scope.get("method", ""))
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - started)


class PluginCollector(Collector):
    """The model port's totals (``detection.port.PortStats``), read at scrape time."""

    def __init__(self, stats: Any) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        snap = self._stats.snapshot()
        texts = CounterMetricFamily(
            "cvguard_plugin_texts", "Uncertain texts: decided by the plug-in, or by the built-in model "
            "and why.", labels=["outcome"],
        )
        texts.add_metric(["decided"], snap["decided"])
        for reason, n in sorted(snap["fallbacks"].items()):
            texts.add_metric([reason], n)
        yield texts
        calls = CounterMetricFamily("cvguard_plugin_calls", "Calls to the plug-in model.")
        calls.add_metric([], snap["calls"])
        yield calls
        seconds = CounterMetricFamily("cvguard_plugin_seconds", "Seconds spent in plug-in calls.")
        seconds.add_metric([], snap["seconds"])
        yield seconds
