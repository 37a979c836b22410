"""Liveness and metrics, both open: neither carries an id or a text.

``/metrics`` is open like ``/healthz`` because a Prometheus scrape usually carries no key; what it
shows is counts only (``cvguard.metrics``). Put it behind the network's own access rules, like the
rest of an internal service's telemetry.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

import cvguard
from cvguard.api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    return Health(version=cvguard.__version__)


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """Prometheus text format (see ``cvguard.metrics`` for what each metric means)."""
    return Response(generate_latest(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)
