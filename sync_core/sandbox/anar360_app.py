"""Simulator of the Anar360 supplier API (contracts/anar360.md), served under `/anar360/api/360`."""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sync_core.sandbox.catalogue import now_ms
from sync_core.sandbox.middleware import SandboxMiddleware
from sync_core.sandbox.state import SandboxState

DEFAULT_LIMIT = 25
_INT = re.compile(r"-?\d+")


def anar360_error(status: int, error: str) -> dict[str, Any]:
    """The Anar360 error body: `{"statusCode", "success": false, "error"}`."""
    return {"statusCode": status, "success": False, "error": error}


def _fail(status: int, error: str) -> JSONResponse:
    return JSONResponse(anar360_error(status, error), status_code=status)


def _int_param(request: Request, name: str, default: int | None) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not _INT.fullmatch(raw.strip()):
        raise ValueError(f"{name} must be an integer")
    return int(raw)


def build_anar360_app(state: SandboxState) -> Starlette:
    """The Anar360 simulator over `state`: Bearer auth, paged and `since`-filtered product listing."""

    def authorised(request: Request) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        return scheme.lower() == "bearer" and token.strip() == state.config.anar360_token

    def denied() -> JSONResponse:
        return _fail(403, "10010")

    async def validate(request: Request) -> Response:
        if not authorised(request):
            return denied()
        return JSONResponse(
            {
                "success": True,
                "shopUrl": "https://sandbox.myanar360.com",
                "subscriptionPlan": "pro",
                "subscriptionRemaining": 27,
            }
        )

    async def list_products(request: Request) -> Response:
        if not authorised(request):
            return denied()
        try:
            page = _int_param(request, "page", 1)
            limit = _int_param(request, "limit", DEFAULT_LIMIT)
            since = _int_param(request, "since", None)
        except ValueError as exc:
            return _fail(400, str(exc))
        assert page is not None and limit is not None
        if page < 1:
            return _fail(400, "page must be >= 1 (pages are 1-based)")
        if limit < 1:
            return _fail(400, "limit must be >= 1")
        if since is not None and since > 0:
            return _fail(400, "since must be a negative offset in milliseconds from now")
        used = min(limit, state.config.anar360_max_limit)
        stuck = state.config.anar360_stuck_page
        skip = (min(page, stuck) if stuck else page) * used - used
        with state.lock:
            cat = state.catalogue
            if since is None:
                total = len(cat.supplier_products)
                items = cat.supplier_products[skip : skip + used]
            else:
                start = cat.window_start(now_ms() + since)
                total = len(cat.by_updated) - start
                window = cat.by_updated[start + skip : start + skip + used]
                items = [cat.supplier_products[pos] for _, pos in window]
            if stuck and page >= stuck:  # a provider stuck on a page: it never says the listing ended
                total = max(total, (page + 1) * used)
            body = json.dumps({"total": total, "skip": skip, "limit": used, "items": items})
        return Response(body, media_type="application/json")

    async def get_product(request: Request) -> Response:
        if not authorised(request):
            return denied()
        with state.lock:
            cat = state.catalogue
            pos = cat.product_index.get(request.path_params["product_id"])
            if pos is None:
                return _fail(404, "product not found")
            body = json.dumps(cat.supplier_products[pos])
        return Response(body, media_type="application/json")

    routes = [
        Route("/auth/validate", validate, methods=["GET"]),
        Route("/products", list_products, methods=["GET"]),
        Route("/products/{product_id}", get_product, methods=["GET"]),
    ]
    shaping = Middleware(
        SandboxMiddleware, state=state, api="anar360", routes=routes, error_body=anar360_error
    )
    return Starlette(routes=routes, middleware=[shaping])
