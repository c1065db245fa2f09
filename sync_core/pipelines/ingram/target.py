"""``ingram_products`` as a run's target (the table target, with what a details refetch needs)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from sync_core.db import in_chunks
from sync_core.models import Write
from sync_core.pipelines.ingram.mapping import CONTENT, FETCHED, KIND
from sync_core.pipelines.ingram.tables import IngramProduct
from sync_core.targets.table import TableTarget

DETAILS_CONTEXT = "details"  # the failure context of a part whose details could not be had


class IngramTable(TableTarget):
    """``ingram_products`` as the run's target. An unchanged row whose details this run fetched again gets
    its ``details_fetched_at`` moved; a part whose details came back ends its ``details`` failure."""

    def __init__(self, url: str, **kwargs: Any) -> None:
        super().__init__(
            url,
            IngramProduct,
            content=(*CONTENT, FETCHED),
            key="ingram_part_number",
            kind=KIND,
            seen="prices_fetched_at",
            **kwargs,
        )
        self.fresh_details: dict[str, datetime] = {}  # part → when this run fetched its details
        self._fresh_lock = threading.Lock()

    def details_fetched(self, parts: dict[str, datetime]) -> None:
        with self._fresh_lock:
            self.fresh_details.update(parts)

    def record(
        self, session: Session, *, succeeded: Sequence[Write], unchanged: Sequence[Write], run_id: int | None
    ) -> None:
        super().record(session, succeeded=succeeded, unchanged=unchanged, run_id=run_id)
        with self._fresh_lock:
            stamps = {
                w.target_key: self.fresh_details[w.target_key]
                for w in unchanged
                if w.target_key in self.fresh_details
            }
        by_stamp: dict[datetime, list[str]] = {}
        for part, stamp in stamps.items():
            by_stamp.setdefault(stamp, []).append(part)
        key = col(IngramProduct.ingram_part_number)
        for stamp, parts in by_stamp.items():
            for chunk in in_chunks(parts):
                session.execute(
                    sa.update(IngramProduct).where(key.in_(chunk)).values(details_fetched_at=stamp)
                )

    def settled(self, writes: Sequence[Write]) -> list[tuple[str, list[str]]]:
        with self._fresh_lock:
            fresh = [w.source_key for w in writes if w.source_key in self.fresh_details]
        return [*super().settled(writes), (DETAILS_CONTEXT, fresh)]
