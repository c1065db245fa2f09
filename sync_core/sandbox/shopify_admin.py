"""The Shopify part of the sandbox's control API (mounted with the rest of `/_sandbox`):

GET  /shopify/knobs                 the bucket (maximum_available, restore_rate, currently_available),
                                    throttle_as_429, down, refuse_credentials
POST /shopify/knobs {knob: value}   change them (400 naming a wrong one, nothing changed then)
GET  /shopify/variants              the live variant gids, the deleted ones, the credentials
POST /shopify/change {"ids" | "count", "fields"?: ["price", "stock"], "seed"?}
                                    new prices (updatedAt = now) and/or stock at an active location (only
                                    that level's updated_at moves)
POST /shopify/delete {"ids" | "count"}
POST /shopify/expire-tokens         issued tokens are refused from now on (401)
GET  /shopify/stats                 calls, statuses, THROTTLED answers, MAX_COST_EXCEEDED refusals, costs
POST /shopify/reset-stats
GET  /shopify/oracle                {"rows": the rows a correct full sync holds, "count"} (shopify_state)
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sync_core.sandbox.control_bodies import json_object
from sync_core.sandbox.shopify_catalogue import gid
from sync_core.sandbox.shopify_state import ShopifyState


def _selection(body: dict[str, Any]) -> tuple[list[str] | None, int | None]:
    ids, count = body.get("ids"), body.get("count")
    if ids is not None and not (isinstance(ids, list) and all(isinstance(i, str) for i in ids)):
        raise ValueError("ids must be a list of variant gids")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 0):
        raise ValueError("count must be a non-negative integer")
    if ids is None and count is None:
        raise ValueError("give ids or count")
    return ids, count


def _bad(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=400)


def shopify_admin_routes(state: ShopifyState) -> list[BaseRoute]:
    """The `/shopify/...` control routes over ``state``."""

    async def knobs(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse(state.knobs())
        try:
            return JSONResponse(state.configure(**await json_object(request)))
        except (ValueError, TypeError) as exc:
            return _bad(str(exc))

    async def variants(request: Request) -> Response:
        with state.lock:
            body = {
                "live": state.variant_ids(),
                "deleted": [gid("ProductVariant", n) for n in sorted(state.deleted)],
                "token": state.token,
                "client_id": state.client_id,
                "client_secret": state.client_secret,
            }
        return JSONResponse(body)

    async def change(request: Request) -> Response:
        try:
            body = await json_object(request)
            ids, count = _selection(body)
            fields, seed = body.get("fields", ["price", "stock"]), body.get("seed")
            if not isinstance(fields, list) or (seed is not None and not isinstance(seed, int)):
                raise ValueError("fields must be a list and seed an integer")
            changed = state.change(ids, count=count, fields=fields, seed=seed)
        except ValueError as exc:
            return _bad(str(exc))
        return JSONResponse({"changed": changed, "count": len(changed)})

    async def delete(request: Request) -> Response:
        try:
            ids, count = _selection(await json_object(request))
        except ValueError as exc:
            return _bad(str(exc))
        deleted = state.delete(ids, count=count)
        return JSONResponse({"deleted": deleted, "count": len(deleted)})

    async def expire(request: Request) -> Response:
        return JSONResponse({"expired": state.expire_tokens()})

    async def stats(request: Request) -> Response:
        return JSONResponse(state.stats())

    async def reset(request: Request) -> Response:
        state.reset_stats()
        return JSONResponse({"ok": True})

    async def oracle(request: Request) -> Response:
        rows = state.oracle()
        return JSONResponse({"rows": rows, "count": len(rows)})

    return [
        Route("/shopify/knobs", knobs, methods=["GET", "POST"]),
        Route("/shopify/variants", variants, methods=["GET"]),
        Route("/shopify/change", change, methods=["POST"]),
        Route("/shopify/delete", delete, methods=["POST"]),
        Route("/shopify/expire-tokens", expire, methods=["POST"]),
        Route("/shopify/stats", stats, methods=["GET"]),
        Route("/shopify/reset-stats", reset, methods=["POST"]),
        Route("/shopify/oracle", oracle, methods=["GET"]),
    ]
