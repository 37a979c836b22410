"""The Event: one piece of user content as the platform sends it (../shared/DESIGN.md).

Pure data and validation; no I/O. ``parse_event`` / ``parse_events`` turn untrusted JSON into
events and report every problem with the field that caused it, so a batch keeps its good events
and names its bad ones.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cvguard.errors import InputError


class Surface(StrEnum):
    post = "post"
    comment = "comment"
    reply = "reply"
    repost = "repost"
    danmaku = "danmaku"
    live_chat = "live_chat"
    dm = "dm"
    group_message = "group_message"
    search_query = "search_query"
    topic = "topic"


class Author(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=128)
    created_at: datetime | None = None  # account creation time
    verified: bool = False
    minor: bool = False
    mcn_id: str | None = Field(default=None, max_length=128)

    @field_validator("created_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return None if value is None else _utc(value)


class Relationship(BaseModel):
    """Hints the platform knows about author and targets."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target_follows_author: bool | None = None
    author_follows_target: bool | None = None


class Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: str = Field(min_length=1, max_length=128)
    surface: Surface
    occurred_at: datetime
    author: Author
    text: str = Field(default="", max_length=100_000)
    target_ids: tuple[str, ...] = ()
    thread_id: str | None = Field(default=None, max_length=128)
    topic_ids: tuple[str, ...] = ()
    reply_to: str | None = Field(default=None, max_length=128)
    relationship: Relationship = Relationship()

    @field_validator("occurred_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return _utc(value)

    def account_age_days(self) -> float | None:
        if self.author.created_at is None:
            return None
        return (self.occurred_at - self.author.created_at).total_seconds() / 86400.0


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("must carry a timezone (e.g. 2026-11-24T08:00:00Z)")
    return value.astimezone(UTC)


def _problems(exc: ValidationError) -> list[dict[str, str]]:
    return [
        {"field": ".".join(str(p) for p in err["loc"]) or "(event)", "error": err["msg"]}
        for err in exc.errors()
    ]


def parse_event(raw: Any) -> Event:
    """One event from parsed JSON; ``InputError`` names the first bad field."""
    try:
        return Event.model_validate(raw)
    except ValidationError as exc:
        first = _problems(exc)[0]
        raise InputError(f"{first['field']}: {first['error']}", field=first["field"]) from exc


def parse_events(raws: list[Any]) -> tuple[list[Event], list[dict[str, Any]]]:
    """Good events, and for every bad one ``{"index", "event_id", "errors": [{field, error}]}``."""
    good: list[Event] = []
    bad: list[dict[str, Any]] = []
    for i, raw in enumerate(raws):
        try:
            good.append(Event.model_validate(raw))
        except ValidationError as exc:
            event_id = raw.get("event_id") if isinstance(raw, dict) else None
            bad.append({"index": i, "event_id": event_id, "errors": _problems(exc)})
    return good, bad
