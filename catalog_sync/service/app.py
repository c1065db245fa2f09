"""The FastAPI application: routers, settings per request (once per process for /search), offline docs, one
error envelope, ``nosniff`` on every answer."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Depends, FastAPI
from starlette.types import ASGIApp

from catalog_sync.service import items, metrics, operations, search, triggers
from catalog_sync.service.auth import READ_REFUSALS, install_auth
from catalog_sync.service.deps import ProcessSettings, require_read
from catalog_sync.service.docs import install_docs
from catalog_sync.service.errors import OTHER_ERRORS, install_error_handlers
from catalog_sync.service.headers import NoSniff
from catalog_sync.service.search_index import EventIndex
from sync_core.engine.registry import imported, pipelines
from sync_core.settings import Settings, load_settings

TITLE = "catalog-sync operations"
DESCRIPTION = """
Operations view of a catalog-sync state store (SQLite or PostgreSQL), read at request time, and the events and
products searches.

* `/search`: events inside a time window, from the store (at most about a second behind the last sync)
* the pipelines' own endpoints: the CRM products (`/products/search`, `/products/categories`, `/products/{id}`:
  searched without case or accents, by category, type and active, a page at a time; at most about a second
  behind the last sync) and webhook receivers
* `/health`: database, last run per pipeline, circuits, failures; 200 when healthy, 503 when not
* `/runs`, `/failures`: recent rows as JSON
* `/metrics`: Prometheus text format; answers 200 with `catalog_sync_database_up 0` when the database is down
* `POST /pipelines/{name}/runs`: start a run of a pipeline's deployment on the Prefect server (202)
* `/items/{pipeline}/{key}`: one item's story (source values, rule, what the target holds, the writes, open
  failures), as `catalog-sync explain` tells it; it needs the token always

**Access.** Endpoints that change something need `Authorization: Bearer <API_TOKEN>` and answer 503 while
API_TOKEN is not set (a webhook receiver checks its provider's key instead); the read-only ones need it only
with API_TOKEN_FOR_READS=true; `/docs` and `/openapi.json` never do.

**Errors.** Every error answer of every endpoint is `{"data": null, "error": {"code": "...", "message": "..."}}`
with a one-line message: `invalid_parameter` or `invalid_range` (400: the message names the parameter),
`unauthorized` (401: no bearer token or the wrong one; `WWW-Authenticate: Bearer`), `not_found` (404),
`method_not_allowed` (405), `not_deployed` (409: the pipeline's deployment is not on the Prefect server),
`unavailable` (503: the state store or the Prefect server cannot answer, API_TOKEN is not set, or the
settings are invalid), `internal_error` (500; `/search` and `/products/...` also answer their store errors
so), `invalid_request` (any other refused request). Connection details never appear in an answer; the
service's log has them.
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
    # Read once per process, shared by the hot paths and the read guard (API_TOKEN, API_TOKEN_FOR_READS).
    app.state.process_settings = ProcessSettings(settings_loader)
    app.state.search = EventIndex(app.state.process_settings)
    install_error_handlers(app)
    install_auth(app)

    def reads(router: APIRouter) -> None:  # read-only endpoints: the token only with API_TOKEN_FOR_READS=true
        app.include_router(router, dependencies=[Depends(require_read)], responses=READ_REFUSALS)

    # First: routes are matched in order, and /search is the hot one; it calls the read guard itself (cheaper).
    app.include_router(search.router, responses=READ_REFUSALS)
    reads(operations.router)
    reads(metrics.router)
    app.include_router(triggers.router)  # its routes change something: WriteAccess, token always
    app.include_router(items.router)  # an item's history: WriteAccess too, token always
    for spec in pipelines().values():  # endpoints of their own (a webhook receiver, a read API)
        if spec.service is not None:
            imported(spec.service)(app)
    install_docs(app, title=TITLE)
    return app
