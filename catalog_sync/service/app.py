"""The FastAPI application: routers, settings per request (once per process for /search), errors as JSON."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from catalog_sync.service import metrics, operations, search
from catalog_sync.service.search_index import EventIndex
from sync_core.errors import ConfigError, PersistenceError
from sync_core.settings import Settings, load_settings

DESCRIPTION = """
Operations view of a catalog-sync state store (SQLite or PostgreSQL), read at request time, and the events search.

* `/search`: events inside a time window, from the store (at most about a second behind the last sync)
* `/health`: database, last run per pipeline, circuits, failures; 200 when healthy, 503 when not
* `/runs`, `/failures`: recent rows as JSON
* `/metrics`: Prometheus text format; answers 200 with `catalog_sync_database_up 0` when the database is down
"""


def create_app(settings_loader: Callable[[], Settings] = load_settings) -> FastAPI:
    """The service; ``settings_loader`` is called on every operations request, so a changed environment takes
    effect there; `/search` calls it once per process (its first request), keeping its hot path cheap."""
    app = FastAPI(title="catalog-sync operations", version="0.1.0", description=DESCRIPTION)
    app.state.settings_loader = settings_loader
    app.state.search = EventIndex(settings_loader)
    app.add_exception_handler(ConfigError, _config_error)
    app.add_exception_handler(PersistenceError, _database_error)
    app.add_exception_handler(SQLAlchemyError, _database_error)
    app.include_router(search.router)  # first: routes are matched in order, and /search is the hot one
    app.include_router(operations.router)
    app.include_router(metrics.router)
    return app


def _first_line(exc: Exception) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


async def _config_error(_request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": f"configuration error: {_first_line(exc)}"}, status_code=503)


async def _database_error(_request: Request, exc: Exception) -> JSONResponse:
    # PersistenceError already names the database without its password; raw SQLAlchemy errors never do.
    message = str(exc) if isinstance(exc, PersistenceError) else f"database error: {_first_line(exc)}"
    return JSONResponse({"detail": message}, status_code=503)
