"""The dashboard's pages: Jinja2 templates (autoescaped), the headers every page carries (no framing, nothing
loaded from anywhere but the service), refusals as pages, and the state store read off the event loop."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy.exc import SQLAlchemyError

from catalog_sync.service.errors import MAX_ECHO, STORE_UNAVAILABLE, one_line
from sync_core.errors import PersistenceError
from sync_core.settings_fields import NAME_PATTERN

log = logging.getLogger("sync_core.pipelines.stores.dashboard")
T = TypeVar("T")

PATH = "/dashboard"
TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
# Nothing but the service's own stylesheet: no script, no font, no frame, forms post only here.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
TITLES = {400: "Refused", 401: "Not logged in", 403: "Refused", 404: "Not found", 409: "Conflict"}
TITLES |= {413: "Too large", 415: "Refused", 503: "Unavailable"}
# What a redirect after a change says on the next page (?done=CODE&store=NAME): fixed texts, so a link
# cannot make the dashboard say anything else.
DONE = {
    "added": "store {store} added",
    "added-syncing": "store {store} added; its first sync started",
    "sync-started": "sync of {store} started",
    "already-syncing": "{store} is already syncing",
    "enabled": "{store} enabled",
    "disabled": "{store} disabled: syncs leave it out",
    "removed": "{store} removed with its inventory and alerts",
    "logged-out": "logged out",
}


class Problem(Exception):
    """A refused dashboard request, answered as a page with ``status`` and the one-line ``message``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers


class LoginRequired(Exception):
    """No valid login: answered 303 to the login page, which sends the user back to this page after."""

    def __init__(self, request: Request, *, expired: bool) -> None:
        super().__init__("login required")
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        self.next = here if request.method == "GET" else prefix_of(request)
        self.expired = expired


def prefix_of(request: Request) -> str:
    """The dashboard's path, under the root path a proxy mounts the service at (uvicorn --root-path)."""
    return str(request.scope.get("root_path", "")).rstrip("/") + PATH


def safe_next(value: str, prefix: str) -> str:
    """``value`` when it is a page of the dashboard on this server, else the dashboard (no open redirect)."""
    parts = urlsplit(value)
    inside = parts.path == prefix or parts.path.startswith(prefix + "/")
    plain = value.isprintable() and "\\" not in value and "//" not in parts.path and len(value) <= 1000
    return value if inside and plain and not parts.scheme and not parts.netloc else prefix


def when(value: str | None) -> str:
    """An ISO time as ``2024-05-01 12:00:03 UTC`` (a time without a zone is UTC, as the store keeps it)."""
    if not value:
        return "–"
    moment = datetime.fromisoformat(value)
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def number(value: Any) -> str:
    return "–" if value is None else f"{value:,}" if isinstance(value, int) else str(value)


_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["when"] = when
_env.filters["number"] = number


def flash_of(request: Request) -> str | None:
    """The message of a redirect's ``?done=CODE&store=NAME``; None for anything else."""
    text = DONE.get(request.query_params.get("done", ""))
    store = request.query_params.get("store", "")
    if text is None or ("{store}" in text and not _is_name(store)):
        return None
    return text.format(store=store)


def _is_name(value: str) -> bool:
    return re.fullmatch(NAME_PATTERN, value) is not None


def page(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """``template`` rendered with ``context`` plus ``base`` (the dashboard's path), ``static``, ``flash``."""
    base = prefix_of(request)
    context.setdefault("login", None)
    context.setdefault("refresh", None)
    context.setdefault("nav", "")
    body = _env.get_template(template).render(
        base=base, static=f"{base}/static", flash=flash_of(request), **context
    )
    return HTMLResponse(body, status_code=status, headers=PAGE_HEADERS)


def back_to(request: Request, where: str, **query: str) -> RedirectResponse:
    """303 to the dashboard page ``where`` ("" the stores) with ``query`` (a ``done`` message)."""
    target = prefix_of(request) + where + (f"?{urlencode(query)}" if query else "")
    return RedirectResponse(target, status_code=303)


async def problem_page(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    log.info(
        "dashboard %s %s refused (%s): %s",
        request.method[:16],
        request.url.path[:MAX_ECHO],
        exc.status,
        exc.message,
    )
    title = TITLES.get(exc.status, "Error")
    response = page(request, "problem.html", status=exc.status, title=title, message=exc.message)
    response.headers.update(exc.headers or {})
    return response


async def login_redirect(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    query = {"next": exc.next} | ({"expired": "1"} if exc.expired else {})
    return RedirectResponse(f"{prefix_of(request)}/login?{urlencode(query)}", status_code=303)


async def db(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``call`` in the threadpool; a state store that cannot answer is a 503 page (the cause in the log)."""
    try:
        return await run_in_threadpool(call, *args, **kwargs)
    except (PersistenceError, SQLAlchemyError) as exc:
        log.warning("dashboard: the state store did not answer: %s", one_line(exc))
        raise Problem(503, STORE_UNAVAILABLE) from None
