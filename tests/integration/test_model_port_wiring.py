"""The model port from the settings: the API, ``cvguard screen`` and /metrics with an ONNX plug-in,
no plug-in meaning the packaged screener itself, and bad plug-in settings stopping startup."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from apiclient import api_client
from cvguard.api import create_app
from cvguard.cli import app
from cvguard.config import Settings
from cvguard.detection.port import PluginConfigError
from cvguard.detection.screen import Screener
from cvguard.plugin import Plugged, plugged
from plugin_models import BAND, CLEAR, UNSURE, text_model, token_model

runner = CliRunner()
BAND_ENV = f"{BAND[0]},{BAND[1]}"


@pytest.fixture
def model(tmp_path: Path) -> Path:
    # the platform's model calls every uncertain text abusive
    return text_model(tmp_path / "platform.onnx", dict.fromkeys(UNSURE, 0.96), default=0.01)


def test_no_plug_in_is_the_packaged_screener_itself(tmp_path: Path) -> None:
    # nothing wraps it, so screening without a plug-in costs exactly what it did
    assert plugged(Settings(data_dir=tmp_path))() is Screener.default()


def test_the_api_answers_with_the_deciding_model(tmp_path: Path, model: Path) -> None:
    settings = Settings(data_dir=tmp_path, plugin_kind="onnx", plugin_path=model, plugin_band=BAND)
    with api_client(create_app(settings), role="platform") as client:
        items = [{"id": 1, "text": UNSURE[0]}, {"id": 2, "text": CLEAR[0]}]
        r = client.post("/v1/screen", json={"items": items})
        assert r.status_code == 200, r.text
        unsure, clear = r.json()["results"]
        assert unsure["decided_by"] == "platform" and unsure["violation"]
        assert set(unsure["model_scores"]) == {"builtin", "platform"}
        assert clear["decided_by"] == "builtin" and clear["model_scores"] == {}
        metrics = client.get("/metrics").text
    assert 'cvguard_plugin_texts_total{outcome="decided"} 1.0' in metrics
    assert "cvguard_plugin_calls_total 1.0" in metrics


def test_the_openapi_schema_documents_the_new_fields(tmp_path: Path) -> None:
    with api_client(create_app(Settings(data_dir=tmp_path), Screener.default()), role="platform") as client:
        schema = client.get("/openapi.json").json()["components"]["schemas"]["VerdictOut"]
    assert {"decided_by", "model_scores"} <= set(schema["properties"])
    assert "plug-in" in schema["properties"]["model_scores"]["description"]


def test_cvguard_screen_uses_the_plug_in_from_the_settings(model: Path) -> None:
    env = {"CVGUARD_PLUGIN_KIND": "onnx", "CVGUARD_PLUGIN_PATH": str(model), "CVGUARD_PLUGIN_BAND": BAND_ENV}
    result = runner.invoke(app, ["screen", "--json", UNSURE[0]], env=env)
    assert result.exit_code == 0, result.output
    verdict = json.loads(result.stdout)
    assert verdict["decided_by"] == "platform" and verdict["violation"]


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"CVGUARD_PLUGIN_KIND": "onnx"}, "needs plugin_path"),
        ({"CVGUARD_PLUGIN_KIND": "http"}, "needs plugin_url"),
        ({"CVGUARD_PLUGIN_KIND": "tensorflow"}, "CVGUARD_PLUGIN_KIND"),
        ({"CVGUARD_PLUGIN_KIND": "onnx", "CVGUARD_PLUGIN_PATH": "/nowhere/model.onnx"}, "is not a file"),
        ({"CVGUARD_PLUGIN_KIND": "http", "CVGUARD_PLUGIN_URL": "ftp://models"}, "http(s)://"),
        ({"CVGUARD_PLUGIN_BAND": "0.8,0.2"}, "low < high"),
        ({"CVGUARD_PLUGIN_BAND": "half"}, "CVGUARD_PLUGIN_BAND"),
        ({"CVGUARD_PLUGIN_TIMEOUT_MS": "0"}, "CVGUARD_PLUGIN_TIMEOUT_MS"),
    ],
)
def test_bad_plug_in_settings_end_the_command_with_exit_2(env: dict[str, str], says: str) -> None:
    result = runner.invoke(app, ["screen", "你好"], env=env)
    assert result.exit_code == 2, result.output
    assert "error:" in result.stderr and says in result.stderr
    assert "Traceback" not in result.output


def test_a_token_model_without_its_vocabulary_stops_the_api_at_startup(tmp_path: Path) -> None:
    bert = token_model(tmp_path / "bert.onnx", [0.0] * 8)
    with pytest.raises(PluginConfigError, match="CVGUARD_PLUGIN_VOCAB"):
        create_app(Settings(data_dir=tmp_path, plugin_kind="onnx", plugin_path=bert))


def test_the_plug_in_is_built_at_startup_and_the_screener_on_first_use(tmp_path: Path, model: Path) -> None:
    provide = plugged(Settings(data_dir=tmp_path, plugin_kind="onnx", plugin_path=model))
    assert isinstance(provide, Plugged) and provide.scorer.name == "platform"
    assert provide() is provide()  # one cascade per process


def test_a_stored_verdict_keeps_the_model_that_decided_it(
    database_url: str, tmp_path: Path, model: Path
) -> None:
    # what the platform's model decided is stored as such: an event read back (the API's event
    # view, evidence, reviews) still says which model decided and each model's score
    from datetime import UTC, datetime

    from cvguard.events import Author, Event
    from cvguard.pipeline import Pipeline

    settings = Settings(data_dir=tmp_path, database_url=database_url, plugin_kind="onnx", plugin_path=model,
                        plugin_band=BAND)
    at = datetime(2026, 11, 30, 12, tzinfo=UTC)
    events = [Event(event_id=f"e{i}", surface="comment", occurred_at=at, text=text, author=Author(id=f"u{i}"))
              for i, text in enumerate((UNSURE[0], CLEAR[0]))]
    pipeline = Pipeline.open(settings, screener=plugged(settings)(), offline=True)
    try:
        pipeline.ingest(events)
        pipeline.finish()  # past the watermark
        unsure, clear = (pipeline.store.get_event(e.event_id) for e in events)
    finally:
        pipeline.close()
    assert unsure is not None and unsure.verdict is not None
    assert clear is not None and clear.verdict is not None
    assert unsure.verdict.decided_by == "platform"
    assert set(unsure.verdict.model_scores) == {"builtin", "platform"}
    assert unsure.verdict.model_scores["platform"] == pytest.approx(0.96, abs=1e-3)
    assert unsure.verdict.to_dict()["decided_by"] == "platform"
    assert clear.verdict.decided_by == "builtin" and clear.verdict.model_scores == {}
