"""Dependency aliases so routes read as plain signatures."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Protocol

from fastapi import Depends, Request

from cvguard.api.scaleout import SharedView, StreamIngest
from cvguard.behavior import TargetState, TopicState
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


class BehaviourView(Protocol):
    """Where behaviour reads come from: the embedded pipeline, or the workers' shared state."""

    def target_state(self, target_id: str) -> tuple[datetime, TargetState]: ...

    def topic_state(self, topic_id: str) -> tuple[datetime, TopicState]: ...


def _behaviour(request: Request) -> BehaviourView:
    view: BehaviourView = request.app.state.behaviour()
    return view


def _ingest(request: Request) -> StreamIngest | None:
    ingest: StreamIngest | None = request.app.state.ingest
    return ingest


def event_now(request: Request, pipeline: Pipeline) -> datetime:
    """Event time now: the workers' shared state's in scale-out, else the embedded pipeline's clock
    (the newest event seen); before any event is seen, the wall clock."""
    view = request.app.state.behaviour()
    if isinstance(view, SharedView):
        at = view.now()
        if at is not None:
            return at
    elif pipeline.clock.started:
        return pipeline.now()
    return datetime.now(UTC)


SettingsDep = Annotated[Settings, Depends(_settings)]
ScreenerDep = Annotated[Screener, Depends(_screener)]
PipelineDep = Annotated[Pipeline, Depends(_pipeline)]
BehaviourDep = Annotated[BehaviourView, Depends(_behaviour)]
IngestDep = Annotated[StreamIngest | None, Depends(_ingest)]
