"""What the command line, the API and the dashboard show of the stores: each integration with its last sync,
its sync log (its runs), the inventory by SKU across stores, open alerts. Plain dicts, JSON-ready."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from sync_core.db import session_scope
from sync_core.engine.run_view import run_view
from sync_core.engine.runs import recent_runs
from sync_core.pipelines.stores.alerts import threshold_of, thresholds
from sync_core.pipelines.stores.integrations import run_key_of
from sync_core.pipelines.stores.tables import InventoryItem, StockAlert, StoreIntegration
from sync_core.tables import SyncRun

LOG_ENTRIES = ("created", "updated", "unchanged", "removed", "failed", "strategy")


def sync_entry(run: SyncRun) -> dict[str, Any]:
    """A run as a sync log entry: start, end, status, created / updated / unchanged / removed / failed, error."""
    view = run_view(run)
    summary = run.summary or {}
    entry = {
        name: view[name] for name in ("run_id", "status", "started_at", "finished_at", "duration_s", "error")
    }
    entry |= {name: summary.get(name) for name in LOG_ENTRIES}
    entry["scope"] = run.scope
    entry["dry_run"] = run.dry_run
    if run.status == "running" and run.progress:
        entry["progress"] = run.progress
    return entry


def credentials_of(row: StoreIntegration) -> str:
    """Where the credential comes from (never the credential)."""
    if row.credentials_env:
        return f"environment variable {row.credentials_env}"
    return f"Prefect Secret block {row.credentials_block}"


def integration_view(row: StoreIntegration, default_threshold: int) -> dict[str, Any]:
    return {
        "name": row.name,
        "platform": row.platform,
        "store_url": row.store_url,
        "credentials": credentials_of(row),
        "active": row.active,
        "auto_sync": row.auto_sync,
        "low_stock_threshold": row.low_stock_threshold,
        "threshold_in_use": row.low_stock_threshold
        if row.low_stock_threshold is not None
        else default_threshold,
        "created_at": row.created_at.isoformat() if row.created_at else None,
    }


def overview(url: str, default_threshold: int, *, name: str | None = None) -> list[dict[str, Any]]:
    """Every integration (only ``name`` when given) with its item count, open alerts and last sync (entry),
    in name order."""
    query = select(StoreIntegration).order_by(col(StoreIntegration.name))
    items_query = sa.select(col(InventoryItem.integration), sa.func.count()).where(
        col(InventoryItem.removed).is_(False)
    )
    alerts_query = sa.select(col(StockAlert.integration), sa.func.count()).where(
        col(StockAlert.resolved_at).is_(None)
    )
    if name is not None:
        query = query.where(col(StoreIntegration.name) == name)
        items_query = items_query.where(col(InventoryItem.integration) == name)
        alerts_query = alerts_query.where(col(StockAlert.integration) == name)
    with session_scope(url) as session:
        rows = list(session.exec(query))
        items: dict[str, int] = dict(
            session.execute(items_query.group_by(InventoryItem.integration)).all()  # type: ignore[arg-type]
        )
        open_alerts: dict[str, int] = dict(
            session.execute(alerts_query.group_by(StockAlert.integration)).all()  # type: ignore[arg-type]
        )
    found = []
    for row in rows:
        runs = recent_runs(url, limit=1, pipeline=run_key_of(row.name))
        found.append(
            integration_view(row, default_threshold)
            | {
                "items": items.get(row.name, 0),
                "open_alerts": open_alerts.get(row.name, 0),
                "last_sync": sync_entry(runs[0]) if runs else None,
            }
        )
    return found


def sync_log(url: str, store: str, *, limit: int = 20) -> list[dict[str, Any]]:
    """The store's runs, newest first."""
    return [sync_entry(run) for run in recent_runs(url, limit=limit, pipeline=run_key_of(store))]


def _money(value: Decimal | None) -> str | None:
    return (
        None
        if value is None
        else f"{value.normalize():f}"
        if value == value.to_integral()
        else f"{value:.2f}"
    )


def inventory(
    url: str,
    default_threshold: int,
    *,
    search: str = "",
    page: int = 1,
    per_page: int = 50,
    low_only: bool = False,
) -> dict[str, Any]:
    """The inventory by SKU across stores: one row a SKU (items without one are a row each), a cell a store
    (stock, price, managed, low), matching ``search`` (SKU or title, any case), ``per_page`` rows from
    ``page``; with ``low_only`` only SKUs low somewhere."""
    with session_scope(url) as session:
        stores_t, skus_t = thresholds(session, default_threshold)
        stores = sorted(stores_t)
        query = select(InventoryItem).where(col(InventoryItem.removed).is_(False))
        if search.strip():
            needle = f"%{search.strip().lower()}%"
            query = query.where(
                sa.or_(
                    sa.func.lower(InventoryItem.sku).like(needle),
                    sa.func.lower(InventoryItem.title).like(needle),
                )
            )
        items = list(session.exec(query.order_by(col(InventoryItem.sku), col(InventoryItem.item_key))))
    rows: dict[str, dict[str, Any]] = {}
    for item in items:
        key = item.sku if item.sku is not None else f"\uffff{item.item_key}"  # no SKU: a row of its own, last
        row = rows.setdefault(
            key, {"sku": item.sku, "title": item.title, "stores": {}, "low": False, "total": 0}
        )
        limit = threshold_of(item, stores_t, skus_t, default_threshold)
        low = item.managed and item.stock is not None and item.stock <= limit
        row["stores"][item.integration] = {
            "stock": item.stock,
            "managed": item.managed,
            "price": _money(item.price),
            "compare_at_price": _money(item.compare_at_price),
            "threshold": limit,
            "low": low,
        }
        row["low"] = row["low"] or low
        row["total"] += item.stock or 0
    ordered = [rows[k] for k in sorted(rows)]
    if low_only:
        ordered = [r for r in ordered if r["low"]]
    page = max(1, page)
    start = (page - 1) * per_page
    return {
        "stores": stores,
        "rows": ordered[start : start + per_page],
        "total": len(ordered),
        "page": page,
        "pages": max(1, -(-len(ordered) // per_page)),
        "per_page": per_page,
    }


def alert_view(alert: StockAlert) -> dict[str, Any]:
    def stamp(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    return {
        "id": alert.id,
        "store": alert.integration,
        "sku": alert.sku,
        "title": alert.title,
        "stock": alert.stock,
        "threshold": alert.threshold,
        "opened_at": stamp(alert.opened_at),
        "notified_at": stamp(alert.notified_at),
        "resolved_at": stamp(alert.resolved_at),
        "resolved_stock": alert.resolved_stock,
    }


def alert_views(found: Sequence[StockAlert]) -> list[dict[str, Any]]:
    return [alert_view(a) for a in found]
