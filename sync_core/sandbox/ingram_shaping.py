"""The Ingram simulator's error bodies and the middleware that counts, delays, throttles or fails its calls.

Order per call: count it (endpoint, in flight, correlation id), the latency, the endpoint's calls-a-minute
window (429 with X-RateLimit-* and Retry-After), the shared knobs of every simulator (token bucket, 429
bursts, 5xx faults: a 503 says "maintenance"), then an open maintenance window (503).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import Headers
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sync_core.sandbox.middleware import route_template, send_json
from sync_core.sandbox.state import SandboxState

TOKEN_PATH = "/oauth/oauth20/token"
PNA_PATH = "/resellers/v6/catalog/priceandavailability"
DETAILS_PATH = "/resellers/v6/catalog/details/{part}"
ENDPOINT_OF = {TOKEN_PATH: "token", PNA_PATH: "pna", DETAILS_PATH: "details"}
MAINTENANCE_MESSAGE = "Service unavailable: the API is in its scheduled maintenance window, retry later"
SYSTEM_MESSAGE = "Some unexpected error occured, please contact support team for more details."
_TYPES = {
    400: "/errors/validation-failed",
    401: "/errors/unauthorized",
    404: "Validation error",
    503: "/errors/service-unavailable",
}
_ids = itertools.count(1)
FieldError = tuple[str, str | None, str]  # (field, value, message)


def ingram_error(status: int, message: str, fields: Sequence[FieldError] = ()) -> dict[str, Any]:
    """The Ingram error body `{"errors": [{"id", "type", "message", "fields"?}]}`; a 429's is the contract's
    `{"errors": [{"field": null, "message": "too many requests"}]}`."""
    if status == 429:
        return {"errors": [{"field": None, "message": "too many requests"}]}
    stamp = datetime.now(UTC).isoformat(timespec="milliseconds")
    error: dict[str, Any] = {
        "id": next(_ids) if status == 404 else f"SBX-{next(_ids)}-{stamp}",  # the 404 sample's id is a number
        "type": _TYPES.get(status, "/errors/system-errors"),
        "message": message,
    }
    if fields:
        error["fields"] = [{"field": f, "value": v, "message": m} for f, v, m in fields]
    return {"errors": [error]}


def shaped_error(status: int) -> dict[str, Any]:
    """The body of a call the sandbox throttles or fails before serving it."""
    return ingram_error(status, MAINTENANCE_MESSAGE if status == 503 else SYSTEM_MESSAGE)


def _encoded(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]


class IngramMiddleware:
    """Wraps the Ingram simulator (see the module docstring for the order of the checks)."""

    def __init__(self, app: ASGIApp, *, state: SandboxState, routes: Sequence[BaseRoute]) -> None:
        self.app, self.state, self.routes = app, state, routes

    def _decide(self, endpoint: str) -> tuple[int | None, dict[str, str]]:
        """(status to answer now or None to serve, headers to add to the answer)."""
        state, ingram = self.state, self.state.ingram
        per_minute = int(getattr(state.config, f"ingram_{endpoint}_rate_per_min"))
        with state.lock:
            allowed, limit_headers = ingram.traffic.take(endpoint, per_minute)
        if not allowed:
            state.note_throttled()
            return 429, limit_headers
        decision = state.admit("ingram")
        if decision is not None:
            status, headers = decision
            if status == 429:
                wait = headers["Retry-After"]
                with state.lock:
                    limits = ingram.traffic.limit_headers(
                        endpoint, per_minute, int(wait) if wait.isdigit() else 1
                    )
                headers = {**limits, **headers}
            return status, headers
        if ingram.in_maintenance():
            return 503, {}
        return None, limit_headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = self.state
        template = route_template(self.routes, scope)
        state.record_request(f"ingram {scope['method']} {template}")
        endpoint = ENDPOINT_OF.get(template)
        if endpoint is None:  # the router's own 404/405
            await self.app(scope, receive, self._counting(send, {}, None))
            return
        headers = Headers(scope=scope)
        with state.lock:
            arrived = state.ingram.traffic.arrive(
                endpoint, headers.get("im-correlationid"), headers.get("im-countrycode")
            )
        answered = [500]  # what the client got, for the endpoint's statuses (500 if the app raised)
        try:
            if state.config.latency_ms > 0:
                await asyncio.sleep(state.config.latency_ms / 1000)
            status, extra = self._decide(endpoint)
            if status is not None:
                await send_json(send, status, shaped_error(status), extra)
                state.record_status(status)
                answered[0] = status
                return
            await self.app(scope, receive, self._counting(send, extra, answered))
        finally:
            with state.lock:
                state.ingram.traffic.leave(endpoint, arrived, answered[0])

    def _counting(self, send: Send, extra: dict[str, str], answered: list[int] | None) -> Send:
        """`send`, counting the answer's status and adding `extra` headers to it."""

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = int(message["status"])
                self.state.record_status(status)
                if answered is not None:
                    answered[0] = status
                if extra:
                    message = {**message, "headers": [*message.get("headers", []), *_encoded(extra)]}
            await send(message)

        return counting_send
