"""Store syncs started by `catalog-sync serve` (the API's and the dashboard's "Sync now", a store added with
sync-now): sync-store runs in this process's background threads, at most STORES_CONCURRENCY at once. Each is
a Prefect flow run like any other; a second request for a store already syncing finds its lease taken and
is skipped, so nothing runs twice."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from sync_core.errors import ConfigError
from sync_core.pipelines.stores.integrations import get
from sync_core.settings import Settings

log = logging.getLogger(__name__)
_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_syncing: set[str] = set()


def syncing() -> set[str]:
    """The stores this process is syncing now (started here)."""
    with _lock:
        return set(_syncing)


def start_sync(settings: Settings, name: str, strategy: str = "auto") -> bool:
    """Start a sync-store run of store ``name`` in the background; False when this process already syncs it.
    ConfigError (one line) for an unknown or disabled store."""
    global _pool
    row = get(settings.database_url, name)
    if not row.active:
        raise ConfigError(f"store {name!r} is disabled: enable it first")
    with _lock:
        if name in _syncing:
            return False
        _syncing.add(name)
        if _pool is None:
            _pool = ThreadPoolExecutor(settings.stores_concurrency, thread_name_prefix="store-sync")
        _pool.submit(_run, settings, name, strategy)
    return True


def _run(settings: Settings, name: str, strategy: str) -> None:
    from flows.sync_stores import sync_store
    from sync_core.engine.context import pinned

    try:
        with pinned(settings):
            state = sync_store(store=name, strategy=strategy, return_state=True)
        log.info("store %s: sync ended %s", name, state.type.value.lower())
    except Exception:
        log.exception("store %s: the sync could not run", name)
    finally:
        with _lock:
            _syncing.discard(name)
