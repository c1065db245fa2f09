"""ASGI middleware shared by the simulators: stats, latency, rate limit, 429 bursts and 5xx faults."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from typing import Any

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sync_core.sandbox.state import SandboxState

ErrorBody = Callable[[int, str], dict[str, Any]]
_REASONS = {
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def route_template(routes: Sequence[BaseRoute], scope: Scope) -> str:
    """The path template (e.g. "/products/{product_id}") a request would be routed to."""
    partial = None
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return str(getattr(route, "path", "?"))
        if match is Match.PARTIAL and partial is None:
            partial = str(getattr(route, "path", "?"))
    return partial or "<unmatched>"


class SandboxMiddleware:
    """Wraps one simulator: counts the request, then delays, throttles or fails it before routing."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        state: SandboxState,
        api: str,
        routes: Sequence[BaseRoute],
        error_body: ErrorBody,
    ) -> None:
        self.app, self.state, self.api, self.routes, self.error_body = app, state, api, routes, error_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = self.state
        state.record_request(f"{self.api} {scope['method']} {route_template(self.routes, scope)}")
        latency = state.config.latency_ms
        if latency > 0:
            await asyncio.sleep(latency / 1000)
        decision = state.admit(self.api)
        if decision is not None:
            status, headers = decision
            await send_json(send, status, self.error_body(status, _REASONS.get(status, "error")), headers)
            state.record_status(status)
            return

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                state.record_status(int(message["status"]))
            await send(message)

        await self.app(scope, receive, counting_send)


async def send_json(send: Send, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
    """Answer with a JSON body and extra headers straight on the ASGI channel."""
    payload = json.dumps(body).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})
