"""Request dependencies shared by the service's routers: the settings, and the bearer-token guards.

A route that changes something takes ``_: WriteAccess`` (or ``dependencies=[Depends(require_write)]``): it
needs ``Authorization: Bearer <API_TOKEN>`` always, compared against the request's settings. Read-only
routers are included with ``dependencies=[Depends(require_read)]`` (or a route takes ``_: ReadAccess``): the
token only with API_TOKEN_FOR_READS=true, both read once per process. A hot route calls ``check_read(request)``
instead and declares ``openapi_extra=READ_SECURITY``. The guards show in the OpenAPI as the ``bearerAuth``
security scheme; their refusals are answered by ``auth.install_auth``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from catalog_sync.service.auth import Access, BearerScheme, access_of, check
from sync_core.errors import ConfigError
from sync_core.settings import Settings


def request_settings(request: Request) -> Settings:
    """Settings from the app's loader, read per request; a ConfigError becomes a 503 JSON answer."""
    loader: Callable[[], Settings] = request.app.state.settings_loader
    return loader()


SettingsDep = Annotated[Settings, Depends(request_settings)]


class ProcessSettings:
    """The settings read once per process (the first call that succeeds), for the hot paths (`/search`) and
    the read guard; a failed read is tried again by the next call."""

    def __init__(self, loader: Callable[[], Settings]) -> None:
        self._loader = loader
        self._settings: Settings | None = None
        self._access: Access | None = None
        self._lock = threading.Lock()

    def __call__(self) -> Settings:
        settings = self._settings
        if settings is None:
            with self._lock:
                if self._settings is None:
                    self._settings = self._loader()
                settings = self._settings
        return settings

    def access(self) -> Access:
        """The token policy of these settings (ConfigError when they cannot be read)."""
        if self._access is None:
            self._access = access_of(self())
        return self._access


class WriteGuard(BearerScheme):
    """Requires the bearer token, compared against the request's settings (shared with the route's own
    ``SettingsDep``: read once per request); 503 while API_TOKEN is not set."""

    async def __call__(self, request: Request, settings: SettingsDep) -> None:
        check(access_of(settings), request.headers.get("authorization"), write=True)


def check_read(request: Request) -> None:
    """The read guard's check, to call first thing in a hot route (`/search`) instead of declaring
    ``ReadAccess``: FastAPI's dependency machinery costs such a route about a fifth of its answer time. Such a
    route documents it with ``openapi_extra=READ_SECURITY``. Raises AccessRefused.

    Settings that cannot be read let the request through: the endpoint cannot read them either, and answers
    that in its own way (`/search` 500, `/health` 503, `/metrics` ``database_up 0``) without any data.
    """
    process: ProcessSettings = request.app.state.process_settings
    try:
        access = process.access()
    except ConfigError:
        return
    if access.for_reads:
        check(access, request.headers.get("authorization"), write=False)


class ReadGuard(BearerScheme):
    """Requires the bearer token only with API_TOKEN_FOR_READS=true, both read once per process."""

    async def __call__(self, request: Request) -> None:
        check_read(request)


require_write = WriteGuard()
require_read = ReadGuard()
WriteAccess = Annotated[None, Depends(require_write)]
ReadAccess = Annotated[None, Depends(require_read)]
