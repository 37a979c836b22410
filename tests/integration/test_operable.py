"""Operable and discreet: progress logs and metrics for workers and replay; no secret (database or
Redis password) and no raw message text in what cvguard logs or prints."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from apiclient import api_client
from cvguard.api import create_app
from cvguard.cli import _progress_log, app
from cvguard.config import Settings
from cvguard.detection.screen import Screener
from cvguard.errors import StoreError
from cvguard.events import Event
from cvguard.pipeline.redis_bus import FIELD, RedisStreamBus
from cvguard.pipeline.shared_state import SharedBehaviour
from cvguard.pipeline.worker import Worker
from cvguard.progress import ProgressLog
from cvguard.simulate import SimConfig, generate
from cvguard.store import EventStore

SRC = str(Path(__file__).resolve().parents[2] / "src")
SECRET = "s3cretPW"
# texts no log line may carry
TEXTS = ["你这个骗子去死吧 marker-one", "今天的蛋糕真好吃 marker-two"]
runner = CliRunner()


def with_password(url: str) -> str:
    """``url`` with a password (the test server trusts local connections, so it is ignored)."""
    scheme, rest = url.split("://", 1)
    user, host = rest.split("@", 1)
    return f"{scheme}://{user}:{quote(SECRET)}@{host}"


def events(n: int = 2) -> list[dict[str, object]]:
    return [
        {
            "event_id": f"ev-{i}",
            "surface": "comment",
            "occurred_at": "2026-11-24T08:00:00Z",
            "author": {"id": f"u{i}"},
            "text": TEXTS[i % len(TEXTS)],
            "target_ids": ["victim"],
        }
        for i in range(n)
    ]


def test_settings_never_show_a_password() -> None:
    settings = Settings(database_url=f"postgresql://u:{SECRET}@db/cv", redis_url=f"redis://:{SECRET}@r:6379/0")
    for shown in (repr(settings), str(settings), f"{settings}"):
        assert SECRET not in shown and "u:***@db" in shown and ":***@r:6379" in shown


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://u:{SECRET}@127.0.0.1:1/cv",  # unreachable
        f"postgresql://u:{SECRET}@host:notaport/cv",  # not a URL
        f"mysql://u:{SECRET}@127.0.0.1/cv",  # unsupported
    ],
)
def test_cli_errors_never_echo_a_database_password(url: str) -> None:
    result = runner.invoke(app, ["keys", "list", "--db", url])
    assert result.exit_code == 2, result.output
    assert "error:" in result.stderr and SECRET not in result.output


def test_logs_carry_no_password_and_no_text(
    postgres_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    settings = Settings(data_dir=tmp_path, database_url=with_password(postgres_url))
    application = create_app(settings, Screener.default())
    with api_client(application, role="platform") as client:
        bad = {**events(1)[0], "event_id": "bad", "surface": "nowhere"}
        assert client.post("/v1/events", json={"events": [*events(), bad]}).status_code == 207
        client.post("/v1/screen", json={"items": [{"id": 1, "text": t} for t in TEXTS]})
        api_client(application, role="moderator").get("/v1/targets/victim")
        client.get("/metrics")
        logging.getLogger("cvguard").info("settings in use: %s", settings)  # as an operator might
    assert caplog.records  # something was logged at all
    assert SECRET not in caplog.text
    assert not any(t in caplog.text for t in TEXTS)


def test_a_worker_logs_progress_without_texts(redis_url: str, tmp_path: Path,
                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    client = redis.Redis.from_url(redis_url)
    bus = RedisStreamBus(client)
    bus.publish([Event.model_validate(e) for e in events(20)])
    client.xadd(bus.stream, {FIELD: b'{"event_id": "x", "text": "' + TEXTS[0].encode() + b'"}'})
    with EventStore.open(f"sqlite:///{tmp_path / 'w.db'}") as store:
        worker = Worker(bus=bus, behaviour=SharedBehaviour(client), store=store, screener=Screener.default(),
                        group="g", name="w1", batch=5, block_ms=20)
        worker.progress = ProgressLog(logging.getLogger("cvguard.pipeline.worker"), "worker w1", every_s=0)
        worker.run(idle_exit_s=0.2)
    client.close()
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("worker w1:")]
    assert lines and "events (" in lines[-1] and "batches" in lines[-1] and "lag 0 entries" in lines[-1]
    assert lines[-1].startswith("worker w1: 21 events")
    assert not any(t in caplog.text for t in TEXTS)  # the dead-lettered entry's text included


def test_replay_logs_progress_when_there_is_no_terminal(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    summary = SimpleNamespace(events=0, lines=0, alerts=Counter())
    tick = _progress_log("replay", summary, every_s=0)
    for n in range(1, 1025):
        summary.lines, summary.events = n, n - 1
        tick(100)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("replay:")]
    assert len(lines) == 4  # the clock is looked at every 256 lines
    assert lines[-1].startswith("replay: 1023 events (") and "1024 lines read, 0 alerts" in lines[-1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_worker_serves_metrics_on_its_port(redis_url: str, tmp_path: Path) -> None:
    raws = list(generate(SimConfig(seed=5, hours=1, users=300, targets=50, scenarios=("pileon",))))[1:301]
    client = redis.Redis.from_url(redis_url)
    RedisStreamBus(client).publish([Event.model_validate(r) for r in raws])
    port = free_port()
    env = {**os.environ, "PYTHONPATH": SRC, "CVGUARD_DATA_DIR": str(tmp_path)}
    command = [sys.executable, "-m", "cvguard", "worker", "--redis", redis_url, "--metrics-port", str(port),
               "--block-ms", "50"]
    pipe = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT}
    with subprocess.Popen(command, text=True, env=env, **pipe) as proc:  # type: ignore[call-overload]
        try:
            samples: dict[str, float] = {}
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and samples.get("cvguard_events_stored_total") != len(raws):
                time.sleep(0.3)
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                        text = r.read().decode()
                except OSError:
                    continue
                samples = {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples
                           if not s.labels}
        finally:
            proc.terminate()
            out = proc.communicate(timeout=60)[0]
    client.close()
    assert samples.get("cvguard_events_received_total") == len(raws), out
    assert samples["cvguard_events_stored_total"] == len(raws)
    assert "cvguard_stream_length" in samples
    assert f"metrics on port {port}" in out


def test_a_database_error_does_not_carry_the_texts_it_was_writing(postgres_url: str) -> None:
    with EventStore.open(postgres_url) as store:
        ok = Event.model_validate(events(1)[0])
        # an author id with a NUL (the schema would refuse it; built past it here): PostgreSQL
        # refuses the statement, whose values hold the text
        bad = ok.model_copy(update={"author": ok.author.model_copy(update={"id": "u\x00"})})
        with pytest.raises(StoreError) as refused:
            store.add_batch([bad], Screener.default().screen_many([bad.text]), keep_text=True)
    assert "parameters hidden" in str(refused.value) and TEXTS[0] not in str(refused.value)


def test_a_worker_whose_redis_is_unreachable_says_so_without_a_traceback_or_the_password(
    tmp_path: Path,
) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"redis://user:hunter2@127.0.0.1:{port}/0"
    result = CliRunner().invoke(app, ["worker", "--redis", url, "--db", f"sqlite:///{tmp_path}/w.db"])
    assert result.exit_code == 2, result.output
    assert "is unreachable" in result.output and "Traceback" not in result.output
    assert "hunter2" not in result.output and "127.0.0.1" in result.output
