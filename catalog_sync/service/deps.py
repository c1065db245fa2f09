"""Request dependencies shared by the service's routers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from sync_core.settings import Settings


def request_settings(request: Request) -> Settings:
    """Settings from the app's loader, read per request; a ConfigError becomes a 503 JSON answer."""
    loader: Callable[[], Settings] = request.app.state.settings_loader
    return loader()


SettingsDep = Annotated[Settings, Depends(request_settings)]
