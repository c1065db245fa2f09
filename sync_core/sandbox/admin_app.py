"""The sandbox's own control API under `/_sandbox`: stats, knobs, supplier mutations, the write hold, and the
Ingram simulator's parts, changes, tokens and oracle (`ingram_admin`), and the Ploomes simulator's products,
changes, webhook deliveries and oracle (`ploomes_admin`)."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sync_core.sandbox.ingram_admin import ingram_admin_routes
from sync_core.sandbox.ploomes_admin import ploomes_admin_routes
from sync_core.sandbox.shopify_admin import shopify_admin_routes
from sync_core.sandbox.state import SandboxState
from sync_core.sandbox.verify import expected_writes, verify_store
from sync_core.sandbox.woo_admin import woo_admin_routes


async def _json_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    return data


def build_admin_app(state: SandboxState) -> Starlette:
    """Control endpoints; never shaped by latency, faults or rate limits, never counted in stats."""

    async def stats(request: Request) -> Response:
        return JSONResponse(state.stats())

    async def reset_stats(request: Request) -> Response:
        state.reset_stats()
        return JSONResponse({"ok": True})

    async def mutate(request: Request) -> Response:
        try:
            body = await _json_object(request)
            n, seed = body.get("variants", 1), body.get("seed")
            if not isinstance(n, int) or (seed is not None and not isinstance(seed, int)):
                raise ValueError("variants and seed must be integers")
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        changed = state.mutate(n, seed)
        return JSONResponse({"changed": changed, "count": len(changed)})

    async def faults(request: Request) -> Response:
        try:
            knobs = state.configure(**await _json_object(request))
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(knobs)

    async def knobs(request: Request) -> Response:
        return JSONResponse(state.knobs())

    async def release_writes(request: Request) -> Response:
        state.release_writes()
        return JSONResponse({"ok": True})

    async def verify(request: Request) -> Response:
        try:
            m = Decimal(request.query_params.get("multiplier", "1"))
            k = Decimal(request.query_params.get("markup_percent", "0"))
        except InvalidOperation:
            return JSONResponse({"error": "multiplier and markup_percent must be numbers"}, status_code=400)
        report = verify_store(state, m, k).to_json()
        report["expected_writes"] = expected_writes(state, m, k)
        return JSONResponse(report)

    return Starlette(
        routes=[
            Route("/stats", stats, methods=["GET"]),
            Route("/reset-stats", reset_stats, methods=["POST"]),
            Route("/mutate", mutate, methods=["POST"]),
            Route("/faults", faults, methods=["POST"]),
            Route("/knobs", knobs, methods=["GET"]),
            Route("/release-writes", release_writes, methods=["POST"]),
            Route("/verify", verify, methods=["GET"]),
            *ingram_admin_routes(state),
            *ploomes_admin_routes(state),
            *woo_admin_routes(state.woo),
            *shopify_admin_routes(state.shopify),
        ]
    )
