"""The app's review desk (``app.state.review``): the review store (opened on first use), the
queue's rules (``review/data/review.yaml``), the clock, and the enforcement behind appeals.

``enforcement`` is what appeals need of the violation ledger and the sanction ladder
(``cvguard.enforcement.Enforcement``: read a sanction, reverse it); None until the app is given
one, and until then appeals answer 404 (no sanction is kept here). ``clock`` stamps filing,
assignment and decisions and tells what is overdue: the wall clock, injected in tests.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from cvguard.config import Settings
from cvguard.enforcement import Enforcement, Reversal, Sanction
from cvguard.review import ReviewRules, load_rules
from cvguard.store.review import ReviewStore


class PipelineEnforcement:
    """The embedded pipeline's ledger behind appeals, opened with the pipeline on first use: a
    sanction read or reversed through ``Pipeline.enforcer`` (None there: no sanction is kept)."""

    def __init__(self, pipeline: Callable[[], Any]) -> None:
        self._pipeline = pipeline

    def _enforcer(self) -> Enforcement | None:
        enforcer: Enforcement | None = getattr(self._pipeline(), "enforcer", None)
        return enforcer

    def sanction(self, sanction_id: str) -> Sanction | None:
        enforcer = self._enforcer()
        return None if enforcer is None else enforcer.sanction(sanction_id)

    def reverse(self, sanction_id: str, *, actor: str, reason: str, now: datetime) -> Reversal:
        enforcer = self._enforcer()
        if enforcer is None:
            raise LookupError(f"no sanction {sanction_id!r}: this deployment keeps none")
        return enforcer.reverse(sanction_id, actor=actor, reason=reason, now=now)


def _now() -> datetime:
    return datetime.now(UTC)


class ReviewDesk:
    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = _now,
        rules: ReviewRules | None = None,
        enforcement: Enforcement | None = None,
    ) -> None:
        self._url = settings.database_url
        self.rules = rules if rules is not None else load_rules()
        self.clock = clock
        self.enforcement = enforcement
        self._store: ReviewStore | None = None
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return self.clock()

    @property
    def store(self) -> ReviewStore:
        if self._store is None:
            with self._lock:
                if self._store is None:
                    self._store = ReviewStore.open(self._url)
        return self._store

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None
