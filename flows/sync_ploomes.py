"""sync-ploomes: Ploomes CRM products into ploomes_products (`catalog-sync sync ploomes`), by strategy.

``auto`` is resolved here, before the run opens, so the run's row and report name the strategy that ran:
real-time for up to 10 ids, incremental when the last successful sync is younger than
INCREMENTAL_SYNC_HOURS, batch otherwise (see sync_core.pipelines.ploomes.job). Webhook deliveries become
runs of this flow with ``ids`` (and ``deleted``), coalesced (sync_core.pipelines.ploomes.inbox).
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.client.schemas.objects import State

from flows.pipeline_run import run_pipeline
from sync_core.db import upgrade
from sync_core.engine.connections import pipeline_connections, run_key
from sync_core.engine.context import current_settings
from sync_core.engine.registry import pipeline as find_pipeline
from sync_core.pipelines.ploomes.job import choose_strategy

COMMAND = "ploomes"


@flow(name="sync-ploomes")
def sync_ploomes(
    strategy: str = "auto",
    ids: list[int] | None = None,
    category: str | None = None,
    deleted: list[int] | None = None,
    dry_run: bool = False,
    connections: dict[str, str] | None = None,
) -> dict[str, Any] | State[Any]:
    """Sync Ploomes products: ``strategy`` auto | real-time (``ids``, at most 10) | incremental | batch;
    ``category`` (a product group's name) limits a read to that group; ``deleted``: ids a webhook reported
    deleted, made inactive."""
    settings = current_settings()
    spec = find_pipeline(COMMAND)
    params: dict[str, Any] = {
        "ids": ids or [],
        "category": category,
        "deleted": deleted or [],
        "dry_run": dry_run,  # the job marks nothing inactive then
    }
    assert spec.check_params is not None
    spec.check_params(params | {"strategy": strategy})
    if strategy == "auto":
        upgrade(settings.database_url)  # the choice reads the run rows and the watermark
        key = run_key(spec.name, pipeline_connections(settings, spec, connections))
        strategy, why = choose_strategy(settings, key, ids=ids)
        get_run_logger().info("auto: %s (%s)", strategy, why)
        if strategy != "real-time":
            params["ids"] = []  # more ids than a real-time run takes: the read covers their changes
    return run_pipeline(COMMAND, strategy, dry_run=dry_run, connections=connections, params=params)
