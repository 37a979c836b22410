"""What a request body must be before anything parses it: within the size limit, and UTF-8."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cvguard.api.problems import problem_response


class BodyLimit:
    """Answers 413 to a body over ``max_bytes``, declared (Content-Length) or streamed, and 400 to
    a body that is not UTF-8 (JSON must be; the framework would only say it could not parse it).

    The body is read here first and replayed to the app, so an oversized one is refused without
    being parsed and without relying on how the framework reports errors raised mid-read.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body and not body.isascii():
            try:
                body.decode("utf-8")
            except UnicodeDecodeError as exc:
                detail = (
                    f"the request body is not valid UTF-8 (byte {exc.start}: {exc.reason}); "
                    "JSON must be sent as UTF-8"
                )
                await problem_response(400, "invalid-utf8", detail)(scope, receive, send)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = f"the request body is larger than {self.max_bytes} bytes"
        await problem_response(413, "too-large", detail)(scope, receive, send)
