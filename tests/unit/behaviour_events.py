"""Event builders shared by the behaviour tests (imported by them; not a test module)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cvguard.events import Author, Event, Relationship


def comment(
    event_id: str,
    at: datetime,
    author: str,
    text: str,
    *,
    created_at: datetime,
    follows: bool | None = None,
    **fields: Any,
) -> Event:
    """A comment by ``author`` (account created at ``created_at``); ``follows``: whether the
    target follows the author (None: unknown)."""
    return Event(
        event_id=event_id,
        surface="comment",
        occurred_at=at,
        author=Author(id=author, created_at=created_at),
        text=text,
        relationship=Relationship(target_follows_author=follows),
        **fields,
    )
