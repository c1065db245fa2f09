"""The dashboard's form posts: log in and out, add a store, sync now, enable, disable, remove. Each change
needs a login and the form's CSRF token, goes through the same functions as the API, and answers 303 back
to the page it came from with a message; a refusal is the page again (or a problem page) with the status and
the one-line reason."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from sync_core.errors import ConfigError
from sync_core.pipelines.stores import integrations, launch
from sync_core.pipelines.stores.api import NewStore, add_store
from sync_core.pipelines.stores.dashboard.forms import add_form, check_add_form, read_form
from sync_core.pipelines.stores.dashboard.pages import login_page, store_page, stores_page, token_unset_page
from sync_core.pipelines.stores.dashboard.render import Problem, back_to, db, log, prefix_of, safe_next
from sync_core.pipelines.stores.dashboard.session import (
    WRONG_TOKEN,
    LoggedIn,
    Login,
    SettingsPage,
    check_csrf,
    clear_session,
    new_session,
    session_key,
    set_session,
    token_matches,
    token_of,
)
from sync_core.settings import Settings

router = APIRouter(prefix="/dashboard", include_in_schema=False)


def one_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _client(request: Request) -> str:
    return request.client.host if request.client else "?"


@router.post("/login")
async def post_login(request: Request, settings: SettingsPage) -> Response:
    """Set the login cookie when the form's token is API_TOKEN (compared in constant time)."""
    form = await read_form(request)
    token, next_page = token_of(settings), form.get("next", "")
    if token is None:
        return token_unset_page(request)
    given = form.get("token", "").strip().encode()
    if not given:
        return login_page(request, status=400, error="enter the API token (API_TOKEN)", next_page=next_page)
    if not token_matches(given, token):
        log.warning("dashboard login from %s refused: %s", _client(request), WRONG_TOKEN)
        return login_page(
            request, status=401, error=f"{WRONG_TOKEN}: give the service's API_TOKEN", next_page=next_page
        )
    response = RedirectResponse(safe_next(next_page, prefix_of(request)), status_code=303)
    set_session(response, request, new_session(session_key(token)))
    log.info("dashboard login from %s", _client(request))
    return response


@router.post("/logout")
async def post_logout(request: Request, login: LoggedIn) -> Response:
    check_csrf(login, await read_form(request))
    response = back_to(request, "/login", done="logged-out")
    clear_session(response, request)
    return response


async def _change(request: Request, login: Login) -> dict[str, str]:
    form = await read_form(request)
    check_csrf(login, form)
    return form


@router.post("/stores")
async def post_store(request: Request, settings: SettingsPage, login: LoggedIn) -> Response:
    """Add a store (``api.add_store``); a refusal shows the form again as entered, 400 or 409, the reason."""
    values = add_form(await _change(request, login))
    try:
        new = NewStore(**check_add_form(values))
    except ConfigError as exc:
        return await stores_page(request, settings, login, form=values, error=one_line(exc), status=400)
    status, found = await db(add_store, settings, new)
    if isinstance(found, ConfigError):
        return await stores_page(request, settings, login, form=values, error=one_line(found), status=status)
    log.info("dashboard: store %s added from %s", new.name, _client(request))
    return back_to(request, "", done="added-syncing" if found["sync_started"] else "added", store=new.name)


def _unknown(name: str) -> str:
    return f"no store integration named {name[:64]!r}"


async def _known(settings: Settings, name: str) -> None:
    if await db(integrations.find, settings.database_url, name) is None:
        raise Problem(404, _unknown(name))


def _page_of(form: dict[str, str], name: str) -> str:
    """Where a store's button sends the user back: its own page, or the stores."""
    return f"/stores/{quote(name, safe='')}" if form.get("back") == "store" else ""


@router.post("/stores/{name}/sync")
async def post_sync(name: str, request: Request, settings: SettingsPage, login: LoggedIn) -> Response:
    """Start a sync of the store in this process (``launch.start_sync``); 409 for a disabled store."""
    form = await _change(request, login)
    try:
        started = await db(launch.start_sync, settings, name)
    except integrations.UnknownStore:
        raise Problem(404, _unknown(name)) from None
    except ConfigError as exc:  # disabled
        raise Problem(409, one_line(exc)) from None
    log.info(
        "dashboard: sync of %s %s from %s",
        name,
        "started" if started else "already running",
        _client(request),
    )
    return back_to(
        request, _page_of(form, name), done="sync-started" if started else "already-syncing", store=name
    )


@router.post("/stores/{name}/enable")
async def post_enable(name: str, request: Request, settings: SettingsPage, login: LoggedIn) -> Response:
    return await _set_active(name, request, settings, login, True)


@router.post("/stores/{name}/disable")
async def post_disable(name: str, request: Request, settings: SettingsPage, login: LoggedIn) -> Response:
    return await _set_active(name, request, settings, login, False)


async def _set_active(
    name: str, request: Request, settings: Settings, login: Login, active: bool
) -> Response:
    form = await _change(request, login)
    try:
        await db(integrations.set_active, settings.database_url, name, active)
    except ConfigError as exc:
        raise Problem(404, one_line(exc)) from None
    log.info("dashboard: store %s %s from %s", name, "enabled" if active else "disabled", _client(request))
    return back_to(request, _page_of(form, name), done="enabled" if active else "disabled", store=name)


@router.post("/stores/{name}/remove")
async def post_remove(name: str, request: Request, settings: SettingsPage, login: LoggedIn) -> Response:
    """Remove the store with its inventory and alerts, once the form's ``confirm`` field repeats its name."""
    form = await _change(request, login)
    await _known(settings, name)
    if form.get("confirm", "").strip() != name:
        error = f"type the store's name ({name}) in the confirm box to remove it"
        return await store_page(request, settings, login, name, error=error, status=400)
    try:
        gone = await db(integrations.remove, settings.database_url, name)
    except ConfigError as exc:
        raise Problem(404, one_line(exc)) from None
    log.info("dashboard: store %s removed from %s (%s)", name, _client(request), gone)
    return back_to(request, "", done="removed", store=name)
