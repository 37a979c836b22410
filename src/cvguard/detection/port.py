"""The model port: a platform's own classifier beside the built-in model, in a cascade.

    text ─▶ built-in screener ─▶ verdict ─┬─ score outside the band, or personal data ─▶ as is
                                          └─ score in the band [low, high) ─▶ plug-in ─▶ P(violation)
                                                                  │ it decides the verdict, which
                                                                  │ names it and keeps both scores
                                                                  └ fails ─▶ built-in verdict + note

A plug-in is any :class:`Scorer`: ``score(texts) → one P(violation) in [0, 1] per text``. Two
ship: :class:`~cvguard.detection.onnx_scorer.OnnxScorer` (a model file run in-process by onnxruntime) and
``cvguard.plugin.HttpScorer`` (POST ``{"texts": [...]}`` → ``{"scores": [...]}``, outside the pure
core because it does network I/O). ``cvguard.plugin.screener_from(settings)`` builds what the
settings ask for: the plain :class:`Screener` when no plug-in is set (so the hot path is the same
object and costs nothing more), else a :class:`CascadeScreener`.

Screening never fails because of a plug-in: an exception, a timeout, an unreachable service or an
answer that is not one probability per text makes the built-in model decide, with a note on the
verdict, a count in :class:`PortStats` and one warning log line (counts and reasons, never text).
After a failure the plug-in is left alone for ``retry_after_s`` so a dead service does not cost a
timeout per batch.

Errors, all ``CvguardError``:

    PluginConfigError  the settings name no usable plug-in (startup error, CLI exit 2)
    PluginFailure      one call to the plug-in failed; ``reason`` is one of REASONS
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from cvguard.detection.screen import Screener
from cvguard.errors import CvguardError
from cvguard.taxonomy import severity_rank
from cvguard.verdict import BUILTIN, CascadeVerdict, Verdict

log = logging.getLogger(__name__)

DEFAULT_BAND = (0.35, 0.75)
# Why a plug-in gave no score: what the verdict's note, the metric label and the log line say.
REASONS = ("unreachable", "timeout", "error", "malformed", "load", "skipped")


class PluginConfigError(CvguardError):
    """The plug-in settings are unusable (a missing file, an unknown kind, a band out of order)."""


class PluginFailure(CvguardError):
    """One call to the plug-in gave no usable scores; ``reason`` is one of :data:`REASONS`."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class Scorer(Protocol):
    """A platform's own model: P(violation) in [0, 1] for each text, in order."""

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...

    def score(self, texts: Sequence[str]) -> Sequence[float]: ...


@dataclass(slots=True)
class PortStats:
    """Running totals of the cascade (thread-safe); ``cvguard.metrics`` reads them at scrape time."""

    screened: int = 0  # texts screened through the cascade
    consulted: int = 0  # distinct uncertain texts sent to the plug-in
    decided: int = 0  # ... of which the plug-in scored (and so decided)
    fallbacks: Counter[str] = field(default_factory=Counter)  # texts the built-in decided, by reason
    calls: int = 0
    seconds: float = 0.0  # time spent in plug-in calls
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            return {
                "screened": self.screened, "consulted": self.consulted, "decided": self.decided,
                "fallbacks": dict(self.fallbacks), "calls": self.calls, "seconds": self.seconds,
            }


def check_band(band: tuple[float, float]) -> tuple[float, float]:
    low, high = band
    if not (0.0 <= low < high <= 1.0):
        raise PluginConfigError(f"the plug-in band must be 0 ≤ low < high ≤ 1, got {low},{high}")
    return low, high


def valid_scores(raw: object, n: int) -> list[float]:
    """``raw`` as ``n`` probabilities, or PluginFailure("malformed") saying what is wrong with it."""
    tolist = getattr(raw, "tolist", None)  # a numpy array from a custom scorer
    if callable(tolist):
        raw = tolist()
    if isinstance(raw, str | bytes) or not isinstance(raw, Sequence):
        raise PluginFailure("malformed", f"expected a list of {n} scores, got {type(raw).__name__}")
    if len(raw) != n:
        raise PluginFailure("malformed", f"expected {n} scores, got {len(raw)}")
    out: list[float] = []
    for value in raw:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise PluginFailure("malformed", f"a score is a {type(value).__name__}, not a number")
        f = float(value)
        if not (math.isfinite(f) and 0.0 <= f <= 1.0):
            raise PluginFailure("malformed", "a score is outside [0, 1]")
        out.append(f)
    return out


class CascadeScreener(Screener):
    """A :class:`Screener` whose uncertain verdicts the plug-in decides.

    The built-in verdict stands when its score is outside ``band`` (clear cases) or when it found
    personal data (exposure is found by patterns and checksums, which a text classifier does not
    read). Otherwise the plug-in's P(violation) decides: at or over the threshold the built-in's
    top category takes the plug-in's score; under it every category is capped at that score. Spans
    stay (they are what the built-in model saw); a note, ``decided_by`` and ``model_scores`` say who
    decided and with what scores.
    """

    def __init__(
        self,
        inner: Screener,
        scorer: Scorer,
        *,
        band: tuple[float, float] = DEFAULT_BAND,
        retry_after_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        stats: PortStats | None = None,
    ) -> None:
        super().__init__(
            lexicon=inner.lexicon, models=inner.models, taxonomy=inner.taxonomy,
            max_chars=inner.max_chars, threshold=inner.threshold, everyday=inner.everyday,
            categories=inner.categories, stance=inner.stance,
        )
        self.masker = inner.masker
        self.scorer = scorer
        self.band = check_band(band)
        self.retry_after_s = retry_after_s
        self.stats = stats if stats is not None else PortStats()
        self._clock = clock
        self._failed: tuple[float, str] | None = None  # (when, reason) of the last failure
        self._lock = threading.Lock()

    def screen_many(self, texts: Sequence[str]) -> list[Verdict]:
        verdicts = super().screen_many(texts)
        low, high = self.band
        uncertain: dict[str, list[int]] = {}  # a text repeated in the batch is asked about once
        for i, v in enumerate(verdicts):
            if low <= v.score < high and not any(s.source == "pii" for s in v.spans):
                uncertain.setdefault(texts[i], []).append(i)
        with self.stats._lock:
            self.stats.screened += len(texts)
        if not uncertain:
            return verdicts
        asked = list(uncertain)
        scores, failure = self._ask(asked)
        for k, text in enumerate(asked):
            first = verdicts[uncertain[text][0]]
            new = self._fallback(first, failure) if scores is None else self._overrule(first, scores[k])
            for i in uncertain[text]:
                verdicts[i] = new
        return verdicts

    # --- the plug-in call -------------------------------------------------------------------

    def _ask(self, texts: list[str]) -> tuple[list[float] | None, str]:
        """The plug-in's scores for ``texts``, or None and the reason it gave none."""
        with self._lock:
            failed = self._failed
        if failed is not None and self._clock() - failed[0] < self.retry_after_s:
            self._count(len(texts), None, "skipped", 0.0, called=False)
            return None, f"skipped: it failed {self._clock() - failed[0]:.1f} s ago ({failed[1]})"
        start = time.perf_counter()
        try:
            scores = valid_scores(self.scorer.score(texts), len(texts))
        except PluginFailure as exc:
            return self._failed_call(texts, exc.reason, exc.detail, start)
        except Exception as exc:  # a plug-in must never fail screening
            return self._failed_call(texts, "error", type(exc).__name__, start)
        with self._lock:
            self._failed = None
        self._count(len(texts), len(texts), None, time.perf_counter() - start)
        return scores, ""

    def _failed_call(self, texts: list[str], reason: str, detail: str, start: float) -> tuple[None, str]:
        with self._lock:
            self._failed = (self._clock(), reason)
        self._count(len(texts), None, reason, time.perf_counter() - start)
        # counts and reasons only: the detail names an exception type, a status or a shape, never text
        log.warning(
            "model plug-in %s failed (%s%s); %d uncertain texts decided by the built-in model; "
            "retrying in %.0f s", self.scorer.name, reason, f": {detail}" if detail else "", len(texts),
            self.retry_after_s,
        )
        return None, reason

    def _count(self, n: int, decided: int | None, reason: str | None, seconds: float, *,
               called: bool = True) -> None:
        with self.stats._lock:
            self.stats.consulted += n if called else 0
            self.stats.decided += decided or 0
            if reason is not None:
                self.stats.fallbacks[reason] += n
            self.stats.calls += called
            self.stats.seconds += seconds

    # --- the verdicts -----------------------------------------------------------------------

    def _note(self, v: Verdict) -> str:
        low, high = self.band
        return f"cascade: built-in score {v.score:.2f} is in the uncertain band [{low:.2f}, {high:.2f})"

    def _overrule(self, v: Verdict, score: float) -> Verdict:
        name = self.scorer.name
        categories = dict(v.categories)
        if score >= self.threshold:
            top = v.top_category or "insult"
            categories[top] = score
        else:
            categories = {c: min(x, score) for c, x in categories.items()}
        violating = [c for c, x in categories.items() if x >= self.threshold]
        severity = max((self._severity[c] for c in violating), key=severity_rank) if violating else None
        note = f"{self._note(v)}; {name} scored P(violation)={score:.2f} and decided"
        return CascadeVerdict(
            violation=bool(violating),
            score=max(categories.values(), default=score),
            severity=severity,
            categories=categories,
            spans=v.spans,
            versions={**v.versions, f"plugin.{name}": self.scorer.version},
            notes=(*v.notes, note),
            decider=name,
            scores={BUILTIN: v.score, name: score},
        )

    def _fallback(self, v: Verdict, reason: str) -> Verdict:
        name = self.scorer.name
        note = f"{self._note(v)}; plug-in {name} unavailable ({reason}), the built-in model decided"
        return CascadeVerdict(
            violation=v.violation, score=v.score, severity=v.severity, categories=v.categories,
            spans=v.spans, versions=v.versions, notes=(*v.notes, note), decider=BUILTIN,
            scores={BUILTIN: v.score},
        )
