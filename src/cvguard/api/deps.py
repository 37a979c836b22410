"""Dependency aliases so routes read as plain signatures."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from cvguard.config import Settings
from cvguard.detection.screen import Screener
from cvguard.pipeline import Pipeline


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _screener(request: Request) -> Screener:
    screener: Screener = request.app.state.screener()
    return screener


def _pipeline(request: Request) -> Pipeline:
    pipeline: Pipeline = request.app.state.pipeline()
    return pipeline


SettingsDep = Annotated[Settings, Depends(_settings)]
ScreenerDep = Annotated[Screener, Depends(_screener)]
PipelineDep = Annotated[Pipeline, Depends(_pipeline)]
