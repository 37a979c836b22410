"""Liveness."""

from __future__ import annotations

from fastapi import APIRouter

import cvguard
from cvguard.api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    return Health(version=cvguard.__version__)
