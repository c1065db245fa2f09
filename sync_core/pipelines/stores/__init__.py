"""store-inventory: every store integration (Shopify, WooCommerce, Sazito) read into one inventory
(``inventory_items``), low-stock alerts, and the dashboard of `catalog-sync serve`.

Each store integration (``store_integrations``, added with `catalog-sync stores add`, the API or the
dashboard) is a connection of the engine named after it: its own circuit, pacing, cursors, runs and audit
rows. Flows: ``sync-store`` (one store), ``sync-all-stores`` (every active one, each in its own child run),
``check-alerts``.

Modules: ``tables``, ``platforms`` (platform → catalogue reader), ``integrations`` (add, enable, remove;
credentials), ``mapping`` (pure: item → row), ``target`` (the table, removals), ``job`` (a run's steps),
``alerts`` (thresholds, alerts, the notification), ``commands`` (its command line), ``api`` and
``dashboard`` (its pages and endpoints); the readers are ``sync_core.connectors.shopify``, ``woocommerce`` and
``sazito_store``, the flows ``flows/sync_stores.py`` and ``flows/check_alerts.py``.
"""

from __future__ import annotations

from typing import Any

from sync_core.engine.explain import Explaining
from sync_core.engine.spec import SOURCE, Pipeline
from sync_core.errors import ConfigError
from sync_core.pipelines.stores import tables as tables
from sync_core.pipelines.stores.commands import add_commands, flow_params, sync_options
from sync_core.pipelines.stores.job import STRATEGIES, StoreJob
from sync_core.pipelines.stores.platforms import StoreSource
from sync_core.settings import Settings

NAME = "store-inventory"
DEPLOYMENTS = {"all": "sync-all-stores/every-4h", "alerts": "check-alerts/hourly"}


def trigger(fields: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """`POST /pipelines/store-inventory/runs`: a run of sync-all-stores (one store: `POST /stores/{name}/sync`)."""
    strategy = fields.get("strategy") or "auto"
    if strategy not in STRATEGIES:
        raise ConfigError(f"strategy must be one of {', '.join(STRATEGIES)}, not {strategy!r}")
    if fields.get("ids") or fields.get("category"):
        raise ConfigError("store-inventory takes no ids or category: it syncs every active store")
    return DEPLOYMENTS["all"], {"strategy": strategy, "dry_run": bool(fields.get("dry_run"))}


def explain(settings: Settings) -> Explaining:
    """How an item's row is made, for `catalog-sync explain` (its key: ``<store>/<variant id>``)."""
    return Explaining(
        rule={
            "row": "the store's item as read: prices to 4 decimals, stock only when the store manages it "
            "(Shopify: summed over its active locations)",
            "removed": "a full read that no longer finds the item marks it removed",
        },
        table=tables.InventoryItem,
        key="item_key",
    )


PIPELINE = Pipeline(
    name=NAME,
    title="Shopify, WooCommerce and Sazito stores into one inventory (inventory_items), low-stock alerts",
    connectors={SOURCE: StoreSource},
    strategies=STRATEGIES,
    job=StoreJob,
    command="stores",
    flow="sync-store",
    deployments=DEPLOYMENTS,
    trigger=trigger,
    entrypoint="flows.sync_stores:sync_store",
    sync_options=sync_options,
    flow_params=flow_params,
    commands=add_commands,
    demo="flows.demo_stores:run_demo",
    service="sync_core.pipelines.stores.api:install",
    connection_of="sync_core.pipelines.stores.integrations:connection_of",
    explain=explain,
)
