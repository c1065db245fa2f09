"""The FastAPI application: routers, settings per request (once per process for /search), offline docs, one
error envelope, ``nosniff`` on every answer."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from starlette.types import ASGIApp

from catalog_sync.service import metrics, operations, search
from catalog_sync.service.docs import install_docs
from catalog_sync.service.errors import OTHER_ERRORS, install_error_handlers
from catalog_sync.service.headers import NoSniff
from catalog_sync.service.search_index import EventIndex
from sync_core.settings import Settings, load_settings

TITLE = "catalog-sync operations"
DESCRIPTION = """
Operations view of a catalog-sync state store (SQLite or PostgreSQL), read at request time, and the events search.

* `/search`: events inside a time window, from the store (at most about a second behind the last sync)
* `/health`: database, last run per pipeline, circuits, failures; 200 when healthy, 503 when not
* `/runs`, `/failures`: recent rows as JSON
* `/metrics`: Prometheus text format; answers 200 with `catalog_sync_database_up 0` when the database is down

**Errors.** Every error answer of every endpoint is `{"data": null, "error": {"code": "...", "message": "..."}}`
with a one-line message: `invalid_parameter` or `invalid_range` (400: the message names the parameter),
`not_found` (404), `method_not_allowed` (405), `unavailable` (503: the state store cannot answer or the
settings are invalid), `internal_error` (500; `/search` also answers its store errors so), `invalid_request`
(any other refused request). Connection details never appear in an answer; the service's log has them.
"""


class ServiceApp(FastAPI):
    """FastAPI with ``nosniff`` added outside every middleware, so the 500s of Starlette's outermost error
    middleware carry it too."""

    def build_middleware_stack(self) -> ASGIApp:
        return NoSniff(super().build_middleware_stack())


def create_app(settings_loader: Callable[[], Settings] = load_settings) -> FastAPI:
    """The service; ``settings_loader`` is called on every operations request, so a changed environment takes
    effect there; `/search` calls it once per process (its first request), keeping its hot path cheap."""
    app = ServiceApp(
        title=TITLE,
        version="0.1.0",
        description=DESCRIPTION,
        docs_url=None,  # served by install_docs, without a CDN
        redoc_url=None,
        responses=OTHER_ERRORS,  # also keeps FastAPI from documenting a 422 nothing answers
    )
    app.state.settings_loader = settings_loader
    app.state.search = EventIndex(settings_loader)
    install_error_handlers(app)
    app.include_router(search.router)  # first: routes are matched in order, and /search is the hot one
    app.include_router(operations.router)
    app.include_router(metrics.router)
    install_docs(app, title=TITLE)
    return app
