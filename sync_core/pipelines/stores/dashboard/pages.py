"""The dashboard's pages (GET): the login form, the stores, one store with its sync log, the inventory by SKU
across stores, the alerts. Every page but the login needs a login."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from sync_core.pipelines.stores import alerts, launch, views
from sync_core.pipelines.stores.dashboard.forms import empty_add_form
from sync_core.pipelines.stores.dashboard.render import Problem, db, page, prefix_of, safe_next
from sync_core.pipelines.stores.dashboard.session import LoggedIn, Login, SettingsPage, token_of
from sync_core.pipelines.stores.platforms import PLATFORMS
from sync_core.settings import Settings

router = APIRouter(prefix="/dashboard", include_in_schema=False)
REFRESH_S = 3  # while a store syncs, its pages reload themselves (no script needed)
PER_PAGE = 50
LOG_RUNS = 50
RESOLVED_SHOWN = 50
NEEDS_TOKEN = "the dashboard needs API_TOKEN: set it in the service's environment and restart it"


def login_page(
    request: Request, *, status: int = 200, error: str | None = None, next_page: str = ""
) -> HTMLResponse:
    """The login form (``error`` shown above it)."""
    return page(
        request,
        "login.html",
        status=status,
        error=error,
        unset=False,
        next=safe_next(next_page, prefix_of(request)),
        expired=request.query_params.get("expired") == "1",
    )


def token_unset_page(request: Request) -> HTMLResponse:
    """503: no API_TOKEN, no login, and the page says so."""
    return page(request, "login.html", status=503, error=NEEDS_TOKEN, unset=True, next="", expired=False)


def _syncing(store: dict[str, Any], running: set[str]) -> bool:
    last = store.get("last_sync") or {}
    return store["name"] in running or last.get("status") == "running"


async def stores_page(
    request: Request,
    settings: Settings,
    login: Login,
    *,
    form: dict[str, Any] | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The stores with their last sync, and the add-store form (``form`` as entered, ``error`` its refusal)."""
    stores = await db(views.overview, settings.database_url, settings.low_stock_threshold)
    running = launch.syncing()
    for store in stores:
        store["syncing"] = _syncing(store, running)
    return page(
        request,
        "stores.html",
        status=status,
        login=login,
        nav="stores",
        stores=stores,
        platforms=PLATFORMS,
        form=form or empty_add_form(),
        error=error,
        default_threshold=settings.low_stock_threshold,
        refresh=REFRESH_S if any(s["syncing"] for s in stores) else None,
    )


async def store_page(
    request: Request,
    settings: Settings,
    login: Login,
    name: str,
    *,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    """One store: its settings, counts and sync log; a 404 page for an unknown name."""

    def read() -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        found = views.overview(settings.database_url, settings.low_stock_threshold, name=name)
        return (found[0] if found else None), views.sync_log(settings.database_url, name, limit=LOG_RUNS)

    store, runs = await db(read)
    if store is None:
        raise Problem(404, f"no store integration named {name[:64]!r}")
    store["syncing"] = _syncing(store, launch.syncing())
    return page(
        request,
        "store.html",
        status=status,
        login=login,
        nav="stores",
        store=store,
        runs=runs,
        error=error,
        refresh=REFRESH_S if store["syncing"] else None,
    )


@router.get("/login")
async def get_login(request: Request, settings: SettingsPage) -> Response:
    if token_of(settings) is None:
        return token_unset_page(request)
    return login_page(request, next_page=request.query_params.get("next", ""))


@router.get("")
async def get_stores(request: Request, settings: SettingsPage, login: LoggedIn) -> Response:
    return await stores_page(request, settings, login)


@router.get("/stores/{name}")
async def get_store(name: str, request: Request, settings: SettingsPage, login: LoggedIn) -> Response:
    return await store_page(request, settings, login, name)


def _page_number(text: str) -> int:
    if not text:
        return 1
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 100_000:
        raise Problem(400, f"page must be a whole number from 1 to 100,000, not {text[:64]!r}")
    return int(text)


@router.get("/inventory")
async def get_inventory(request: Request, settings: SettingsPage, login: LoggedIn) -> Response:
    query = request.query_params
    search = query.get("search", "").strip()
    if len(search) > 200:
        raise Problem(400, "search must be at most 200 characters long")
    low = query.get("low", "") in ("1", "on", "true")
    found = await db(
        views.inventory,
        settings.database_url,
        settings.low_stock_threshold,
        search=search,
        page=_page_number(query.get("page", "")),
        per_page=PER_PAGE,
        low_only=low,
    )
    return page(request, "inventory.html", login=login, nav="inventory", inv=found, search=search, low=low)


@router.get("/alerts")
async def get_alerts(request: Request, settings: SettingsPage, login: LoggedIn) -> Response:
    def read() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        url = settings.database_url
        open_now = views.alert_views(alerts.alerts(url, open_only=True))
        recent = [a for a in views.alert_views(alerts.alerts(url, limit=500)) if a["resolved_at"]]
        recent.sort(key=lambda a: a["resolved_at"], reverse=True)
        return open_now, recent[:RESOLVED_SHOWN]

    open_now, resolved = await db(read)
    return page(request, "alerts.html", login=login, nav="alerts", open_alerts=open_now, resolved=resolved)


missing = APIRouter(prefix="/dashboard", include_in_schema=False)


@missing.get("/{rest:path}")
async def no_page(rest: str, request: Request) -> Response:
    """A 404 page for any other dashboard path (installed last); `/dashboard/` is the stores."""
    if not rest:
        return RedirectResponse(prefix_of(request), status_code=307)
    raise Problem(404, f"no dashboard page at /dashboard/{rest[:64]}")
