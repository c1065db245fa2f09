"""The Ingram part of the sandbox's control API, under `/_sandbox/ingram`: parts, changes, tokens, the oracle.

GET /ingram/parts?unknown=N            the known part numbers, and N (default 10) that are never known
POST /ingram/change {"parts", "seed"?}  change price and/or stock of that many parts (seeded)
POST /ingram/expire-tokens              every issued token expires now (the next catalog call gets 401)
GET /ingram/correlation-ids             every IM-CorrelationID seen since the last stats reset, in order
POST /ingram/oracle {"parts"?, "details"?}  the table rows a correct sync holds (all known parts by default)
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sync_core.sandbox.ingram_oracle import ingram_oracle, oracle_json
from sync_core.sandbox.state import SandboxState


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    data = json.loads(raw) if raw.strip() else {}
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    return data


def _bad(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=400)


def ingram_admin_routes(state: SandboxState) -> list[BaseRoute]:
    """The `/ingram/...` control routes (mounted with the rest of `/_sandbox`)."""

    async def parts(request: Request) -> Response:
        raw = request.query_params.get("unknown", "10")
        if not raw.isdigit():
            return _bad("unknown must be a non-negative integer")
        return JSONResponse({"parts": state.ingram_parts, "unknown": state.ingram.unknown_parts(int(raw))})

    async def change(request: Request) -> Response:
        try:
            body = await _body(request)
        except ValueError as exc:
            return _bad(str(exc))
        n, seed = body.get("parts", 1), body.get("seed")
        if not isinstance(n, int) or isinstance(n, bool) or (seed is not None and not isinstance(seed, int)):
            return _bad("parts and seed must be integers")
        changed = state.change_ingram(n, seed)
        return JSONResponse({"changed": changed, "count": len(changed)})

    async def expire_tokens(request: Request) -> Response:
        return JSONResponse({"expired": state.ingram.expire_tokens()})

    async def correlation_ids(request: Request) -> Response:
        with state.lock:
            ids = list(state.ingram.traffic.correlation_ids)
        return JSONResponse({"correlation_ids": ids})

    async def oracle(request: Request) -> Response:
        try:
            body = await _body(request)
        except ValueError as exc:
            return _bad(str(exc))
        wanted, details = body.get("parts"), body.get("details", True)
        if wanted is not None and not (isinstance(wanted, list) and all(isinstance(p, str) for p in wanted)):
            return _bad("parts must be a list of part-number strings")
        if not isinstance(details, bool):
            return _bad("details must be true or false")
        rows = ingram_oracle(state, state.ingram_parts if wanted is None else wanted, details=details)
        return JSONResponse({"rows": oracle_json(rows)})

    return [
        Route("/ingram/parts", parts, methods=["GET"]),
        Route("/ingram/change", change, methods=["POST"]),
        Route("/ingram/expire-tokens", expire_tokens, methods=["POST"]),
        Route("/ingram/correlation-ids", correlation_ids, methods=["GET"]),
        Route("/ingram/oracle", oracle, methods=["POST"]),
    ]
