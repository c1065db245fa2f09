"""Simulator of a WooCommerce store's REST API v3 (contracts/woocommerce.md), served under `/woocommerce`
(the store URL): `GET /wp-json/wc/v3` (the route index; `/variations` listed from version 10.3),
`GET /wp-json/wc/v3/products`, `/products/{id}/variations`, `/variations` (10.3+, else 404 rest_no_route);
any other `/wp-json/...` is 404 rest_no_route. Listings as woo_query says, with X-WP-Total,
X-WP-TotalPages and Link.

Order per call: count it, the faults (`down`: 500; `html_status`: an HTML page with that status;
`rate_limit_per_s`: 429 HTML with Retry-After), then the credentials: HTTP Basic ck:cs, or `consumer_key`
and `consumer_secret` in the query (the only way while `drop_authorization` is on: "Consumer key is
missing."); the route index is public unless wrong credentials are sent.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sync_core.sandbox.middleware import route_template
from sync_core.sandbox.woo_catalogue import product_json, variation_json
from sync_core.sandbox.woo_query import InvalidParam, Listing, error, invalid
from sync_core.sandbox.woo_state import WooState

INDEX = "/wp-json/wc/v3"
SECRET_PARAMS = ("consumer_key", "consumer_secret")
_REASONS = {403: "Forbidden", 429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway"}
_REASONS |= {503: "Service Unavailable", 200: "Welcome", 401: "Unauthorized", 404: "Not Found"}


def html_page(status: int, headers: dict[str, str] | None = None) -> HTMLResponse:
    """A host's (or a WAF's, or a theme's) HTML page with ``status``."""
    reason = _REASONS.get(status, "Error")
    body = f"<!DOCTYPE html><html><head><title>{status} {reason}</title></head><body><h1>{reason}</h1></body></html>"
    return HTMLResponse(body, status, headers=headers)


def _basic(headers: Headers) -> tuple[str, str] | None:
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        key, _, secret = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return ("", "")
    return key, secret


class WooMiddleware:
    """Wraps the simulator (see the module docstring for the order of the checks)."""

    def __init__(self, app: ASGIApp, *, state: WooState, routes: list[BaseRoute]) -> None:
        self.app, self.state, self.routes = app, state, routes

    def _refusal(self, scope: Scope, query: dict[str, str]) -> Response | None:
        state = self.state
        fault = state.fault()
        if fault is not None:
            kind, status, wait = fault
            if kind == "down":
                message = "<p>There has been a critical error on this website.</p>"
                return error(500, "internal_server_error", message)
            extra = {"Retry-After": str(math.ceil(wait))} if wait is not None else None
            return html_page(status, extra)
        index = scope["path"].rstrip("/").endswith(INDEX)
        refused = state.authenticate(_basic(Headers(scope=scope)), query, index)
        return error(*refused) if refused is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = self.state
        query = dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True))
        shown = urlencode([(k, "REDACTED" if k in SECRET_PARAMS else v) for k, v in query.items()])
        state.note_request(scope["method"], route_template(self.routes, scope), shown)
        refusal = self._refusal(scope, query) if "/wp-json" in scope["path"] else None
        if refusal is not None:
            state.note_status(refusal.status_code)
            await refusal(scope, receive, send)
            return

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                state.note_status(int(message["status"]))
            await send(message)

        await self.app(scope, receive, counting_send)


def store_url(request: Request) -> str:
    """The store's URL (where the app is mounted)."""
    return f"{request.url.scheme}://{request.url.netloc}{request.scope.get('root_path', '')}".rstrip("/")


def _links(request: Request, listing: Listing, pages: int) -> str:
    def at(page: int) -> str:
        params = [
            (k, v) for k, v in request.query_params.multi_items() if k not in SECRET_PARAMS and k != "page"
        ]
        return str(request.url.replace(query=urlencode([*params, ("page", str(page))])))

    links = []
    if 1 < listing.page <= pages + 1:
        links.append(f'<{at(listing.page - 1)}>; rel="prev"')
    if listing.page < pages:
        links.append(f'<{at(listing.page + 1)}>; rel="next"')
    return ", ".join(links)


def _route_index(state: WooState, request: Request) -> dict[str, Any]:
    names = ["", "/products", "/products/(?P<id>[\\d]+)", "/products/batch"]
    names += [
        "/products/(?P<product_id>[\\d]+)/variations",
        "/products/(?P<product_id>[\\d]+)/variations/batch",
    ]
    if state.knobs.serves_variations:
        names.append("/variations")
    route = {"namespace": "wc/v3", "methods": ["GET"], "endpoints": [{"methods": ["GET"], "args": {}}]}
    return {
        "namespace": "wc/v3",
        "routes": {f"/wc/v3{name}": dict(route) for name in names},
        "_links": {"up": [{"href": f"{store_url(request)}/wp-json/"}]},
    }


def build_woo_app(state: WooState) -> Starlette:
    """The WooCommerce simulator over ``state`` (mount it at the store's path, e.g. `/woocommerce`)."""

    def answer(request: Request, records: list[dict[str, Any]]) -> Response:
        try:
            listing = Listing.parse(request.query_params)
        except InvalidParam as exc:
            return invalid(exc)
        matching = listing.select(records, lambda r: r["date_created_gmt"])
        rows = listing.page_of(matching)
        state.served(len(rows))
        pages = math.ceil(len(matching) / listing.per_page)
        headers = {"X-WP-Total": str(len(matching)), "X-WP-TotalPages": str(pages)}
        link = _links(request, listing, pages)
        return JSONResponse(rows, headers={**headers, "Link": link} if link else headers)

    def variations(request: Request, parent_ids: list[int] | None = None) -> list[dict[str, Any]]:
        with state.lock:
            return [
                variation_json(v, state.products[v.parent_id], store_url(request))
                for v in state.variations.values()
                if parent_ids is None or v.parent_id in parent_ids
            ]

    async def index(request: Request) -> Response:
        return JSONResponse(_route_index(state, request))

    async def products(request: Request) -> Response:
        with state.lock:
            prices: dict[int, list[Any]] = {}
            for v in state.variations.values():
                prices.setdefault(v.parent_id, []).append(v.price)
            records = [
                product_json(p, store_url(request), prices.get(p.id, [])) for p in state.products.values()
            ]
        if "sku" in request.query_params:  # a lookup also finds variations
            records += variations(request)
        return answer(request, records)

    async def product_variations(request: Request) -> Response:
        product_id = request.path_params["product_id"]
        if product_id not in state.products:
            return error(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
        return answer(request, variations(request, [product_id]))

    async def all_variations(request: Request) -> Response:
        if not state.knobs.serves_variations:
            return await no_route(request)
        return answer(request, variations(request))

    async def no_route(request: Request) -> Response:
        return error(404, "rest_no_route", "No route was found matching the URL and request method.")

    handlers: list[tuple[str, Callable[[Request], Awaitable[Response]]]] = [
        (INDEX, index),
        (INDEX + "/", index),
        (INDEX + "/products", products),
        (INDEX + "/products/{product_id:int}/variations", product_variations),
        (INDEX + "/variations", all_variations),
        ("/wp-json/{rest:path}", no_route),
    ]
    routes: list[BaseRoute] = [Route(path, handler, methods=["GET"]) for path, handler in handlers[:-1]]
    routes.append(Route(handlers[-1][0], no_route))  # any method
    return Starlette(routes=routes, middleware=[Middleware(WooMiddleware, state=state, routes=routes)])
