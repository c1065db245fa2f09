"""API docs served whole by the service, so they work offline: Swagger UI at `/docs`.

FastAPI's own pages load their scripts from a CDN. These assets come from the ``fastapi-offline`` package
(Swagger UI 5.32: it renders OpenAPI 3.1, which Swagger UI 4 refuses). Their URLs carry the package's
version, so browsers may keep them a year; another version is another URL. No ReDoc page: ReDoc 2 always
loads its footer logo from cdn.redoc.ly.
"""

from __future__ import annotations

import os
from importlib.metadata import version
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import Scope

ASSETS_PACKAGE = "fastapi_offline"
ASSETS_VERSION = version("fastapi-offline")
ASSETS_PATH = f"/docs/assets/{ASSETS_VERSION}"
ASSET_CACHE = "public, max-age=31536000, immutable"  # versioned URLs: a changed file gets a new URL
PAGE_CACHE = "no-cache"  # a page is tiny, and must name the current assets
# Swagger UI's defaults, no online validator (it would call validator.swagger.io) and a little tidier.
SWAGGER_UI_PARAMETERS: dict[str, Any] = {
    "validatorUrl": None,
    "defaultModelsExpandDepth": 0,
    "displayRequestDuration": True,
}


class VersionedAssets(StaticFiles):
    """The package's static files, with long-lived caching (ETag and Last-Modified still answer 304)."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = ASSET_CACHE
        return response


def install_docs(app: FastAPI, *, title: str) -> None:
    """`/docs` and its assets; the app must be built with ``docs_url=None, redoc_url=None``."""
    app.mount(ASSETS_PATH, VersionedAssets(packages=[(ASSETS_PACKAGE, "static")]), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = _root(request)
        page = get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{title} - API docs",
            swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
            swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
        )
        page.headers["Cache-Control"] = PAGE_CACHE
        return page


def _root(request: Request) -> str:
    # Behind a proxy that mounts the service under a prefix (uvicorn --root-path), as FastAPI's pages do.
    return str(request.scope.get("root_path", "")).rstrip("/")
