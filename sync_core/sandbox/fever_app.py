"""Simulator of the Fever events provider (contracts/fever.md), served under `/fever`.

`GET /api/events` streams the generated feed (`fever_feed`), each answer the next fetch number (a HEAD
serves none);
`GET /sample` serves the contract's real sample unchanged. Latency, faults and rate limits apply to both.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from sync_core.sandbox.fever_feed import feed_chunks
from sync_core.sandbox.middleware import SandboxMiddleware
from sync_core.sandbox.state import SandboxState

XML = "application/xml"
SAMPLE_RESOURCE = "data/fever_response_2.xml"


def fever_error(status: int, error: str) -> dict[str, Any]:
    """The body of a shaped failure (the real provider documents none): `{"status", "error"}`."""
    return {"status": status, "error": error}


@cache
def sample_feed() -> bytes:
    """The contract's real sample answer, as packaged with the sandbox."""
    return resources.files("sync_core.sandbox").joinpath(SAMPLE_RESOURCE).read_bytes()


def build_fever_app(state: SandboxState) -> Starlette:
    """The Fever simulator over `state`: no auth, XML, the feed's size and seed from `state.config`."""

    async def events(request: Request) -> Response:
        if request.method == "HEAD":  # headers only: no answer served, so the next GET's is unchanged
            return Response(media_type=XML)
        fetch_number = state.next_fever_fetch()
        return StreamingResponse(feed_chunks(state.config.fever_feed(), fetch_number), media_type=XML)

    async def sample(request: Request) -> Response:
        return Response(sample_feed(), media_type=XML)

    routes = [
        Route("/api/events", events, methods=["GET", "HEAD"]),
        Route("/sample", sample, methods=["GET"]),
    ]
    shaping = Middleware(SandboxMiddleware, state=state, api="fever", routes=routes, error_body=fever_error)
    return Starlette(routes=routes, middleware=[shaping])
