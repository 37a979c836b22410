"""The model port: the cascade sends the built-in model's uncertain texts to the platform's own
model (an ONNX file the tests build, or an HTTP service the tests run), names the model that
decided, and falls back to the built-in model, saying so, whenever the plug-in fails."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from cvguard.config import Settings
from cvguard.detection.onnx_scorer import OnnxScorer, _probabilities
from cvguard.detection.port import CascadeScreener, PluginFailure, valid_scores
from cvguard.detection.screen import Screener
from cvguard.detection.wordpiece import WordPiece
from cvguard.plugin import HttpScorer, Plugged, plugged
from plugin_models import BAND, CLEAR, UNSURE, text_model, token_model


class Counted:
    """A scorer that counts what it was asked (wraps a real one)."""

    def __init__(self, inner: OnnxScorer | HttpScorer) -> None:
        self.inner = inner
        self.name = inner.name
        self.version = inner.version
        self.asked: list[list[str]] = []

    def score(self, texts: Sequence[str]) -> Sequence[float]:
        self.asked.append(list(texts))
        return self.inner.score(texts)


@pytest.fixture
def lookup(tmp_path: Path) -> OnnxScorer:
    # the plug-in calls the first uncertain text abusive and every other one safe
    scores = dict.fromkeys(CLEAR + UNSURE, 0.05) | {UNSURE[0]: 0.97}
    return OnnxScorer(text_model(tmp_path / "zh-bert.onnx", scores), name="zh-bert")


def _cascade(scorer: object, **kw: object) -> CascadeScreener:
    return CascadeScreener(Screener.default(), scorer, band=BAND, **kw)  # type: ignore[arg-type]


# --- the cascade --------------------------------------------------------------------------


def test_only_the_uncertain_band_goes_to_the_plug_in(lookup: OnnxScorer) -> None:
    counted = Counted(lookup)
    cascade = _cascade(counted)
    verdicts = cascade.screen_many(CLEAR + UNSURE)
    # one call for the batch, with exactly the uncertain texts, in order
    assert counted.asked == [UNSURE]
    for text, v in zip(CLEAR, verdicts, strict=False):
        assert v.decided_by == "builtin" and v.model_scores == {}, text
        assert v == Screener.default().screen(text)  # a clear case is the built-in verdict itself
    assert cascade.stats.consulted == len(UNSURE) and cascade.stats.decided == len(UNSURE)


def test_a_batch_of_clear_texts_never_calls_the_plug_in(lookup: OnnxScorer) -> None:
    counted = Counted(lookup)
    _cascade(counted).screen_many(CLEAR * 3)
    assert counted.asked == []


def test_the_plug_in_decides_and_the_verdict_names_it_with_both_scores(lookup: OnnxScorer) -> None:
    builtin = Screener.default().screen_many(UNSURE[:2])
    abusive, safe = _cascade(lookup).screen_many(UNSURE[:2])
    # the plug-in said 0.97: a violation whatever the built-in thought
    assert abusive.violation and abusive.severity is not None
    assert abusive.decided_by == "zh-bert"
    assert abusive.model_scores == {"builtin": builtin[0].score, "zh-bert": pytest.approx(0.97)}
    assert abusive.categories[builtin[0].top_category or ""] == pytest.approx(0.97)
    assert any("zh-bert scored P(violation)=0.97 and decided" in n for n in abusive.notes)
    assert abusive.versions["plugin.zh-bert"].startswith("sha256:")
    # the plug-in said 0.05: no violation, every category capped at its score
    assert not safe.violation and safe.severity is None
    assert safe.decided_by == "zh-bert" and max(safe.categories.values()) <= 0.05 + 1e-6
    assert f"{builtin[1].score:.2f}" in " ".join(safe.notes)  # the built-in's score stays visible
    assert safe.to_dict()["decided_by"] == "zh-bert"


def test_a_repeated_uncertain_text_is_asked_about_once(lookup: OnnxScorer) -> None:
    counted = Counted(lookup)
    verdicts = _cascade(counted).screen_many([UNSURE[0]] * 5 + [CLEAR[0]])
    assert counted.asked == [[UNSURE[0]]]
    assert all(v is verdicts[0] for v in verdicts[:5])


def test_a_text_with_personal_data_stays_with_the_built_in_model(tmp_path: Path) -> None:
    screener = Screener.default()
    text = next(
        t for t in ("我的手机号13812345678", "手机13812345678", "电话是13812345678", "联系13812345678")
        if BAND[0] <= screener.screen(t).score < BAND[1]
    )
    counted = Counted(OnnxScorer(text_model(tmp_path / "m.onnx", {"-": 0.0}, default=0.0)))
    (v,) = _cascade(counted).screen_many([text])
    assert counted.asked == [] and v.decided_by == "builtin"


# --- degradation: never an exception, always a note -----------------------------------------


def _assert_fell_back(verdicts: list, reason: str) -> None:  # type: ignore[type-arg]
    builtin = Screener.default().screen_many(UNSURE)
    for v, b in zip(verdicts, builtin, strict=True):
        assert v.decided_by == "builtin"
        assert (v.violation, v.score, v.categories) == (b.violation, b.score, b.categories)
        assert v.model_scores == {"builtin": b.score}
        assert any(f"unavailable ({reason}" in n and "built-in model decided" in n for n in v.notes), v.notes


def test_an_onnx_file_that_does_not_load_falls_back(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"this is not a model")
    cascade = _cascade(OnnxScorer(broken))
    _assert_fell_back(cascade.screen_many(UNSURE), "load")
    assert cascade.stats.fallbacks["load"] == len(UNSURE)
    # the log line says what failed and how many texts, never the texts
    assert "failed (load" in caplog.text and not any(t in caplog.text for t in UNSURE)


def test_a_scorer_that_raises_or_answers_garbage_falls_back() -> None:
    class Raising:
        name, version = "flaky", "1"

        def score(self, texts: Sequence[str]) -> Sequence[float]:
            raise RuntimeError("CUDA out of memory")

    class Garbage:
        name, version = "garbage", "1"

        def score(self, texts: Sequence[str]) -> Sequence[float]:
            return [float("nan")] * len(texts)

    _assert_fell_back(_cascade(Raising()).screen_many(UNSURE), "error")
    _assert_fell_back(_cascade(Garbage()).screen_many(UNSURE), "malformed")


def test_after_a_failure_the_plug_in_is_left_alone_for_a_while(tmp_path: Path) -> None:
    now = [100.0]
    counted = Counted(OnnxScorer(text_model(tmp_path / "m.onnx", {"-": 0.0}, default=0.9)))

    class FailingOnce:
        name, version = counted.name, counted.version
        fail = True

        def score(self, texts: Sequence[str]) -> Sequence[float]:
            if FailingOnce.fail:
                FailingOnce.fail = False
                raise PluginFailure("timeout")
            return counted.score(texts)

    cascade = _cascade(FailingOnce(), retry_after_s=5.0, clock=lambda: now[0])
    _assert_fell_back(cascade.screen_many(UNSURE), "timeout")
    now[0] += 2.0  # within the pause: not asked, the note says why
    _assert_fell_back(cascade.screen_many(UNSURE), "skipped")
    assert counted.asked == []
    now[0] += 4.0  # past it: asked again, and it decides
    assert all(v.decided_by == counted.name for v in cascade.screen_many(UNSURE))
    assert cascade.stats.fallbacks == {"timeout": len(UNSURE), "skipped": len(UNSURE)}


@pytest.mark.parametrize(
    "raw",
    [
        "0.5",  # not a list
        [0.5],  # one score short (two texts)
        [0.5, 1.5],  # outside [0, 1]
        [0.5, True],  # a bool is not a score
        [0.5, None],
        np.array([[0.5, 0.5]]),  # an array of the wrong shape
    ],
)
def test_malformed_scores_are_refused(raw: object) -> None:
    with pytest.raises(PluginFailure) as info:
        valid_scores(raw, 2)
    assert info.value.reason == "malformed"


def test_scores_may_be_numbers_or_a_numpy_array() -> None:
    assert valid_scores([0, 1, 0.25], 3) == [0.0, 1.0, 0.25]
    assert valid_scores(np.array([0.5, 0.75], dtype=np.float32), 2) == [0.5, 0.75]


# --- the ONNX contract ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("out", "logits", "expected"),
    [
        (np.array([0.2, 0.9]), False, [0.2, 0.9]),  # [batch] probabilities
        (np.array([[0.2], [0.9]]), False, [0.2, 0.9]),  # [batch, 1]
        (np.array([[0.8, 0.2], [0.1, 0.9]]), False, [0.2, 0.9]),  # [batch, 2]: class 0 is safe
        (np.array([[0.7, 0.2, 0.1]]), False, [0.3]),  # several abuse classes: 1 − P(safe)
        (np.array([[0.0]]), True, [0.5]),  # one logit: sigmoid
        (np.array([[0.0, 0.0], [0.0, np.log(9.0)]]), True, [0.5, 0.9]),  # two logits: softmax
    ],
)
def test_model_outputs_are_read_as_probabilities(
    out: np.ndarray, logits: bool, expected: list[float]
) -> None:
    assert _probabilities(out, logits).tolist() == pytest.approx(expected)


def test_a_bert_shaped_model_gets_token_ids_from_its_vocabulary(tmp_path: Path) -> None:
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "傻", "子", "我", "好", "##ing", "go"]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    weights = [0.0, 0.05, 0.0, 0.0, 0.9, 0.3, 0.0, 0.0, 0.0, 0.0]
    scorer = OnnxScorer(token_model(tmp_path / "bert.onnx", weights), vocab=tmp_path / "vocab.txt")
    assert scorer.score(["我傻", "我好", "好好好好"]) == pytest.approx([0.9, 0.0, 0.0])
    assert scorer.score(["天"]) == pytest.approx([0.05])  # an unknown character is [UNK]


def test_wordpiece_splits_like_bert() -> None:
    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "go", "##ing", "你", "好", "!"])}
    wp = WordPiece(vocab, max_tokens=6)
    assert wp.words("Going!你好\u200b ") == ["going", "!", "你", "好"]
    assert wp.ids("going 你好") == [2, 4, 5, 6, 7, 3]
    assert wp.ids("going 你好 你好") == [2, 4, 5, 6, 7, 3]  # cut to max_tokens, [SEP] kept
    assert wp.ids("gone") == [2, 1, 3]  # no pieces: [UNK]
    enc = wp.encode(["你", "你好"])
    assert enc["input_ids"].tolist() == [[2, 6, 3, 0], [2, 6, 7, 3]]
    assert enc["attention_mask"].tolist() == [[1, 1, 1, 0], [1, 1, 1, 1]]


# --- the HTTP contract: a real local service ------------------------------------------------


class _Service(BaseHTTPRequestHandler):
    mode = "ok"
    bodies: list[dict[str, object]] = []  # noqa: RUF012 (the test's record of requests)
    auth: list[str | None] = []  # noqa: RUF012

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Service.bodies.append(body)
        _Service.auth.append(self.headers.get("Authorization"))
        if self.mode == "slow":
            time.sleep(1.0)
        answer: object = {"scores": [0.97 if t == UNSURE[0] else 0.05 for t in body["texts"]],
                          "version": "2026.11"}
        if self.mode == "garbage":
            raw = b"<html>bad gateway</html>"
        elif self.mode == "short":
            raw = json.dumps({"scores": [0.5]}).encode()
        else:
            raw = json.dumps(answer).encode()
        status = 500 if self.mode == "down" else 200
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: object) -> None:  # quiet
        pass


@pytest.fixture
def service() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Service)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Service.bodies = []
    _Service.auth = []
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/score"
    finally:
        server.shutdown()
        server.server_close()
        _Service.mode = "ok"


def test_an_http_scorer_decides_the_uncertain_texts_in_one_request(service: str) -> None:
    scorer = HttpScorer(service, timeout_s=2.0, name="platform-bert")
    verdicts = _cascade(scorer).screen_many(CLEAR + UNSURE)
    assert _Service.bodies == [{"texts": UNSURE}]
    decided = verdicts[len(CLEAR):]
    assert decided[0].violation and decided[0].decided_by == "platform-bert"
    assert not any(v.violation for v in decided[1:])
    assert decided[0].versions["plugin.platform-bert"] == "2026.11"


def test_the_settings_build_an_http_scorer_that_sends_its_token(service: str) -> None:
    settings = Settings(plugin_kind="http", plugin_url=service, plugin_token="s3cret", plugin_band=BAND)
    assert "s3cret" not in repr(settings)
    provide = plugged(settings)
    assert isinstance(provide, Plugged) and provide.scorer.name == "127.0.0.1"  # the URL's host
    (v,) = provide().screen_many([UNSURE[0]])
    assert v.decided_by == "127.0.0.1" and _Service.auth == ["Bearer s3cret"]


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("slow", "timeout"),  # answers after 1 s; the timeout is 0.2 s
        ("garbage", "malformed"),  # not JSON
        ("short", "malformed"),  # one score for several texts
        ("down", "error"),  # HTTP 500
    ],
)
def test_an_http_scorer_that_misbehaves_falls_back(service: str, mode: str, reason: str) -> None:
    _Service.mode = mode
    scorer = HttpScorer(service, timeout_s=0.2)
    started = time.perf_counter()
    _assert_fell_back(_cascade(scorer).screen_many(UNSURE), reason)
    assert time.perf_counter() - started < 0.9  # a slow plug-in costs its timeout, not its delay


def test_an_unreachable_http_scorer_falls_back() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    scorer = HttpScorer(f"http://127.0.0.1:{port}/score", timeout_s=0.5)
    _assert_fell_back(_cascade(scorer).screen_many(UNSURE), "unreachable")
