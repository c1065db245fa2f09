"""The ``inventory_items`` table as a store run's target: rows written only when their content changed; items a
complete read of their store no longer finds kept, marked removed."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col

from sync_core.db import session_scope
from sync_core.pipelines.stores.mapping import CONTENT, KIND
from sync_core.pipelines.stores.tables import InventoryItem
from sync_core.tables import utcnow
from sync_core.targets.table import TableTarget

TABLE: sa.Table = InventoryItem.__table__  # type: ignore[attr-defined]


class InventoryTable(TableTarget):
    """``inventory_items`` through the table target (sync_core.targets.table)."""

    def __init__(self, url: str) -> None:
        super().__init__(
            url, InventoryItem, content=CONTENT, key="item_key", kind=KIND, seen="last_synced_at"
        )

    def mark_removed(self, integration: str, *, unseen_since: datetime, keep: Collection[str] = ()) -> int:
        """Mark removed (fingerprint cleared, so a return is written again) the items of ``integration`` no
        read has seen since ``unseen_since``, except the keys ``keep``; how many."""
        query = sa.update(TABLE).where(
            TABLE.c.integration == integration,
            TABLE.c.removed.is_(False),
            TABLE.c.last_synced_at < unseen_since,
        )
        if keep:
            query = query.where(col(InventoryItem.item_key).not_in(list(keep)))
        values = {"removed": True, "fingerprint": None, "last_changed_at": utcnow()}
        with session_scope(self.url) as session:
            return session.execute(query.values(values)).rowcount or 0  # type: ignore[attr-defined]
