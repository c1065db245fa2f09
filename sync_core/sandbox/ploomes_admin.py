"""The Ploomes part of the sandbox's control API, under `/_sandbox/ploomes`: products, changes, webhooks, oracle.

GET /ploomes/products                 the live and deleted Ids, and the registered webhooks
POST /ploomes/change {"ids" | "count" | "fraction", "fields"?, "seed"?}
                                      new values (fields among name, price, custom_field; one at random when
                                      absent) and LastUpdateDate = now
POST /ploomes/create {"count"}        new products (CreateDate = LastUpdateDate = now)
POST /ploomes/delete {"ids" | "count"}
GET /ploomes/oracle?unserved=false    the rows a correct sync holds (ploomes_oracle)
POST /ploomes/webhooks/send {"action", "url"?, "ids" | "count", "change"?, "fields"?, "forged"?, "key"?,
                             "omit_key"?, "concurrency"?, "seed"?}
                                      make the event happen, then POST its deliveries (ploomes_webhooks)
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sync_core.sandbox.control_bodies import BadBody, json_object, non_negative_int
from sync_core.sandbox.ploomes_oracle import oracle_json, ploomes_oracle
from sync_core.sandbox.ploomes_webhooks import deliver, prepare_deliveries, summary
from sync_core.sandbox.state import SandboxState


def _ids(body: dict[str, Any]) -> list[int] | None:
    ids = body.get("ids")
    if ids is not None and not (isinstance(ids, list) and all(type(i) is int for i in ids)):
        raise BadBody("ids must be a list of integers")
    return ids


def _strings(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name) or []
    if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        raise BadBody(f"{name} must be a list of strings")
    return value


def _flag(body: dict[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise BadBody(f"{name} must be true or false")
    return value


def _bad(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=400)


def ploomes_admin_routes(state: SandboxState) -> list[BaseRoute]:
    """The `/ploomes/...` control routes (mounted with the rest of `/_sandbox`)."""
    ploomes = state.ploomes

    async def products(request: Request) -> Response:
        with state.lock:
            body = {
                "live": sorted(ploomes.products),
                "deleted": sorted(ploomes.deleted),
                "webhooks": [dict(h) for h in ploomes.webhooks],
            }
        return JSONResponse(body)

    async def change(request: Request) -> Response:
        try:
            body = await json_object(request)
            ids, count, seed = _ids(body), non_negative_int(body, "count"), non_negative_int(body, "seed")
            fraction = body.get("fraction")
            if fraction is not None and not (isinstance(fraction, int | float) and 0 <= fraction <= 1):
                raise BadBody("fraction must be a number in [0, 1]")
            if ids is None and count is None and fraction is None:
                raise BadBody("give ids, count or fraction")
            changed = ploomes.change(
                ids, count=count, fraction=fraction, fields=_strings(body, "fields"), seed=seed
            )
        except ValueError as exc:
            return _bad(str(exc))
        return JSONResponse({"changed": changed, "count": len(changed)})

    async def create(request: Request) -> Response:
        try:
            count = non_negative_int(await json_object(request), "count")
        except ValueError as exc:
            return _bad(str(exc))
        created = [p.id for p in ploomes.create(1 if count is None else count)]
        return JSONResponse({"created": created, "count": len(created)})

    async def delete(request: Request) -> Response:
        try:
            body = await json_object(request)
            ids, count = _ids(body), non_negative_int(body, "count")
        except ValueError as exc:
            return _bad(str(exc))
        if ids is None and count is None:
            return _bad("give ids or count")
        deleted = [p.id for p in ploomes.delete(ids, count=count)]
        return JSONResponse({"deleted": deleted, "count": len(deleted)})

    async def oracle(request: Request) -> Response:
        unserved = request.query_params.get("unserved", "true").lower() != "false"
        rows = oracle_json(ploomes_oracle(state, unserved=unserved))
        return JSONResponse({"rows": rows, "count": len(rows)})

    async def send(request: Request) -> Response:
        try:
            body = await json_object(request)
            url, key = body.get("url"), body.get("key")
            if url is not None and not isinstance(url, str) or key is not None and not isinstance(key, str):
                raise BadBody("url and key must be strings")
            concurrency = non_negative_int(body, "concurrency") or 1
            action = str(body.get("action", "Update"))
            deliveries = prepare_deliveries(
                state,
                action,
                url=url,
                ids=_ids(body),
                count=non_negative_int(body, "count"),
                change=_flag(body, "change", True),
                fields=_strings(body, "fields"),
                forged=_flag(body, "forged", False),
                key=key,
                omit_key=_flag(body, "omit_key", False),
                seed=non_negative_int(body, "seed"),
            )
        except ValueError as exc:
            return _bad(str(exc))
        statuses = await deliver(state, deliveries, concurrency=concurrency)
        return JSONResponse(summary(action, deliveries, statuses))

    return [
        Route("/ploomes/products", products, methods=["GET"]),
        Route("/ploomes/change", change, methods=["POST"]),
        Route("/ploomes/create", create, methods=["POST"]),
        Route("/ploomes/delete", delete, methods=["POST"]),
        Route("/ploomes/oracle", oracle, methods=["GET"]),
        Route("/ploomes/webhooks/send", send, methods=["POST"]),
    ]
