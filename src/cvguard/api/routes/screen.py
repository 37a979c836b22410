"""``POST /v1/screen``: one text or a batch of texts in, explained verdicts out.

Screening costs CPU in proportion to the characters screened, so one request may screen at most
``CVGUARD_MAX_SCREEN_CHARS`` characters in all (413 beyond), besides the per-text and batch limits.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter

from cvguard.api.deps import ScreenerDep, SettingsDep
from cvguard.api.problems import PayloadTooLarge
from cvguard.api.schemas import BatchOut, BatchResultOut, Problem, ScreenRequest, VerdictOut
from cvguard.errors import TextTooLarge

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["screening"])

_PROBLEMS: dict[int | str, dict[str, object]] = {
    status: {"model": Problem, "content": {"application/problem+json": {}}, "description": why}
    for status, why in (
        (400, "The body is not valid JSON."),
        (413, "The body, a text, the batch or the characters of the whole request are over their limit."),
        (422, "The body does not match the schema; `errors` names each field."),
    )
}


@router.post(
    "/screen",
    response_model=VerdictOut | BatchOut,
    responses=_PROBLEMS,
    summary="Screen one text or a batch",
)
def screen(request: ScreenRequest, settings: SettingsDep, screener: ScreenerDep) -> VerdictOut | BatchOut:
    """Send `{"text": ...}` to get one verdict, or `{"items": [{"id", "text"}, ...]}` to get
    `{"results": [...]}` in the same order. Span offsets are code points into the text as sent."""
    limit = settings.max_text_chars
    if request.text is not None:
        if len(request.text) > limit:
            raise TextTooLarge(f"text has {len(request.text)} characters; the limit is {limit}", field="text")
        return VerdictOut.of(screener.screen(request.text))
    items = request.items or []
    if len(items) > settings.max_batch:
        raise PayloadTooLarge(f"the batch has {len(items)} items; the limit is {settings.max_batch}")
    for i, item in enumerate(items):
        if len(item.text) > limit:
            raise TextTooLarge(
                f"items[{i}].text has {len(item.text)} characters; the limit is {limit}",
                field=f"items[{i}].text",
            )
    total = sum(len(item.text) for item in items)
    if total > settings.max_screen_chars:
        raise PayloadTooLarge(
            f"the batch has {total} characters of text in all; one request may screen at most "
            f"{settings.max_screen_chars} (split it into several requests)"
        )
    verdicts = screener.screen_many([item.text for item in items])
    log.debug("screened a batch of %d", len(items))
    return BatchOut(results=[BatchResultOut.of_item(it.id, v) for it, v in zip(items, verdicts, strict=True)])
