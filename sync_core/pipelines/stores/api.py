"""What the store-inventory pipeline adds to `catalog-sync serve` (its ``Pipeline.service``): the stores API
(`/stores`, `/inventory`, `/alerts`) and the dashboard (`/dashboard`, ``dashboard``).

Changes (add, enable, disable, remove, sync) need ``Authorization: Bearer <API_TOKEN>``; reads need it only
with API_TOKEN_FOR_READS=true. Refusals use the service's error envelope: a bad field 400
(``invalid_request``), an unknown store 404, a duplicate name 409 (``conflict``), a disabled store's sync 409.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from catalog_sync.service.auth import READ_REFUSALS
from catalog_sync.service.deps import SettingsDep, WriteAccess, require_read
from catalog_sync.service.errors import OTHER_ERRORS, error_response, error_responses
from sync_core.errors import ConfigError
from sync_core.pipelines.stores import alerts, integrations, launch, views

REFUSED = {
    400: "A field is wrong (code `invalid_request`); the message names it",
    401: "A missing or wrong API token (code `unauthorized`)",
    404: "No store integration of that name (code `not_found`)",
    409: "A store of that name exists, or the store is disabled (code `conflict`)",
    503: "API_TOKEN is not set, or the state store cannot answer (code `unavailable`)",
}


class NewStore(BaseModel):
    """A store integration to add (the same checks as `catalog-sync stores add`)."""

    name: str = Field(examples=["main-shop"])
    platform: str = Field(examples=["shopify"], description="shopify, woocommerce or sazito")
    url: str = Field(examples=["https://main-shop.myshopify.com"], description="the store's URL")
    credentials_env: str | None = Field(None, description="environment variable holding the credential")
    credentials_block: str | None = Field(None, description="Prefect Secret block holding the credential")
    threshold: int | None = Field(None, description="low-stock threshold (default LOW_STOCK_THRESHOLD)")
    active: bool = True
    auto_sync: bool = True
    sync_now: bool = Field(False, description="start its first sync at once (when active)")


def _json(data: Any, status: int = 200) -> Response:
    import orjson

    return Response(
        orjson.dumps({"data": data, "error": None}), status_code=status, media_type="application/json"
    )


def _refusal(exc: ConfigError, status: int = 400) -> Response:
    text = str(exc).strip().splitlines()[0]
    code = {404: "not_found", 409: "conflict"}.get(status, "invalid_request")
    return error_response(status, code, text)


def add_store(settings: Any, new: NewStore) -> tuple[int, dict[str, Any] | ConfigError]:
    """(status, the store's view, or the refusal) of adding ``new``; starts its sync when asked."""
    try:
        row = integrations.add(
            settings,
            integrations.NewIntegration(
                name=new.name,
                platform=new.platform,
                store_url=new.url,
                credentials_env=new.credentials_env,
                credentials_block=new.credentials_block,
                threshold=new.threshold,
                active=new.active,
                auto_sync=new.auto_sync,
            ),
        )
    except integrations.NameTaken as exc:
        return 409, exc
    except ConfigError as exc:
        return 400, exc
    view = views.integration_view(row, settings.low_stock_threshold)
    view["sync_started"] = bool(new.sync_now and row.active and launch.start_sync(settings, row.name))
    return 201, view


writes = APIRouter(tags=["stores"], responses=error_responses(REFUSED) | OTHER_ERRORS)
reads = APIRouter(tags=["stores"], responses=OTHER_ERRORS)


@writes.post("/stores", status_code=201, summary="Add a store integration")
async def post_store(new: NewStore, settings: SettingsDep, _: WriteAccess) -> Response:
    status, found = await run_in_threadpool(add_store, settings, new)
    return _refusal(found, status) if isinstance(found, ConfigError) else _json(found, status)


@reads.get("/stores", summary="Every store integration with its last sync")
async def get_stores(settings: SettingsDep) -> Response:
    return _json(await run_in_threadpool(views.overview, settings.database_url, settings.low_stock_threshold))


@reads.get("/stores/{name}", summary="A store integration and its sync log")
async def get_store(
    name: str, settings: SettingsDep, runs: Annotated[int, Query(ge=1, le=200)] = 20
) -> Response:
    def read() -> dict[str, Any]:
        row = integrations.get(settings.database_url, name)
        return views.integration_view(row, settings.low_stock_threshold) | {
            "syncs": views.sync_log(settings.database_url, name, limit=runs),
            "syncing": name in launch.syncing(),
        }

    try:
        return _json(await run_in_threadpool(read))
    except ConfigError as exc:
        return _refusal(exc, 404)


@writes.post("/stores/{name}/enable", summary="Include a store in syncs again")
async def enable_store(name: str, settings: SettingsDep, _: WriteAccess) -> Response:
    return await _set_active(name, settings, True)


@writes.post("/stores/{name}/disable", summary="Stop syncing a store (it is kept)")
async def disable_store(name: str, settings: SettingsDep, _: WriteAccess) -> Response:
    return await _set_active(name, settings, False)


async def _set_active(name: str, settings: Any, active: bool) -> Response:
    try:
        row = await run_in_threadpool(integrations.set_active, settings.database_url, name, active)
    except ConfigError as exc:
        return _refusal(exc, 404)
    return _json(views.integration_view(row, settings.low_stock_threshold))


@writes.delete("/stores/{name}", summary="Remove a store with its inventory and alerts")
async def delete_store(name: str, settings: SettingsDep, _: WriteAccess) -> Response:
    try:
        return _json(await run_in_threadpool(integrations.remove, settings.database_url, name))
    except ConfigError as exc:
        return _refusal(exc, 404)


@writes.post("/stores/{name}/sync", status_code=202, summary="Start a sync of a store now")
async def sync_store(name: str, settings: SettingsDep, _: WriteAccess) -> Response:
    try:
        started = await run_in_threadpool(launch.start_sync, settings, name)
    except integrations.UnknownStore as exc:
        return _refusal(exc, 404)
    except ConfigError as exc:  # disabled
        return _refusal(exc, 409)
    return _json({"store": name, "started": started, "already_syncing": not started}, 202)


@reads.get("/inventory", summary="The inventory by SKU across stores")
async def get_inventory(
    settings: SettingsDep,
    search: Annotated[str, Query(max_length=200, description="part of a SKU or title")] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = 50,
    low: Annotated[bool, Query(description="only SKUs low somewhere")] = False,
) -> Response:
    found = await run_in_threadpool(
        views.inventory,
        settings.database_url,
        settings.low_stock_threshold,
        search=search,
        page=page,
        per_page=per_page,
        low_only=low,
    )
    return _json(found)


@reads.get("/alerts", summary="Low-stock alerts, newest first")
async def get_alerts(
    settings: SettingsDep,
    open: Annotated[bool, Query(description="only the open ones")] = False,  # noqa: A002
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
) -> Response:
    found = await run_in_threadpool(alerts.alerts, settings.database_url, open_only=open, limit=limit)
    return _json(views.alert_views(found))


def install(app: FastAPI) -> None:
    """Add the stores API and the dashboard."""
    from sync_core.pipelines.stores import dashboard

    app.include_router(writes)
    app.include_router(reads, dependencies=[Depends(require_read)], responses=READ_REFUSALS)
    dashboard.install(app)
