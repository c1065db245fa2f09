"""sync-products: the products pipeline (`catalog-sync sync products`) on the runner: fetch supplier pages →
map → plan against the ledger → push only what changed."""

from __future__ import annotations

from typing import Any, Literal

from prefect import flow
from prefect.client.schemas.objects import State

from flows.pipeline_run import run_pipeline

COMMAND = "products"


@flow(name="sync-products", log_prints=False)
def sync_products(
    scope: Literal["full", "incremental"] = "incremental",
    since_ms: int | None = None,
    dry_run: bool = False,
    connections: dict[str, str] | None = None,
) -> dict[str, Any] | State[Any]:
    """Sync prices and stock. ``since_ms`` overrides the incremental window; ``dry_run`` writes nothing;
    ``connections`` (role → name) runs it on connections of CONNECTIONS instead of the default ones."""
    if scope not in ("full", "incremental"):
        raise ValueError(f"scope must be 'full' or 'incremental', not {scope!r}")
    if since_ms is not None and scope != "incremental":
        raise ValueError("since_ms applies to incremental syncs only")
    params = {"since_ms": since_ms} if since_ms is not None else {}
    return run_pipeline(COMMAND, scope, dry_run=dry_run, connections=connections, params=params)
