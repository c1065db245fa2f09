"""The settings a run uses, given by its caller rather than read from the process environment.

The command line, the demo and the tests pin settings around the flows they call (``with pinned(settings):``);
a flow run started by a worker finds none pinned and reads the environment and ``.env`` (:func:`load_settings`).
Runs read settings once, when they open; their tasks get them from the run (``tasks.runtime``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from sync_core.settings import Settings, load_settings

_pinned: ContextVar[Settings | None] = ContextVar("catalog_sync_settings", default=None)


@contextmanager
def pinned(settings: Settings) -> Iterator[Settings]:
    """Runs opened inside the block use ``settings``."""
    token = _pinned.set(settings)
    try:
        yield settings
    finally:
        _pinned.reset(token)


def current_settings() -> Settings:
    """The pinned settings, else the environment's and .env's as they are now (never read at import)."""
    return _pinned.get() or load_settings()
