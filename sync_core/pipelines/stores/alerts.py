"""Low-stock alerts: an item whose stock is at or under its threshold opens an alert, notified once; the alert
resolves when the stock recovers, or the item stops being tracked (removed, unmanaged, its store gone).

An item's threshold is the first of: its SKU's in its store, its SKU's in every store (``sku_thresholds``),
its store's (``store_integrations.low_stock_threshold``), LOW_STOCK_THRESHOLD.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from sync_core.db import session_scope
from sync_core.pipelines.stores.integrations import check_name, check_threshold, get
from sync_core.pipelines.stores.tables import InventoryItem, SkuThreshold, StockAlert, StoreIntegration
from sync_core.tables import utcnow

MESSAGE_ITEMS = 50  # alerts a notification lists by name; the rest are counted


@dataclass
class AlertCheck:
    """What one check found: alerts opened, resolved, and still open (opened earlier)."""

    opened: list[StockAlert] = field(default_factory=list)
    resolved: list[StockAlert] = field(default_factory=list)
    still_open: int = 0
    to_notify: list[StockAlert] = field(
        default_factory=list
    )  # open and not yet notified (opened now or before)

    def summary(self) -> dict[str, Any]:
        return {
            "opened": len(self.opened),
            "resolved": len(self.resolved),
            "open": len(self.opened) + self.still_open,
        }


def thresholds(session: Any, default: int) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    """(store → its threshold, (store or "", SKU) → the SKU's threshold)."""
    stores = {
        row.name: row.low_stock_threshold if row.low_stock_threshold is not None else default
        for row in session.exec(select(StoreIntegration))
    }
    skus = {(row.integration, row.sku): row.threshold for row in session.exec(select(SkuThreshold))}
    return stores, skus


def threshold_of(
    item: InventoryItem, stores: dict[str, int], skus: dict[tuple[str, str], int], default: int
) -> int:
    if item.sku is not None:
        for scope in (item.integration, ""):
            if (scope, item.sku) in skus:
                return skus[(scope, item.sku)]
    return stores.get(item.integration, default)


def check(url: str, default: int) -> AlertCheck:
    """Open, update and resolve alerts from the inventory as it is now, in one transaction."""
    found = AlertCheck()
    now = utcnow()
    with session_scope(url) as session:
        stores, skus = thresholds(session, default)
        tracked = session.exec(
            select(InventoryItem).where(
                col(InventoryItem.removed).is_(False),
                col(InventoryItem.managed).is_(True),
                col(InventoryItem.stock).is_not(None),
                col(InventoryItem.integration).in_(list(stores)),
            )
        )
        low: dict[str, tuple[InventoryItem, int]] = {}
        for item in tracked:
            limit = threshold_of(item, stores, skus, default)
            if item.stock is not None and item.stock <= limit:
                low[item.item_key] = (item, limit)
        open_alerts = {
            a.item_key: a
            for a in session.exec(select(StockAlert).where(col(StockAlert.resolved_at).is_(None)))
        }
        for key, alert in open_alerts.items():
            if key in low:
                item, limit = low[key]
                alert.stock, alert.threshold, alert.title = int(item.stock or 0), limit, item.title
                found.still_open += 1
            else:
                alert.resolved_at = now
                alert.resolved_stock = _current_stock(session, key)
                found.resolved.append(alert)
            session.add(alert)
        for key, (item, limit) in low.items():
            if key in open_alerts:
                continue
            alert = StockAlert(
                item_key=key,
                integration=item.integration,
                sku=item.sku,
                title=item.title,
                stock=int(item.stock or 0),
                threshold=limit,
                opened_at=now,
            )
            session.add(alert)
            found.opened.append(alert)
        session.flush()
        found.to_notify = [
            a
            for a in [*open_alerts.values(), *found.opened]
            if a.resolved_at is None and a.notified_at is None
        ]
    return found


def _current_stock(session: Any, key: str) -> int | None:
    item = session.get(InventoryItem, key)
    return item.stock if item is not None else None


def message(alerts: Sequence[StockAlert]) -> tuple[str, str]:
    """(subject, body) of one notification listing ``alerts``."""
    subject = f"catalog-sync: {len(alerts)} item(s) low on stock"
    lines = [
        f"- {a.sku or '(no SKU)'} {a.title} in {a.integration}: {a.stock} left (threshold {a.threshold})"
        for a in alerts[:MESSAGE_ITEMS]
    ]
    if len(alerts) > MESSAGE_ITEMS:
        lines.append(f"... and {len(alerts) - MESSAGE_ITEMS} more (catalog-sync alerts --open)")
    return subject, "\n".join(lines)


def mark_notified(url: str, ids: Sequence[int]) -> None:
    with session_scope(url) as session:
        session.execute(
            sa.update(StockAlert).where(col(StockAlert.id).in_(list(ids))).values(notified_at=utcnow())
        )


def alerts(url: str, *, open_only: bool = False, limit: int = 500) -> list[StockAlert]:
    """Alerts, newest first (only the unresolved ones with ``open_only``)."""
    query = (
        select(StockAlert).order_by(col(StockAlert.opened_at).desc(), col(StockAlert.id).desc()).limit(limit)
    )
    if open_only:
        query = query.where(col(StockAlert.resolved_at).is_(None))
    with session_scope(url) as session:
        return list(session.exec(query))


def set_sku_threshold(url: str, sku: str, threshold: Any, store: str | None = None) -> SkuThreshold | None:
    """Set SKU ``sku``'s own threshold (in ``store``, else in every store); None clears it."""
    sku = sku.strip()
    if not sku:
        from sync_core.errors import ConfigError

        raise ConfigError("give the SKU whose threshold to set")
    scope = get(url, check_name(store)).name if store else ""
    value = check_threshold(threshold)
    with session_scope(url) as session:
        row = session.get(SkuThreshold, (scope, sku))
        if value is None:
            if row is not None:
                session.delete(row)
            return None
        row = row or SkuThreshold(integration=scope, sku=sku, threshold=value)
        row.threshold = value
        session.add(row)
        return row
