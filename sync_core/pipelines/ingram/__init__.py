"""ingram-catalogue: Ingram Micro price and availability (and product details) of the tracked part numbers
into the ``ingram_products`` table (`catalog-sync sync ingram`, flow ``sync-ingram``).

Modules: ``tables`` (tracked parts, catalogue), ``tracking`` (track / untrack / list), ``mapping`` (pure:
answers → rows), ``job`` (a run's steps), ``commands`` (its command line); the connector is
``sync_core.connectors.ingram``, the flows ``flows/sync_ingram.py``.
"""

from __future__ import annotations

from typing import Any

from sync_core.connectors.ingram import IngramCatalog
from sync_core.engine.explain import Explaining
from sync_core.engine.spec import SOURCE, Pipeline
from sync_core.errors import ConfigError
from sync_core.pipelines.ingram.commands import MAX_BATCH, add_commands, flow_params, sync_options
from sync_core.pipelines.ingram.job import PNA_CONTEXT, IngramJob
from sync_core.pipelines.ingram.tables import IngramProduct
from sync_core.pipelines.ingram.target import DETAILS_CONTEXT
from sync_core.settings import Settings

NAME = "ingram-catalogue"


def check_params(params: dict[str, Any]) -> None:
    """Batch size 1-50, at least one call at a time, shards 1 of 1 or more."""
    size = params.get("batch_size")
    if size is not None and not 1 <= int(size) <= MAX_BATCH:
        raise ConfigError(f"batch_size must be 1 to {MAX_BATCH} (part numbers a call may carry), not {size}")
    for name in ("max_concurrent", "shards"):
        if params.get(name) is not None and int(params[name]) < 1:
            raise ConfigError(f"{name} must be at least 1, not {params[name]}")
    shard, shards = params.get("shard"), params.get("shards")
    if shard is not None and not 1 <= int(shard) <= int(shards or 1):
        raise ConfigError(f"shard must be 1 to {shards or 1}, not {shard}")


def explain(settings: Settings) -> Explaining:
    """How a part's row is made, for `catalog-sync explain`."""
    return Explaining(
        rule={
            "row": "price and availability as Ingram Micro answers them, every run; written only when they "
            "changed",
            "details": "fetched again when new or older than INGRAM_DETAILS_MAX_AGE_DAYS",
            "details_max_age_days": settings.ingram_details_max_age_days,
        },
        table=IngramProduct,
        key="ingram_part_number",
    )


PIPELINE = Pipeline(
    name=NAME,
    title="Ingram Micro price, availability and details of the tracked parts into ingram_products",
    connectors={SOURCE: IngramCatalog},
    strategies=("full", "retry"),
    job=IngramJob,
    command="ingram",
    flow="sync-ingram",
    replayable=(PNA_CONTEXT, DETAILS_CONTEXT),
    replay_strategy="retry",
    deployments={
        "full": "sync-ingram/ingram-every-6h",
        "shard": "sync-ingram-shard/ingram-shard",
        "retry": "retry-failures/ingram-retry",
    },
    check_params=check_params,
    entrypoint="flows.sync_ingram:sync_ingram",
    sync_options=sync_options,
    flow_params=flow_params,
    commands=add_commands,
    demo="flows.demo_ingram:run_demo",
    explain=explain,
)
