"""The HTTP API: ``create_app(settings, screener)`` builds the FastAPI application."""

from cvguard.api.app import create_app

__all__ = ["create_app"]
