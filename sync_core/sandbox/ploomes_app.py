"""Simulator of the Ploomes CRM API (contracts/ploomes.md), served under `/ploomes` (PLOOMES_BASE).

`GET /Products`, `/Products@Groups`, `/Products@Families` answer OData pages (`ploomes_odata`), with an
opaque `@odata.nextLink` while `ploomes_next_link` is on; `POST /Webhooks` registers a webhook, `GET /Webhooks`
lists them, `GET /Webhooks@Actions` lists the actions. Every call needs `User-Key`.

Order per call: count it, the latency, the User-Key (401), `ploomes_rate_limit_per_s` (429 with Retry-After
in seconds), then the shared knobs of every simulator (token bucket, 429 bursts, 5xx faults). The bodies of
those 401, 429 and 5xx answers are unspecified by the contract: they rotate between empty, HTML and text.
"""

from __future__ import annotations

import asyncio
import hmac
import itertools
import json
from collections.abc import Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sync_core.sandbox.middleware import route_template
from sync_core.sandbox.ploomes_odata import (
    FAMILY_ENTITY,
    GROUP_ENTITY,
    PRODUCTS,
    Entity,
    ODataError,
    Query,
    encode_token,
    parse_query,
    shaped,
)
from sync_core.sandbox.ploomes_state import ACTIONS
from sync_core.sandbox.state import SandboxState

_REASONS = {401: "Unauthorized", 429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway"}
_REASONS[503] = "Service Unavailable"


def unspecified_body(status: int, turn: int) -> tuple[bytes, str]:
    """(body, content type) of a refused call: empty, an HTML page or a line of text, by turn."""
    reason = _REASONS.get(status, "Error")
    shapes = (
        (b"", "text/plain"),
        (
            f"<html><head><title>{status} {reason}</title></head><body><h1>{reason}</h1></body></html>".encode(),
            "text/html",
        ),
        (f"{status} {reason}".encode(), "text/plain; charset=utf-8"),
    )
    return shapes[turn % len(shapes)]


def odata_error(message: str, status: int = 400) -> JSONResponse:
    """An OData error answer `{"error": {"code", "message"}}`."""
    return JSONResponse(
        {"error": {"code": "BadRequest" if status == 400 else str(status), "message": message}}, status
    )


def _context(request: Request, entity: str) -> str:
    return str(request.url.replace(query="")).rsplit("/", 1)[0] + f"/$metadata#{entity}"


def odata_page(
    request: Request, entity: str, rows: list[dict[str, Any]], query: Query, total: int, link: bool
) -> JSONResponse:
    """The OData answer of one page; `link`: add `@odata.nextLink` when more rows follow."""
    body: dict[str, Any] = {"@odata.context": _context(request, entity), "value": rows}
    following = query.skip + len(rows)
    if link and rows and following < total:
        token = encode_token(query.options, following)
        body["@odata.nextLink"] = str(request.url.replace(query=f"$skiptoken={token}"))
    return JSONResponse(body)


class PloomesMiddleware:
    """Wraps the Ploomes simulator (see the module docstring for the order of the checks)."""

    def __init__(self, app: ASGIApp, *, state: SandboxState, routes: Sequence[BaseRoute]) -> None:
        self.app, self.state, self.routes = app, state, routes
        self._turns = itertools.count()

    def _decide(self, headers: Headers) -> tuple[int | None, dict[str, str]]:
        state, ploomes = self.state, self.state.ploomes
        given = headers.get("user-key", "").encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(given, state.config.ploomes_user_key.encode()):
            ploomes.note("unauthorized_401")
            return 401, {}
        with state.lock:
            wait = state.traffic.take_token(state.config.ploomes_rate_limit_per_s, "ploomes-own-limit")
        if wait is not None:
            state.note_throttled()
            ploomes.note("throttled_429")
            return 429, {"Retry-After": str(wait)}
        decision = state.admit("ploomes")
        if decision is None:
            return None, {}
        ploomes.note("throttled_429" if decision[0] == 429 else "faults")
        return decision

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state, method = self.state, scope["method"]
        template = route_template(self.routes, scope)
        state.record_request(f"ploomes {method} {template}")
        state.ploomes.note_request(method, template, scope["query_string"].decode("latin-1"))
        if state.config.latency_ms > 0:
            await asyncio.sleep(state.config.latency_ms / 1000)
        status, extra = self._decide(Headers(scope=scope))
        if status is not None:
            body, kind = unspecified_body(status, next(self._turns))
            raw = [(b"content-type", kind.encode()), (b"content-length", str(len(body)).encode())]
            raw += [(k.lower().encode(), v.encode()) for k, v in extra.items()]
            await send({"type": "http.response.start", "status": status, "headers": raw})
            await send({"type": "http.response.body", "body": body})
            state.record_status(status)
            state.ploomes.note_status(status)
            return

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                state.record_status(int(message["status"]))
                state.ploomes.note_status(int(message["status"]))
            await send(message)

        await self.app(scope, receive, counting_send)


def build_ploomes_app(state: SandboxState) -> Starlette:
    """The Ploomes simulator over `state` (`state.ploomes` holds its products, webhooks and traffic)."""
    ploomes = state.ploomes

    def parsed(request: Request, entity: Entity) -> Query | JSONResponse:
        try:
            return parse_query(request.query_params, entity, state.config.ploomes_page_cap)
        except ODataError as exc:
            return odata_error(str(exc))

    async def products(request: Request) -> Response:
        query = parsed(request, PRODUCTS)
        if isinstance(query, Response):
            return query
        ploomes.change_while_paging()
        page, total = ploomes.select(query)
        expand = "OtherProperties" in query.expand
        rows = [shaped(product.to_json(expand), query.select, query.expand) for product in page]
        return odata_page(request, "Products", rows, query, total, state.config.ploomes_next_link)

    def listing(entity: Entity, source: list[dict[str, Any]]) -> Any:
        async def answer(request: Request) -> Response:
            query = parsed(request, entity)
            if isinstance(query, Response):
                return query
            with state.lock:
                rows = query.sort([dict(row) for row in source], entity.tiebreak)
            matching = [row for row in rows if query.matches(row)]
            page = [shaped(row, query.select, set()) for row in matching[query.skip : query.skip + query.top]]
            return odata_page(
                request, entity.name, page, query, len(matching), state.config.ploomes_next_link
            )

        return answer

    async def webhooks(request: Request) -> Response:
        with state.lock:
            hooks = [dict(hook) for hook in ploomes.webhooks]
        return JSONResponse({"@odata.context": _context(request, "Webhooks"), "value": hooks})

    async def register(request: Request) -> Response:
        try:
            hook = ploomes.register_webhook(json.loads(await request.body() or b"null"))
        except (ValueError, UnicodeDecodeError) as exc:
            return odata_error(str(exc))
        return JSONResponse({"@odata.context": _context(request, "Webhooks"), "value": [hook]})

    async def actions(request: Request) -> Response:
        """The actions, paged by $skip and $top as any OData listing (a reader pages past the last one)."""
        try:
            skip = int(request.query_params.get("$skip", "0"))
            top = int(request.query_params.get("$top", str(state.config.ploomes_page_cap)))
        except ValueError:
            return odata_error("$skip and $top must be whole numbers")
        page = list(ACTIONS)[max(skip, 0) : max(skip, 0) + max(top, 0)]
        return JSONResponse({"@odata.context": _context(request, "Webhooks@Actions"), "value": page})

    routes = [
        Route("/Products", products, methods=["GET"]),
        Route("/Products@Groups", listing(GROUP_ENTITY, ploomes.groups), methods=["GET"]),
        Route("/Products@Families", listing(FAMILY_ENTITY, ploomes.families), methods=["GET"]),
        Route("/Webhooks", webhooks, methods=["GET"]),
        Route("/Webhooks", register, methods=["POST"]),
        Route("/Webhooks@Actions", actions, methods=["GET"]),
    ]
    return Starlette(routes=routes, middleware=[Middleware(PloomesMiddleware, state=state, routes=routes)])
