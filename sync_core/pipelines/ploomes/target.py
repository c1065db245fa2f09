"""The ``ploomes_products`` table as the run's target: rows written only when their content changed, their
version up by one each time; products a complete read no longer finds (or a webhook says are deleted) kept
but inactive."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col

from sync_core.db import in_chunks, session_scope
from sync_core.pipelines.ploomes.mapping import CONTENT, KIND
from sync_core.pipelines.ploomes.tables import PloomesProduct
from sync_core.tables import utcnow
from sync_core.targets.table import TableTarget

TABLE: sa.Table = PloomesProduct.__table__  # type: ignore[attr-defined]


class ProductsTable(TableTarget):
    """``ploomes_products`` through the table target (sync_core.targets.table)."""

    def __init__(self, url: str) -> None:
        super().__init__(
            url,
            PloomesProduct,
            content=CONTENT,
            key="ploomes_id",
            kind=KIND,
            seen="last_synced_at",
            version="version",
        )

    def deactivate(
        self,
        *,
        ids: Collection[int] | None = None,
        unseen_since: datetime | None = None,
        group_id: int | None = None,
        keep: Collection[int] = (),
    ) -> int:
        """Mark inactive (version up, fingerprint cleared so a return is written again) the active products
        of ``ids``, or those no read has seen since ``unseen_since`` (of group ``group_id`` when given),
        except ``keep``; how many."""
        stamp = utcnow()
        values = {
            "active": False,
            "version": TABLE.c.version + 1,
            "fingerprint": None,
            "last_changed_at": stamp,
        }
        key = col(PloomesProduct.ploomes_id)
        active = TABLE.c.active.is_(True)
        done = 0
        with session_scope(self.url) as session:
            if ids is not None:
                for chunk in in_chunks(list(ids)):
                    query = sa.update(TABLE).where(active, key.in_(chunk)).values(values)
                    done += session.execute(query).rowcount or 0  # type: ignore[attr-defined]
                return done
            assert unseen_since is not None
            query = sa.update(TABLE).where(active, TABLE.c.last_synced_at < unseen_since)
            if group_id is not None:
                query = query.where(TABLE.c.group_id == group_id)
            if keep:
                query = query.where(key.not_in(list(keep)))
            return session.execute(query.values(values)).rowcount or 0  # type: ignore[attr-defined]
