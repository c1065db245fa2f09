"""``X-Content-Type-Options: nosniff`` on every answer, as a pure ASGI middleware.

Starlette's ``BaseHTTPMiddleware`` runs each request through a task and memory streams, which `/search`'s
hot path (thousands of requests a second) cannot afford; this one only appends a header to the start message.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

NOSNIFF = (b"x-content-type-options", b"nosniff")


class NoSniff:
    """Wraps an ASGI app; every HTTP answer it sends gets ``X-Content-Type-Options: nosniff``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                # A new list: the response object's own header list is left as it was.
                message["headers"] = [*message.get("headers", ()), NOSNIFF]
            await send(message)

        await self.app(scope, receive, send_with_header)
