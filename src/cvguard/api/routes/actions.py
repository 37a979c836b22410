"""``GET /v1/actions?after=CURSOR``: the action feed, read in order with a cursor.

Each action is what the platform should do to content already published because an alert changed
(``policy.feed``), or the undo of one when the alert resolved (``undoes`` names the key it
reverses). Read from ``after=0``, keep ``next_cursor``, ask again after it: an action appears
once, in the order it was appended, and no action ever appears behind a cursor already passed
(``store.actions``). Apply each by its ``key``: the same key is the same action.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from cvguard.api.schemas import Problem
from cvguard.store.actions import MAX_CURSOR, MAX_PAGE, ActionFeed, FeedEntry

router = APIRouter(prefix="/v1", tags=["decisions"])


class ActionOut(BaseModel):
    seq: int = Field(description="The action's place in the feed (a cursor).")
    key: str = Field(description="The idempotency key: the same key is the same action.")
    kind: str = Field(
        description="fold, hide_from_target, lock_topic, guidance_note, pull, ... or an undo: unfold, "
        "restore, unlock_topic, remove_guidance_note, unmute_member; about a person: protection_on "
        "(a shield turned on automatically), offer_protection (prompt them), protection_ending."
    )
    surface: str
    subject_type: str = Field(description="event, topic or user.")
    subject: str = Field(description="The event id, topic id or user id the action applies to.")
    params: dict[str, Any] = Field(description="Per action: scope, note, target_id (hidden from whom), ...")
    reason: str
    rule_id: str | None = Field(description="The policy rule that decided it (null for an undo).")
    alert_id: str | None = Field(description="The alert behind it.")
    policy_version: str | None
    created_at: datetime = Field(description="When it was appended (wall clock, UTC).")
    undoes: str | None = Field(description="For an undo, the key of the action it reverses.")

    @classmethod
    def of(cls, entry: FeedEntry) -> ActionOut:
        return cls.model_validate(entry, from_attributes=True)


class ActionsOut(BaseModel):
    actions: list[ActionOut]
    next_cursor: int = Field(description="Pass as `after` to read on; the same cursor when nothing is new.")


def _feed(request: Request) -> ActionFeed:
    feed: ActionFeed = request.app.state.feed()
    return feed


_PROBLEMS: dict[int | str, dict[str, Any]] = {
    422: {
        "model": Problem,
        "content": {"application/problem+json": {}},
        "description": "A bad cursor or limit.",
    },
    503: {"model": Problem, "content": {"application/problem+json": {}}, "description": "The store is down."},
}


@router.get("/actions", response_model=ActionsOut, responses=_PROBLEMS, summary="Read the action feed")
def read_actions(
    request: Request,
    after: Annotated[
        int, Query(ge=0, le=MAX_CURSOR, description="Read the actions after this cursor (0: from the start).")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> ActionsOut:
    """The actions after `after`, oldest first, at most `limit`, and the cursor to read on."""
    entries, cursor = _feed(request).after(after, limit)
    return ActionsOut(actions=[ActionOut.of(e) for e in entries], next_cursor=cursor)
