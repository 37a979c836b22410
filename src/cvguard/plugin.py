"""The model port's edge: the settings' plug-in built into a screener, and the HTTP scorer.

``plugged(settings)()`` is what the API, the workers and ``cvguard screen`` screen with: the
packaged :class:`Screener` itself when ``CVGUARD_PLUGIN_KIND`` is unset (nothing added to the hot
path), else a :class:`CascadeScreener` around it (detection.port). The HTTP contract::

    POST CVGUARD_PLUGIN_URL   {"texts": ["…", …]}          (one request per screened batch,
    200                       {"scores": [0.93, …]}         only the uncertain texts, in order)

with ``Authorization: Bearer CVGUARD_PLUGIN_TOKEN`` when a token is set and
``CVGUARD_PLUGIN_TIMEOUT_MS`` for connecting and for each read. An optional ``"version"`` string in
the answer is recorded as the plug-in's version.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from cvguard.config import Settings
from cvguard.detection.port import CascadeScreener, PluginConfigError, PluginFailure, PortStats, Scorer
from cvguard.detection.screen import Screener

if TYPE_CHECKING:
    import httpx


class HttpScorer:
    """A plug-in behind an HTTP endpoint (see the module docstring). ``transport``: httpx's, for tests."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float,
        name: str | None = None,
        token: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        import httpx  # here, not at import: every command imports this module, few use HTTP

        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise PluginConfigError(f"the plug-in URL must be http(s)://host/…, got {url!r}")
        self.url = url
        self.name = name or parts.hostname
        self.version = "unversioned"
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client: Any = httpx.Client(
            timeout=httpx.Timeout(timeout_s), headers=headers, transport=transport
        )
        self._lock = threading.Lock()

    def score(self, texts: Sequence[str]) -> Sequence[float]:
        import httpx

        try:
            response = self._client.post(self.url, json={"texts": list(texts)})
        except httpx.TimeoutException:
            raise PluginFailure("timeout") from None
        except httpx.TransportError as exc:
            raise PluginFailure("unreachable", type(exc).__name__) from None
        if response.status_code != 200:
            raise PluginFailure("error", f"HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise PluginFailure("malformed", "the answer is not JSON") from None
        if not isinstance(body, dict) or "scores" not in body:
            raise PluginFailure("malformed", 'the answer has no "scores"')
        version = body.get("version")
        if isinstance(version, str) and version and len(version) <= 64:
            with self._lock:
                self.version = version
        scores: Sequence[float] = body["scores"]
        return scores

    def close(self) -> None:
        self._client.close()


def scorer_from(settings: Settings) -> Scorer | None:
    """The plug-in the settings name, or None; PluginConfigError when they name none usable."""
    if settings.plugin_kind is None:
        return None
    if settings.plugin_kind == "onnx":
        from cvguard.detection.onnx_scorer import OnnxScorer

        if settings.plugin_path is None:
            raise PluginConfigError("CVGUARD_PLUGIN_KIND=onnx needs CVGUARD_PLUGIN_PATH (the .onnx file)")
        return OnnxScorer(
            settings.plugin_path, vocab=settings.plugin_vocab, name=settings.plugin_name,
            max_tokens=settings.plugin_max_tokens,
        )
    if settings.plugin_url is None:
        raise PluginConfigError("CVGUARD_PLUGIN_KIND=http needs CVGUARD_PLUGIN_URL")
    token = settings.plugin_token.get_secret_value() if settings.plugin_token is not None else None
    return HttpScorer(
        settings.plugin_url, timeout_s=settings.plugin_timeout_ms / 1000, name=settings.plugin_name,
        token=token,
    )


class Plugged:
    """What to screen with, built on first call: the cascade around the packaged screener. Its
    ``stats`` exist from the start, so ``/metrics`` can report them before the first screen."""

    def __init__(self, settings: Settings, scorer: Scorer) -> None:
        self.settings = settings
        self.scorer = scorer
        self.stats = PortStats()
        self._lock = threading.Lock()
        self._screener: Screener | None = None

    def __call__(self) -> Screener:
        if self._screener is None:
            with self._lock:
                if self._screener is None:
                    self._screener = CascadeScreener(
                        Screener.default(), self.scorer, band=self.settings.plugin_band,
                        retry_after_s=self.settings.plugin_retry_s, stats=self.stats,
                    )
        return self._screener


def plugged(settings: Settings) -> Callable[[], Screener]:
    """What to screen with: the packaged screener when no plug-in is set (the same object: nothing
    is added to the hot path), else :class:`Plugged`. The plug-in is built now, so bad settings
    stop startup (PluginConfigError); the screener itself loads on first call, as the packaged one
    does."""
    scorer = scorer_from(settings)
    if scorer is None:
        return Screener.default
    return Plugged(settings, scorer)
