"""Dependency aliases so routes read as plain signatures."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from cvguard.config import Settings
from cvguard.detection.screen import Screener


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _screener(request: Request) -> Screener:
    screener: Screener = request.app.state.screener()
    return screener


SettingsDep = Annotated[Settings, Depends(_settings)]
ScreenerDep = Annotated[Screener, Depends(_screener)]
