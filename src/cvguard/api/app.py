"""The application factory: settings and the screener come in explicitly, nothing is global."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI

import cvguard
from cvguard.api import problems
from cvguard.api.limits import BodyLimit
from cvguard.api.routes import health, screen
from cvguard.config import Settings, get_settings
from cvguard.detection.screen import Screener


def create_app(settings: Settings | None = None, screener: Screener | None = None) -> FastAPI:
    """Build the API. ``screener`` defaults to the packaged one, loaded on first use."""
    settings = settings if settings is not None else get_settings()
    app = FastAPI(
        title="cvguard",
        version=cvguard.__version__,
        description="Cyber-violence screening, early warning, protection and graded enforcement.",
    )
    provide: Callable[[], Screener] = (lambda: screener) if screener is not None else Screener.default
    app.state.settings = settings
    app.state.screener = provide
    problems.install(app)
    app.include_router(health.router)
    app.include_router(screen.router)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    return app
