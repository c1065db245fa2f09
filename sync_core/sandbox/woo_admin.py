"""The WooCommerce part of the sandbox's control API (mounted with the rest of `/_sandbox`):

GET  /woocommerce/knobs               the knobs (woo_state.WooKnobs)
POST /woocommerce/knobs {name: value} set knobs (400 naming a wrong one; nothing changed then)
GET  /woocommerce/items               the sellable item ids, and the product ids by type
POST /woocommerce/change {"ids" | "count", "fields"?, "seed"?}
                                      edit items (price, sale, stock, name); date_modified moves
POST /woocommerce/sell {"ids" | "count", "quantity"?, "seed"?}
                                      an order: stock goes down, date_modified does NOT move
POST /woocommerce/delete {"ids"}      delete products or variations
GET  /woocommerce/stats               calls by path, statuses, queries, counters
POST /woocommerce/reset {"variants"?, "seed"?, "stats_only"?}
                                      the generated catalogue and the knobs again, the stats zeroed
GET  /woocommerce/oracle              the rows a correct full sync holds (woo_oracle; prices as strings)
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sync_core.sandbox.control_bodies import json_object, non_negative_int
from sync_core.sandbox.woo_oracle import oracle_json, woo_oracle
from sync_core.sandbox.woo_state import WooState


def _ids(body: dict[str, Any], required: bool = False) -> list[int] | None:
    ids = body.get("ids")
    if ids is not None and not (isinstance(ids, list) and all(type(i) is int for i in ids)):
        raise ValueError("ids must be a list of integers")
    if ids is None and (required or body.get("count") is None):
        raise ValueError("give ids" if required else "give ids or count")
    return ids


def woo_admin_routes(state: WooState) -> list[BaseRoute]:
    """The `/woocommerce/...` control routes of ``state``."""

    async def knobs(request: Request) -> Response:
        try:
            changes = await json_object(request) if request.method == "POST" else {}
            return JSONResponse(state.configure(**changes))
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

    async def items(request: Request) -> Response:
        with state.lock:
            by_type: dict[str, list[int]] = {}
            for product in state.products.values():
                by_type.setdefault(product.type, []).append(product.id)
        return JSONResponse(
            {"items": state.item_ids(), "products": {k: sorted(v) for k, v in by_type.items()}}
        )

    async def change(request: Request) -> Response:
        try:
            body = await json_object(request)
            fields = body.get("fields") or []
            if not (isinstance(fields, list) and all(isinstance(f, str) for f in fields)):
                raise ValueError("fields must be a list of strings")
            changed = state.change(
                _ids(body),
                count=non_negative_int(body, "count"),
                fields=fields,
                seed=non_negative_int(body, "seed"),
            )
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"changed": changed, "count": len(changed)})

    async def sell(request: Request) -> Response:
        try:
            body = await json_object(request)
            quantity = non_negative_int(body, "quantity", 1) or 1
            sold = state.sell(
                _ids(body),
                count=non_negative_int(body, "count"),
                quantity=quantity,
                seed=non_negative_int(body, "seed"),
            )
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"sold": sold, "count": len(sold)})

    async def delete(request: Request) -> Response:
        try:
            ids = _ids(await json_object(request), required=True)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        gone = state.delete(ids or [])
        return JSONResponse({"deleted": gone, "count": len(gone)})

    async def stats(request: Request) -> Response:
        return JSONResponse(state.stats())

    async def reset(request: Request) -> Response:
        try:
            body = await json_object(request)
            variants, seed = non_negative_int(body, "variants"), non_negative_int(body, "seed")
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        if body.get("stats_only") is True:
            state.reset_stats()
        else:
            state.reset(variants=variants, seed=seed)
        return JSONResponse({"reset": True, "items": len(state.item_ids())})

    async def oracle(request: Request) -> Response:
        rows = oracle_json(woo_oracle(state))
        return JSONResponse({"rows": rows, "count": len(rows)})

    return [
        Route("/woocommerce/knobs", knobs, methods=["GET", "POST"]),
        Route("/woocommerce/items", items, methods=["GET"]),
        Route("/woocommerce/change", change, methods=["POST"]),
        Route("/woocommerce/sell", sell, methods=["POST"]),
        Route("/woocommerce/delete", delete, methods=["POST"]),
        Route("/woocommerce/stats", stats, methods=["GET"]),
        Route("/woocommerce/reset", reset, methods=["POST"]),
        Route("/woocommerce/oracle", oracle, methods=["GET"]),
    ]
