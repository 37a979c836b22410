"""The Event: one piece of user content as the platform sends it (../shared/DESIGN.md).

Pure data and validation; no I/O. ``parse_event`` / ``parse_events`` turn untrusted JSON into
events and report every problem with the field that caused it, so a batch keeps its good events
and names its bad ones.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cvguard.errors import InputError

# Plausible dates. Anything outside is a caller's mistake (or an attack on the event clock), refused
# like any other invalid field, never left to overflow in date arithmetic further down.
OCCURRED_FROM = datetime(2000, 1, 1, tzinfo=UTC)
OCCURRED_BEFORE = datetime(2101, 1, 1, tzinfo=UTC)
CREATED_FROM = datetime(1970, 1, 1, tzinfo=UTC)
# an account cannot post before it exists; a little slack for the platform's clocks
CREATED_AHEAD = timedelta(minutes=5)
MAX_IDS = 100  # target_ids / topic_ids per event

Id = Annotated[str, Field(min_length=1, max_length=128)]


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
        if value is None:
            return None
        value = _utc(value)
        if not CREATED_FROM <= value < OCCURRED_BEFORE:
            raise ValueError(f"must be between {CREATED_FROM:%Y-%m-%d} and {OCCURRED_BEFORE:%Y-%m-%d}")
        return value


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
    target_ids: tuple[Id, ...] = Field(default=(), max_length=MAX_IDS)
    thread_id: str | None = Field(default=None, max_length=128)
    topic_ids: tuple[Id, ...] = Field(default=(), max_length=MAX_IDS)
    reply_to: str | None = Field(default=None, max_length=128)
    relationship: Relationship = Relationship()

    @field_validator("occurred_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        value = _utc(value)
        if not OCCURRED_FROM <= value < OCCURRED_BEFORE:
            raise ValueError(
                f"must be between {OCCURRED_FROM:%Y-%m-%d} and {OCCURRED_BEFORE:%Y-%m-%d}"
                f" (got {value:%Y-%m-%d})"
            )
        return value

    @model_validator(mode="after")
    def _created_before(self) -> Event:
        created = self.author.created_at
        if created is not None and created > self.occurred_at + CREATED_AHEAD:
            raise ValueError(
                "author.created_at is after occurred_at: an account cannot post before it exists"
            )
        return self

    def account_age_days(self) -> float | None:
        if self.author.created_at is None:
            return None
        return (self.occurred_at - self.author.created_at).total_seconds() / 86400.0


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("must carry a timezone (e.g. 2026-11-24T08:00:00Z)")
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-01:00 is past the last representable time
        raise ValueError("is out of range") from None


def clean_text(raw: Any) -> Any:
    """``raw`` with lone surrogates in its ``text`` replaced by U+FFFD, as screening reads them.

    JSON allows ``"\\ud800"``; UTF-8 (and so the store and the SHA-256) does not. The screener cleans
    such text the same way (``detection.screen.clean_input``), so an event and a screened text agree.
    """
    if isinstance(raw, dict):
        text = raw.get("text")
        if isinstance(text, str) and not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                cleaned = "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text)
                return {**raw, "text": cleaned}
    return raw


def _problems(exc: ValidationError) -> list[dict[str, str]]:
    return [
        {"field": ".".join(str(p) for p in err["loc"]) or "(event)", "error": err["msg"]}
        for err in exc.errors()
    ]


def parse_event(raw: Any) -> Event:
    """One event from parsed JSON; ``InputError`` names the first bad field."""
    try:
        return Event.model_validate(clean_text(raw))
    except ValidationError as exc:
        first = _problems(exc)[0]
        raise InputError(f"{first['field']}: {first['error']}", field=first["field"]) from exc


def parse_events(raws: list[Any]) -> tuple[list[Event], list[dict[str, Any]]]:
    """Good events, and for every bad one ``{"index", "event_id", "errors": [{field, error}]}``."""
    good: list[Event] = []
    bad: list[dict[str, Any]] = []
    for i, raw in enumerate(raws):
        try:
            good.append(Event.model_validate(clean_text(raw)))
        except ValidationError as exc:
            event_id = raw.get("event_id") if isinstance(raw, dict) else None
            bad.append({"index": i, "event_id": event_id, "errors": _problems(exc)})
    return good, bad
