"""Source snapshots: per pipeline and source item, the values the source last gave, when, by which run, and
the target items they map to (``source_snapshots``), for `catalog-sync explain`.

A job that can tell them offers ``snapshots(pages, mapped)`` (see :class:`SnapshotTaker`); the engine records
a batch's in one bulk upsert after mapping it, never on a dry run. A job without the method records none.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from sqlalchemy.exc import SQLAlchemyError

from sync_core.db import session_scope
from sync_core.errors import PersistenceError
from sync_core.tables import SourceSnapshot, utcnow
from sync_core.upsert import upsert_values

if TYPE_CHECKING:
    from sync_core.engine.job import Job, Mapped, RunContext
    from sync_core.models import SourcePage

log = logging.getLogger(__name__)

# (source key, the values the source gave, the target keys they map to)
Snapshot = tuple[str, dict[str, Any], Sequence[str]]
COLUMNS = ("pipeline", "source_key", "values", "target_keys", "run_id", "read_at")
KEY_MAX = 128  # the source_key column's width: a longer key is not recorded


@runtime_checkable
class SnapshotTaker(Protocol):
    """A job that tells what its source gave for each item of a batch."""

    def snapshots(self, pages: Sequence[SourcePage], mapped: Mapped) -> Iterable[Snapshot]:
        """Pure: (source key, values, target keys) of the batch's records, values JSON-ready or plain()-able."""


def plain(value: Any) -> Any:
    """``value`` as JSON can hold it: Decimals as text (exact), times as ISO 8601, UUIDs as text, tuples as
    lists; containers converted throughout."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    return str(value)


def snapshot_rows(key: str, run_id: int | None, snapshots: Iterable[Snapshot]) -> list[tuple[Any, ...]]:
    """The ``source_snapshots`` rows of ``snapshots`` for the pipeline run keyed ``key`` (in COLUMNS order),
    stamped now; keys too long for the column are left out."""
    now = utcnow()
    return [
        (key, source_key, plain(values), [str(t) for t in targets], run_id, now)
        for source_key, values, targets in snapshots
        if source_key and len(source_key) <= KEY_MAX
    ]


def record_snapshots(ctx: RunContext, job: Job, pages: Sequence[SourcePage], mapped: Mapped) -> None:
    """Record the batch's snapshots, when its job takes them, in one bulk upsert keyed by the run's key. A
    store error is logged, not raised: a snapshot only explains, and the batch's own records follow."""
    if not isinstance(job, SnapshotTaker):
        return
    rows = snapshot_rows(ctx.key, ctx.run_id, job.snapshots(pages, mapped))
    if not rows:
        return
    try:
        with session_scope(ctx.settings.database_url) as session:
            upsert_values(session, SourceSnapshot, COLUMNS, rows, keys=COLUMNS[:2], update=COLUMNS[2:])
    except (PersistenceError, SQLAlchemyError) as exc:
        log.warning("%s: source snapshots not recorded: %s", ctx.key, str(exc).splitlines()[0])
