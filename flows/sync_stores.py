"""sync-store: one store integration into inventory_items (`catalog-sync stores sync NAME`); sync-all-stores:
every active integration that auto-syncs, each in its own child run of sync-store, at most
STORES_CONCURRENCY at once, one store's failure never stopping the others (the deployment
``sync-all-stores/every-4h``).

``auto`` is resolved here, before the run opens, so the run's row names what ran (see
sync_core.pipelines.stores.job.choose_strategy).
"""

from __future__ import annotations

import threading
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State

from flows.pipeline_run import run_pipeline
from sync_core.db import upgrade
from sync_core.engine.connections import pipeline_connections, run_key
from sync_core.engine.context import current_settings
from sync_core.engine.registry import pipeline as find_pipeline
from sync_core.engine.spec import SOURCE
from sync_core.errors import ConfigError, SyncError
from sync_core.pipelines.stores import integrations
from sync_core.pipelines.stores.job import STRATEGIES, choose_strategy

COMMAND = "stores"


class StoresFailed(SyncError):
    """Some stores of a sync-all-stores run did not sync (the others did)."""


@flow(name="sync-store", flow_run_name="sync-store {store}")
def sync_store(
    store: str | None = None,
    strategy: str = "auto",
    dry_run: bool = False,
    connections: dict[str, str] | None = None,
) -> dict[str, Any] | State[Any]:
    """Sync store integration ``store``: ``strategy`` auto | full | incremental (see the module docstring)."""
    store = store or (connections or {}).get(SOURCE)
    if not store:
        raise ConfigError("sync-store needs the store integration's name (store)")
    if strategy not in STRATEGIES:
        raise ConfigError(f"strategy must be one of {', '.join(STRATEGIES)}, not {strategy!r}")
    settings = current_settings()
    upgrade(settings.database_url)
    row = integrations.get(settings.database_url, store)
    chosen = {SOURCE: store}
    if strategy == "auto":
        spec = find_pipeline(COMMAND)
        key = run_key(spec.name, pipeline_connections(settings, spec, chosen))
        strategy, why = choose_strategy(settings, key, row.platform)
        get_run_logger().info("%s: auto: %s (%s)", store, strategy, why)
    return run_pipeline(COMMAND, strategy, dry_run=dry_run, connections=chosen, params={"dry_run": dry_run})


@task(name="sync-one-store", cache_policy=NO_CACHE)
def _sync_one(store: str, strategy: str, dry_run: bool, limit: threading.Semaphore) -> dict[str, Any]:
    """One store's child run, once a place under STORES_CONCURRENCY is free; its outcome, never raising."""
    with limit:
        state = sync_store(store=store, strategy=strategy, dry_run=dry_run, return_state=True)
    summary = state.result(raise_on_failure=False) if state.is_completed() else None
    if isinstance(summary, dict):
        return {"store": store} | summary
    return {"store": store, "status": state.type.value.lower(), "error": state.message or str(summary or "")}


@flow(name="sync-all-stores")
def sync_all_stores(strategy: str = "auto", dry_run: bool = False) -> dict[str, Any]:
    """Every active store integration that auto-syncs, each a child sync-store run, STORES_CONCURRENCY at
    once; fails (after all have run) naming the stores that did not sync."""
    settings = current_settings()
    upgrade(settings.database_url)
    logger = get_run_logger()
    stores = [row.name for row in integrations.integrations(settings.database_url, active_only=True)]
    if not stores:
        logger.info("no active store integration: add one with `catalog-sync stores add`")
        return {"stores": {}, "status": "success"}
    limit = threading.Semaphore(settings.stores_concurrency)
    futures = [_sync_one.submit(name, strategy, dry_run, limit) for name in stores]
    outcomes = [future.result() for future in futures]
    failed = [o for o in outcomes if o.get("status") not in ("success", "partial", "skipped")]
    create_table_artifact(
        key="stores-sync",
        table=[
            {
                name: o.get(name)
                for name in ("store", "status", "strategy", "created", "updated", "removed", "error")
            }
            for o in outcomes
        ],
        description=f"{len(outcomes) - len(failed)} of {len(outcomes)} stores synced",
    )
    if failed:
        raise StoresFailed(
            f"{len(failed)} of {len(outcomes)} stores did not sync: "
            + "; ".join(f"{o['store']} ({o.get('error') or o.get('status')})" for o in failed)
        )
    return {"stores": {o["store"]: o.get("status") for o in outcomes}, "status": "success"}
