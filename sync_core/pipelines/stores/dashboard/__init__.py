"""The store dashboard of `catalog-sync serve` at `/dashboard`: server-rendered pages that work without
JavaScript, every asset served here (`/dashboard/static/...`), nothing from anywhere else.

Pages (``pages``): the stores with their last sync and an add form, one store with its sync log, the inventory
by SKU across stores (low stock highlighted), the alerts. Posts (``actions``): log in / out, add, sync now,
enable, disable, remove. Access (``session``): a login form that sets an HttpOnly cookie signed with a key
derived from API_TOKEN, or HTTP Basic with API_TOKEN as the password; a CSRF token on every form. None of it
is in the OpenAPI schema.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from sync_core.pipelines.stores.dashboard import actions, pages
from sync_core.pipelines.stores.dashboard.render import (
    PATH,
    STATIC,
    LoginRequired,
    Problem,
    login_redirect,
    problem_page,
)


def install(app: FastAPI) -> None:
    """Add the dashboard's pages, posts and assets to ``app``."""
    app.mount(f"{PATH}/static", StaticFiles(directory=STATIC), name="dashboard-static")
    app.include_router(pages.router)
    app.include_router(actions.router)
    app.include_router(pages.missing)
    app.add_exception_handler(Problem, problem_page)
    app.add_exception_handler(LoginRequired, login_redirect)
