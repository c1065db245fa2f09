"""ploomes-products: Ploomes CRM products into the ``ploomes_products`` table (`catalog-sync sync ploomes`,
flow ``sync-ploomes``), by strategy (real-time, incremental, batch, or auto), and from webhooks.

Modules: ``tables`` (products, webhook inbox), ``rules`` (classification, a TOML file the user edits),
``mapping`` (pure: product → row), ``target`` (the table, deactivation), ``job`` (a run's steps),
``inbox`` (webhook deliveries → runs), ``commands`` (its command line); the connector is
``sync_core.connectors.ploomes``, the flow ``flows/sync_ploomes.py``.
"""

from __future__ import annotations

from typing import Any

from sync_core.connectors.ploomes import PloomesCatalog
from sync_core.engine.explain import Explaining
from sync_core.engine.spec import SOURCE, Pipeline
from sync_core.errors import ConfigError
from sync_core.pipelines.ploomes import tables as tables
from sync_core.pipelines.ploomes.commands import add_commands, flow_params, sync_options
from sync_core.pipelines.ploomes.job import STRATEGIES, PloomesJob, check_params, preflight
from sync_core.pipelines.ploomes.rules import BUILT_IN
from sync_core.settings import Settings

NAME = "ploomes-products"
DEPLOYMENTS = {"incremental": "sync-ploomes/ploomes-every-15m", "batch": "sync-ploomes/ploomes-nightly"}


def trigger(fields: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """`POST /pipelines/ploomes-products/runs`: any strategy, ids (real-time or auto) or a category, as a run
    of the sync-ploomes deployment (both run the same flow; the parameters say what it does)."""
    strategy = fields.get("strategy") or "auto"
    raw = fields.get("ids") or []
    if any(not str(i).isdigit() for i in raw):
        raise ConfigError(f"ids must be Ploomes product ids (whole numbers), not {raw[:5]!r}")
    params: dict[str, Any] = {
        "strategy": strategy,
        "ids": [int(i) for i in raw] or None,
        "category": fields.get("category") or None,
        "dry_run": bool(fields.get("dry_run")),
    }
    check_params(params)
    return DEPLOYMENTS.get(strategy, DEPLOYMENTS["incremental"]), params


def explain(settings: Settings) -> Explaining:
    """How a product's row is made, for `catalog-sync explain`."""
    return Explaining(
        rule={
            "classification": "product type and category: the first rule of the rules file whose code "
            "prefix, group and family match; subcategory: the family's name",
            "rules_file": str(settings.ploomes_rules_file or BUILT_IN),
            "currency": "the rules file's code for the product's currency id",
            "written": "only when the row's content changed (its version goes up); a product Ploomes no "
            "longer has is kept, inactive",
        },
        table=tables.PloomesProduct,
        key="ploomes_id",
    )


PIPELINE = Pipeline(
    name=NAME,
    title="Ploomes CRM products into ploomes_products (real-time, incremental, batch; webhooks)",
    connectors={SOURCE: PloomesCatalog},
    strategies=STRATEGIES,
    job=PloomesJob,
    command="ploomes",
    flow="sync-ploomes",
    replayable=(),
    deployments=DEPLOYMENTS,
    trigger=trigger,
    check_params=check_params,
    entrypoint="flows.sync_ploomes:sync_ploomes",
    sync_options=sync_options,
    flow_params=flow_params,
    commands=add_commands,
    demo="flows.demo_ploomes:run_demo",
    preflight=preflight,
    service="sync_core.pipelines.ploomes.service:install",
    serve_loop="sync_core.pipelines.ploomes.drain:drain_forever",
    explain=explain,
)
