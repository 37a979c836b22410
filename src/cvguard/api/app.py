"""The application factory: settings, the screener and the pipeline come in explicitly, nothing is global."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import redis
from fastapi import Depends, FastAPI
from prometheus_client import CollectorRegistry

import cvguard
from cvguard.api import docs, problems
from cvguard.api.auth import AUTH_RESPONSES, Authenticator, guard
from cvguard.api.limits import BodyLimit
from cvguard.api.policy import FeedHolder, PolicySource, policy_source
from cvguard.api.policyaudit import PolicyInService
from cvguard.api.reportdesk import MarkedOrFlagged, ReportDesk
from cvguard.api.reviewdesk import PipelineEnforcement, ReviewDesk
from cvguard.api.routes import (
    actions,
    alerts,
    appeals,
    asks,
    audit,
    decisions,
    enforcement,
    escalations,
    events,
    evidence,
    health,
    keys,
    mcns,
    nudges,
    protection,
    reports,
    review,
    screen,
    targets,
)
from cvguard.api.scaleout import SharedView, StreamIngest
from cvguard.config import Settings, get_settings
from cvguard.detection.screen import Screener
from cvguard.errors import StoreError
from cvguard.metrics import (
    AlertsCollector,
    CountingScreening,
    HttpMetrics,
    HttpMetricsMiddleware,
    PluginCollector,
    StatsCollector,
    StreamCollector,
    VerdictTally,
)
from cvguard.pipeline import Pipeline
from cvguard.pipeline.engine import dm_limits
from cvguard.pipeline.ingest import Screening
from cvguard.pipeline.redis_bus import DEFAULT_STREAM
from cvguard.plugin import Plugged, plugged
from cvguard.policy import PolicyHolder
from cvguard.store import EventStore
from cvguard.store.counts import alert_counts
from cvguard.store.reports import EventMinorFlags


class PipelineHolder:
    """Opens the pipeline (store migrated) on first use, once; closes it when the app stops.

    Lazy so that an app used only for screening never touches a database; ``cvguard serve`` calls
    it before listening, so a server with an unreachable database fails at start.
    """

    def __init__(
        self,
        settings: Settings,
        screener: Callable[[], Screener],
        pipeline: Pipeline | None,
        verdicts: VerdictTally | None = None,
        policy: PolicySource | None = None,
        shadow_policy: PolicySource | None = None,
    ) -> None:
        self._settings = settings
        self._policy = policy
        self._shadow_policy = shadow_policy
        self._screener = screener
        self._pipeline = pipeline
        self._verdicts = verdicts
        self._owned = pipeline is None
        self._lock = threading.Lock()

    def __call__(self) -> Pipeline:
        if self._pipeline is None:
            with self._lock:
                if self._pipeline is None:
                    # scale-out: the workers own behaviour; this process reads the store only
                    screening: Screening = self._screener()
                    if self._verdicts is not None:  # counted for /metrics
                        screening = CountingScreening(screening, self._verdicts)
                    self._pipeline = Pipeline.open(
                        self._settings,
                        screener=screening,
                        persist_behaviour=not self._settings.redis_url,
                        policy=self._policy,  # the app's policy (one holder, one version)
                        shadow_policy=self._shadow_policy,
                    )
        return self._pipeline

    def peek(self) -> Pipeline | None:
        """The pipeline if it is open (never opens it)."""
        return self._pipeline

    def close(self) -> None:
        with self._lock:
            if self._pipeline is not None and self._owned:
                self._pipeline.close()
                self._pipeline = None


def create_app(
    settings: Settings | None = None, screener: Screener | None = None, pipeline: Pipeline | None = None
) -> FastAPI:
    """Build the API. ``screener`` defaults to the packaged one, loaded on first use; ``pipeline``
    to one on ``settings.database_url``, opened on first use (a pipeline passed in is not closed)."""
    settings = settings if settings is not None else get_settings()
    # the packaged screener, or the cascade with the platform's own model (bad plug-in settings stop here)
    provide: Callable[[], Screener] = (lambda: screener) if screener is not None else plugged(settings)
    verdicts = VerdictTally()
    policy: PolicySource = policy_source(settings)  # decisions (api.policy); hot reload of a policy file
    trail = audit.AuditHolder(settings)
    if settings.audit_automated:  # each policy put in service, in the audit trail (api.policyaudit)
        policy = PolicyInService(policy, trail)
    # shadow mode: a candidate decides every event too; recorded, never answered
    shadow = PolicyHolder(settings.shadow_policy_file) if settings.shadow_policy_file is not None else None
    holder = PipelineHolder(settings, provide, pipeline, verdicts, policy, shadow)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            holder.close()
            feed.close()
            desk.close()
            review_desk.close()
            vault.close()
            trail.close()
            auth.close()
            if client is not None:
                client.close()

    app = FastAPI(
        title="cvguard",
        version=cvguard.__version__,
        description="Cyber-violence screening, early warning, protection and graded enforcement.",
        lifespan=lifespan,
        docs_url=None,  # served from the package by api.docs (works offline)
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.screener = provide
    app.state.pipeline = holder
    auth = Authenticator(settings)
    app.state.auth = auth
    app.state.policy = policy
    app.state.shadow_policy = shadow
    feed = FeedHolder(settings)
    app.state.feed = feed
    # reports (api.reportdesk): the store on first use; ``desk.groups`` takes the key-groups reader
    desk = ReportDesk(settings)
    app.state.reports = desk
    desk.groups = MarkedOrFlagged(lambda: _people(app), lambda: EventMinorFlags(desk.store))
    # the review queue and appeals (api.reviewdesk); ``review_desk.enforcement`` takes the ledger
    review_desk = ReviewDesk(settings, enforcement=PipelineEnforcement(holder))
    app.state.review = review_desk
    vault = evidence.VaultHolder(settings)
    app.state.vault = vault
    app.state.audit = trail
    # Scale-out mode: events are queued on the Redis stream for `cvguard worker`s, and behaviour
    # reads come from the state they share; the store (reads) is the same database they write.
    client = redis.Redis.from_url(settings.redis_url) if settings.redis_url else None
    app.state.ingest = StreamIngest(client) if client is not None else None
    shared = SharedView(client, dm_limits(settings)) if client is not None else None
    app.state.behaviour = (lambda: shared) if shared is not None else holder
    app.state.metrics = _registry(holder, verdicts, client)
    if isinstance(provide, Plugged):  # the model port's counts (no plug-in: nothing to count)
        app.state.metrics.register(PluginCollector(provide.stats))
    problems.install(app)
    app.include_router(health.router)
    docs.install(app)
    # Access control (api.auth): each /v1 router with the roles that may read (GET) and write.
    platform = [Depends(guard(read=("platform", "auditor"), write=("platform",)))]
    moderation = [Depends(guard(read=("moderator", "auditor"), write=("moderator",)))]
    app.include_router(screen.router, dependencies=platform, responses=AUTH_RESPONSES)
    app.include_router(events.router, dependencies=platform, responses=AUTH_RESPONSES)
    app.include_router(alerts.router, dependencies=moderation, responses=AUTH_RESPONSES)
    app.include_router(targets.router, dependencies=moderation, responses=AUTH_RESPONSES)
    administration = [Depends(guard(read=("auditor",)))]  # writes: admin only
    app.include_router(keys.router, dependencies=administration, responses=AUTH_RESPONSES)
    auditors = [Depends(guard(read=("auditor",)))]  # the audit trail: auditors and admins only
    app.include_router(audit.router, dependencies=auditors, responses=AUTH_RESPONSES)
    feed_readers = [Depends(guard(read=("platform", "moderator", "auditor")))]
    app.include_router(actions.router, dependencies=feed_readers, responses=AUTH_RESPONSES)
    app.include_router(asks.router, dependencies=platform, responses=AUTH_RESPONSES)
    decision_readers = [Depends(guard(read=("platform", "moderator", "auditor")))]  # admin: all
    app.include_router(decisions.router, dependencies=decision_readers, responses=AUTH_RESPONSES)
    # reports: a person's own through a call made for them, the queue for staff (checked per route)
    report_access = [
        Depends(guard(read=("platform", "moderator", "auditor"), write=("platform", "moderator")))
    ]
    app.include_router(reports.router, dependencies=report_access, responses=AUTH_RESPONSES)
    # evidence: a person's own (a platform call made for them) or staff's (api.routes.evidence)
    evidence_users = [
        Depends(guard(read=("platform", "moderator", "auditor"), write=("platform", "moderator")))
    ]
    app.include_router(evidence.router, dependencies=evidence_users, responses=AUTH_RESPONSES)
    # nudge outcomes: the platform reports them; platform and staff read the stats
    nudge_access = [Depends(guard(read=("platform", "moderator", "auditor"), write=("platform",)))]
    app.include_router(nudges.router, dependencies=nudge_access, responses=AUTH_RESPONSES)
    staff_only = [Depends(guard(read=("moderator", "auditor")))]  # DM escalations: never a platform key
    app.include_router(escalations.router, dependencies=staff_only, responses=AUTH_RESPONSES)
    # a person's shield, key groups and filtered folder: owner_or_staff per route (api.routes.protection)
    people = [Depends(guard(read=("platform", "moderator", "auditor"), write=("platform", "moderator")))]
    app.include_router(protection.router, dependencies=people, responses=AUTH_RESPONSES)
    # MCNs: the platform (and moderators) declare them and their members; staff read; measures by
    # hand are a moderator's (api.routes.mcns); the platform sees measures as feed actions
    mcn_access = [Depends(guard(read=("moderator", "auditor"), write=("platform", "moderator")))]
    app.include_router(mcns.router, dependencies=mcn_access, responses=AUTH_RESPONSES)
    # the review queue: moderators write, auditors read; appeals: a platform call made for the
    # sanctioned account or staff (checked per route, api.routes.appeals)
    app.include_router(review.router, dependencies=moderation, responses=AUTH_RESPONSES)
    appeal_access = [
        Depends(guard(read=("platform", "moderator", "auditor"), write=("platform", "moderator")))
    ]
    app.include_router(appeals.router, dependencies=appeal_access, responses=AUTH_RESPONSES)
    # violations and sanctions: moderators write, auditors read; never a platform key (it gets
    # sanctions as feed actions)
    enforcement_staff = [Depends(guard(read=("moderator", "auditor"), write=("moderator",)))]
    app.include_router(enforcement.router, dependencies=enforcement_staff, responses=AUTH_RESPONSES)
    events.document(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(HttpMetricsMiddleware, metrics=HttpMetrics(app.state.metrics))
    return app


def _people(app: FastAPI) -> Any:
    """The pipeline's key groups and shields (``pipeline.protection.PeopleBook``), refreshed; None
    when the pipeline keeps none."""
    people = getattr(app.state.pipeline(), "people", None)
    if people is not None:
        people.refresh()
    return people


def _registry(
    holder: PipelineHolder, verdicts: VerdictTally, client: redis.Redis | None
) -> CollectorRegistry:
    """What ``GET /metrics`` reports: this process's pipeline totals, the stored alerts and, in
    scale-out mode, the workers' stream lag (see ``cvguard.metrics``)."""

    def stats() -> object | None:
        pipeline = holder.peek()
        return pipeline.stats if pipeline is not None else None

    def alerts() -> dict[tuple[str, str, str], int] | None:
        pipeline = holder.peek()
        if pipeline is None or not isinstance(pipeline.store, EventStore):
            return None
        try:
            return alert_counts(pipeline.store)
        except StoreError:
            return None  # a scrape never fails for the store; the gauge is simply absent

    registry = CollectorRegistry()
    registry.register(StatsCollector(stats, verdicts))
    registry.register(AlertsCollector(alerts))
    if client is not None:
        registry.register(StreamCollector(client, DEFAULT_STREAM))
    return registry
