"""Every error the API returns, as an RFC 9457 problem document, mapped here and nowhere else.

malformed JSON body                      400  urn:cvguard:problem:malformed-json
a body that is not UTF-8                 400  urn:cvguard:problem:invalid-utf8   (api.limits)
request fails validation                 422  urn:cvguard:problem:validation   (+ errors[loc, msg])
InputError from the core                 422  urn:cvguard:problem:invalid-input
TextTooLarge / PayloadTooLarge           413  urn:cvguard:problem:too-large
Overloaded (the workers are far behind)  503  urn:cvguard:problem:overloaded     (+ Retry-After)
StoreError (database unavailable, ...)   503  urn:cvguard:problem:store-unavailable
other HTTP errors (404, 405, ...)        as raised
DataError / ModelError / anything else   500  urn:cvguard:problem:internal (no internals leaked)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from cvguard.api.schemas import Problem, ProblemError
from cvguard.errors import CvguardError, InputError, StoreError, TextTooLarge

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
_TYPE = "urn:cvguard:problem:"


class PayloadTooLarge(InputError):
    """A request body or batch over the configured limit."""


class Overloaded(StoreError):
    """Scale-out mode: the workers are too far behind to queue more now (back-pressure)."""

    retry_after_s = 5


def problem_response(
    status: int, slug: str, detail: str, errors: Sequence[ProblemError] | None = None
) -> JSONResponse:
    problem = Problem(
        type=_TYPE + slug,
        title=HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        errors=list(errors) if errors is not None else None,
    )
    return JSONResponse(problem.model_dump(exclude_none=True), status_code=status, media_type=PROBLEM_JSON)


def _loc(parts: Sequence[Any]) -> str:
    """("body", "items", 2, "text") → "items[2].text"; the body itself is "body"."""
    path = ""
    for part in parts[1:] if parts and parts[0] == "body" else parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "body"


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return problem_response(400, "malformed-json", "the request body is not valid JSON")
    listed = [
        ProblemError(
            loc=_loc(e.get("loc", ())), msg=str(e.get("msg", "invalid")).removeprefix("Value error, ")
        )
        for e in errors
    ]
    detail = "; ".join(f"{p.loc}: {p.msg}" for p in listed)
    return problem_response(422, "validation", detail, listed)


async def _cvguard(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, TextTooLarge | PayloadTooLarge):
        return problem_response(413, "too-large", str(exc))
    if isinstance(exc, InputError):
        errors = [ProblemError(loc=exc.field, msg=str(exc))] if exc.field else None
        return problem_response(422, "invalid-input", str(exc), errors)
    if isinstance(exc, Overloaded):
        log.warning("back-pressure on %s %s: %s", request.method, request.url.path, exc)
        response = problem_response(
            503, "overloaded", "the workers are far behind; nothing of this request was queued: retry later"
        )
        response.headers["Retry-After"] = str(exc.retry_after_s)
        return response
    if isinstance(exc, StoreError):
        log.error("store error while handling %s %s: %s", request.method, request.url.path, exc)
        return problem_response(503, "store-unavailable", "the event store is unavailable; retry later")
    log.error("%s while handling %s %s: %s", type(exc).__name__, request.method, request.url.path, exc)
    return problem_response(500, "internal", "cvguard could not process this request")


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    slug = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "-")
    response = problem_response(exc.status_code, slug, str(exc.detail))
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(500, "internal", "cvguard could not process this request")


_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def document_errors(spec: dict[str, Any]) -> None:
    """Make the OpenAPI document say what the API sends on errors: every 4xx/5xx response of every
    operation is ``application/problem+json`` with the Problem schema (FastAPI's default 422 says
    ``application/json`` with its own shape), and a ``default`` response covers the rest (a body
    too large or not UTF-8 on any route, an internal error)."""
    spec.setdefault("components", {}).setdefault("schemas", {}).setdefault(
        "Problem", Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    )
    schemas = spec["components"]["schemas"]
    for name, sub in Problem.model_json_schema(ref_template="#/components/schemas/{model}").get(
        "$defs", {}
    ).items():
        schemas.setdefault(name, sub)
    schemas["Problem"].pop("$defs", None)
    for path in spec.get("paths", {}).values():
        for operation in path.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for status, response in responses.items():
                if status.isdigit() and int(status) >= 400:
                    response["content"] = {PROBLEM_JSON: {"schema": _PROBLEM_REF}}
            responses.setdefault(
                "default",
                {
                    "description": "An error, as an RFC 9457 problem document.",
                    "content": {PROBLEM_JSON: {"schema": _PROBLEM_REF}},
                },
            )
    for unused in ("HTTPValidationError", "ValidationError"):  # FastAPI's 422 shapes, now unused
        if f'"#/components/schemas/{unused}"' not in json.dumps(spec):
            schemas.pop(unused, None)


def install(app: FastAPI) -> None:
    """Route every error to a problem document."""
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(CvguardError, _cvguard)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
