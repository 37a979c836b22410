"""``GET /metrics``: Prometheus counts of events, verdicts, alerts, refusals, lag and latency."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from apiclient import ApiClient, api_client
from cvguard.api import create_app
from cvguard.config import Settings
from cvguard.detection.screen import Screener
from cvguard.simulate import SimConfig, generate

CONFIG = SimConfig(seed=3, hours=2, users=300, targets=100, scenarios=("pileon",))


def scrape(client: ApiClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", headers={"Authorization": ""})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_count_events_verdicts_alerts_and_requests(tmp_path: Path) -> None:
    lines = list(generate(CONFIG))
    events = lines[1:]
    app = create_app(Settings(data_dir=tmp_path), Screener.default())
    with api_client(app, role="platform") as client:
        anonymous = api_client(app, role=None)
        before = scrape(anonymous)  # open: a Prometheus scrape carries no key
        assert value(before, "cvguard_events_received_total") == 0
        raised = 0
        for i in range(0, len(events), 1000):
            reply = client.post("/v1/events", json={"events": events[i : i + 1000]})
            assert reply.status_code == 200
            raised += len(reply.json()["alerts"])
        client.post("/v1/events", json={"events": events[:10]})  # a retry: duplicates
        api_client(app, role="moderator").get(f"/v1/targets/{lines[0]['incidents'][0]['target_id']}")
        after = scrape(anonymous)
        text = anonymous.get("/metrics").text

    assert value(after, "cvguard_events_received_total") == len(events) + 10
    assert value(after, "cvguard_events_stored_total") == len(events)
    assert value(after, "cvguard_events_duplicate_total") == 10
    assert value(after, "cvguard_alerts_emitted_total") == raised > 0
    verdicts = {k: v for k, v in after.items() if k[0] == "cvguard_verdicts_total"}
    assert sum(verdicts.values()) == len(events) + 10
    abusive = sum(v for (_, labels), v in verdicts.items() if ("violation", "true") in labels)
    assert 0 < abusive < len(events)
    assert all(dict(labels)["category"] != "none" for (_, labels), _ in verdicts.items()
               if ("violation", "true") in labels)
    stored = {dict(labels)["kind"] for (name, labels), _ in after.items() if name == "cvguard_alerts"}
    assert "pile_on" in stored
    assert value(after, "cvguard_store_seconds_total") > 0 and value(after, "cvguard_batches_total") >= 2
    assert value(after, "cvguard_events_refused_total", reason="future") == 0  # the series exists
    assert ("cvguard_events_refused_total", (("reason", "future"),)) in after
    # requests by route template: the target id is not a label (no ids, no texts in metrics)
    assert value(after, "cvguard_http_requests_total", method="POST", route="/v1/events", status="200") >= 3
    assert value(after, "cvguard_http_requests_total", method="GET", route="/v1/targets/{target_id}",
                 status="200") == 1
    assert lines[0]["incidents"][0]["target_id"] not in text
    assert not any(e["text"] in text for e in events if len(e["text"]) > 3)


def test_metrics_report_the_workers_stream_lag(redis_url: str, tmp_path: Path) -> None:
    events = list(generate(CONFIG))[1:200]
    app = create_app(Settings(data_dir=tmp_path, redis_url=redis_url), Screener.default())
    with api_client(app, role="platform") as client:
        assert client.post("/v1/events", json={"events": events}).status_code == 202
        samples = scrape(client)
    assert value(samples, "cvguard_stream_lag", group="cvguard-workers") == len(events)
    assert value(samples, "cvguard_stream_pending", group="cvguard-workers") == 0
    assert value(samples, "cvguard_stream_length") == len(events)
