"""The writes the guardrail keeps back (``held_writes``), by run, and what the target holds that they are
weighed against (sync_core.engine.guard).

A kept-back write is ``deferred`` while its run goes on; when the run ends it is ``sent`` (the run passed) or
``held`` (the run tripped the guardrail). An operator's `release` sends the held ones (``released``, or
``superseded`` when a later write of the same item got there first; ``failed`` when the target refused it,
and its failure row goes to `retry-failures`) and `discard` drops them (``discarded``). The deferred writes of a run that never reached its end are ``dropped`` by the next run of
its pipeline, which plans them again from the ledger.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col, select

from sync_core.db import session_scope
from sync_core.engine.guard import Guard, Suspect
from sync_core.engine.runs import aware
from sync_core.engine.snapshots import plain
from sync_core.models import Write
from sync_core.tables import HeldWrite, LedgerEntry, SyncRun, utcnow
from sync_core.upsert import insert_rows

DEFERRED, HELD, SENT, RELEASED, DISCARDED, SUPERSEDED, DROPPED = (
    "deferred",
    "held",
    "sent",
    "released",
    "discarded",
    "superseded",
    "dropped",
)


def park(url: str, *, run_id: int, pipeline: str, target: str, suspects: Sequence[Suspect]) -> None:
    """Keep ``suspects`` back as ``deferred`` writes of ``run_id``, in one insert."""
    if not suspects:
        return
    now = utcnow()
    rows = [
        {
            "run_id": run_id,
            "pipeline": pipeline,
            "target": target,
            "target_key": s.write.target_key,
            "kind": s.write.kind,
            "source_key": s.write.source_key,
            "value": plain(s.write.value),
            "before": plain(s.before),
            "reason": s.reason,
            "status": DEFERRED,
            "created_at": now,
        }
        for s in suspects
    ]
    with session_scope(url) as session:
        insert_rows(session, HeldWrite, rows)


def kept_back(url: str, *, run_id: int, status: str) -> list[HeldWrite]:
    """The writes ``run_id`` kept back that are in ``status``, in the order they were planned."""
    with session_scope(url) as session:
        query = select(HeldWrite).where(HeldWrite.run_id == run_id, HeldWrite.status == status)
        return list(session.exec(query.order_by(col(HeldWrite.id))))


def counts_by_reason(rows: Sequence[HeldWrite]) -> Counter[str]:
    return Counter(row.reason for row in rows)


def as_write(row: HeldWrite) -> Write:
    return Write(row.kind, row.target_key, row.source_key, row.value)


def mark(url: str, ids: Sequence[int], status: str) -> None:
    """Move the rows ``ids`` to ``status``."""
    if not ids:
        return
    with session_scope(url) as session:
        session.execute(sa.update(HeldWrite).where(col(HeldWrite.id).in_(list(ids))).values(status=status))


def mark_run(url: str, *, run_id: int, was: str, status: str) -> int:
    """Move every row of ``run_id`` in ``was`` to ``status``; how many moved."""
    with session_scope(url) as session:
        result = session.execute(
            sa.update(HeldWrite)
            .where(col(HeldWrite.run_id) == run_id, col(HeldWrite.status) == was)
            .values(status=status)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def drop_abandoned(url: str, *, pipeline: str, run_id: int) -> int:
    """``dropped``: the deferred writes of ``pipeline``'s runs that are over without having settled them
    (crashed, cancelled, failed); their values were never sent, so the ledger has them planned again."""
    with session_scope(url) as session:
        over = select(SyncRun.id).where(SyncRun.pipeline == pipeline, SyncRun.status != "running")
        result = session.execute(
            sa.update(HeldWrite)
            .where(
                col(HeldWrite.pipeline) == pipeline,
                col(HeldWrite.status) == DEFERRED,
                col(HeldWrite.run_id) != run_id,
                col(HeldWrite.run_id).in_(over),
            )
            .values(status=DROPPED)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def written_since(url: str, *, target: str, rows: Sequence[HeldWrite]) -> set[tuple[str, str]]:
    """(target key, kind) of the rows whose item the ledger recorded a newer value for since they were kept
    back: sending them would undo a later run's write."""
    if not rows:
        return set()
    oldest: datetime = min(row.created_at for row in rows)
    keys = {(row.target_key, row.kind): row.created_at for row in rows}
    with session_scope(url) as session:
        query = select(LedgerEntry.target_key, LedgerEntry.kind, LedgerEntry.updated_at).where(
            LedgerEntry.target == target,
            col(LedgerEntry.target_key).in_(sorted({row.target_key for row in rows})),
            col(LedgerEntry.updated_at) >= oldest,
        )
        found = session.execute(query).all()
    return {
        (key, kind)
        for key, kind, updated in found
        if (key, kind) in keys and aware(updated) > aware(keys[(key, kind)])
    }


def target_holds(url: str, *, target: str, guard: Guard) -> tuple[int, int]:
    """(stocked items, priced items) the ledger says ``target`` holds: the denominators of the guardrail."""
    stocked = priced = 0
    kinds = list(guard.kinds)
    with session_scope(url) as session:
        query = select(LedgerEntry.kind, LedgerEntry.value).where(
            LedgerEntry.target == target, col(LedgerEntry.kind).in_(kinds)
        )
        for kind, value in session.execute(query):
            if kind == guard.stock_kind:
                stock = guard.stock_of(value)
                stocked += stock is not None and stock > 0
            if kind == guard.price_kind:
                priced += guard.price_of(value) is not None
    return stocked, priced
