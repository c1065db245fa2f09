"""Failure records: quarantined source records and refused writes, replayed with backoff until dead."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from sync_core.db import session_scope
from sync_core.tables import Failure, utcnow
from sync_core.upsert import upsert


@dataclass(frozen=True, slots=True)
class NewFailure:
    context: str  # "map", "push:price", "push:stock", "create"
    item_key: str
    error_class: str
    reason: str
    message: str
    payload: dict[str, Any]


def retry_delay(attempts: int, base_s: int) -> timedelta:
    """Exponential replay delay: base, 2×base, 4×base ... capped at one day."""
    return timedelta(seconds=min(base_s * 2 ** max(attempts - 1, 0), 86_400))


def record_failures(
    session: Session, *, pipeline: str, failures: Sequence[NewFailure], retry_base_s: int
) -> None:
    """Upsert failures in the caller's transaction: a repeat bumps attempts; a dead item stays dead."""
    if not failures:
        return
    now = utcnow()
    rows = [
        {
            "pipeline": pipeline,
            "context": f.context,
            "item_key": f.item_key,
            "payload": f.payload,
            "error_class": f.error_class,
            "reason": f.reason,
            "last_error": f.message[:2000],
            "attempts": 1,
            "status": "pending",
            "first_failed_at": now,
            "last_failed_at": now,
            "next_retry_at": now + retry_delay(1, retry_base_s),
            "resolved_at": None,
        }
        for f in failures
    ]
    columns = sa.inspect(Failure).columns
    was_resolved = columns.status == "resolved"
    upsert(
        session,
        Failure,
        rows,
        keys=("pipeline", "context", "item_key"),
        update={
            "payload": lambda new: new.payload,
            "error_class": lambda new: new.error_class,
            "reason": lambda new: new.reason,
            "last_error": lambda new: new.last_error,
            "last_failed_at": lambda new: new.last_failed_at,
            "next_retry_at": lambda new: new.next_retry_at,
            "resolved_at": None,
            "attempts": sa.case((was_resolved, 1), else_=columns.attempts + 1),
            "status": sa.case((columns.status == "dead", "dead"), else_="pending"),
        },
    )


def resolve(session: Session, *, pipeline: str, context: str, item_keys: Sequence[str]) -> int:
    """Mark open failures of these items resolved (a later success supersedes them)."""
    resolved = 0
    for start in range(0, len(item_keys), 500):
        result = session.execute(
            sa.update(Failure)
            .where(
                col(Failure.pipeline) == pipeline,
                col(Failure.context) == context,
                col(Failure.item_key).in_(item_keys[start : start + 500]),
                col(Failure.status) != "resolved",
            )
            .values(status="resolved", resolved_at=utcnow())
        )
        resolved += result.rowcount or 0  # type: ignore[attr-defined]
    return resolved


def open_failures(
    session: Session, *, pipeline: str, contexts: Sequence[str], item_keys: Sequence[str]
) -> list[tuple[int, str, str, dict[str, Any]]]:
    """(id, context, item_key, payload) of the pending and dead failures of these items."""
    found: list[tuple[int, str, str, dict[str, Any]]] = []
    for start in range(0, len(item_keys), 500):
        rows = session.execute(
            sa.select(
                col(Failure.id), col(Failure.context), col(Failure.item_key), col(Failure.payload)
            ).where(
                col(Failure.pipeline) == pipeline,
                col(Failure.context).in_(contexts),
                col(Failure.item_key).in_(item_keys[start : start + 500]),
                col(Failure.status) != "resolved",
            )
        )
        found.extend((int(i), c, k, p) for i, c, k, p in rows)
    return found


def resolve_ids(session: Session, failure_ids: Sequence[int]) -> int:
    """Mark these failures resolved; returns how many."""
    for start in range(0, len(failure_ids), 500):
        session.execute(
            sa.update(Failure)
            .where(col(Failure.id).in_(failure_ids[start : start + 500]))
            .values(status="resolved", resolved_at=utcnow())
        )
    return len(failure_ids)


def open_failure_count(url: str, *, pipeline: str, context: str) -> int:
    """How many failures of ``pipeline`` in ``context`` are pending or dead."""
    with session_scope(url) as session:
        query = select(sa.func.count()).where(
            col(Failure.pipeline) == pipeline,
            col(Failure.context) == context,
            col(Failure.status) != "resolved",
        )
        return int(session.exec(query).one())


def resolve_older(url: str, *, pipeline: str, context: str, before: datetime) -> int:
    """Resolve the open failures of ``pipeline`` in ``context`` last seen before ``before``: a complete read
    since then did not meet them again (a record fixed at the source, or one whose key could not be read).
    Returns how many."""
    with session_scope(url) as session:
        result = session.execute(
            sa.update(Failure)
            .where(
                col(Failure.pipeline) == pipeline,
                col(Failure.context) == context,
                col(Failure.status) != "resolved",
                col(Failure.last_failed_at) < before,
            )
            .values(status="resolved", resolved_at=utcnow())
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def has_open_failures(url: str, *, pipeline: str) -> bool:
    """True when any failure of the pipeline is pending or dead (else resolving can be skipped)."""
    with session_scope(url) as session:
        query = select(Failure.id).where(Failure.pipeline == pipeline, Failure.status != "resolved").limit(1)
        return session.exec(query).first() is not None


def due_failures(
    url: str, *, pipeline: str, contexts: Sequence[str], now: datetime | None = None, limit: int = 500
) -> list[Failure]:
    """Pending failures whose replay time has come, oldest first."""
    with session_scope(url) as session:
        return list(
            session.exec(
                select(Failure)
                .where(
                    Failure.pipeline == pipeline,
                    Failure.status == "pending",
                    col(Failure.context).in_(contexts),
                    col(Failure.next_retry_at) <= (now or utcnow()),
                )
                .order_by(col(Failure.next_retry_at))
                .limit(limit)
            )
        )


def mark_replay_failed(
    session: Session, *, failure_id: int, error_class: str, message: str, max_attempts: int, retry_base_s: int
) -> str:
    """Count one more failed replay; return the new status ("pending" or "dead")."""
    row = session.get(Failure, failure_id)
    if row is None:
        raise LookupError(f"no failure {failure_id}")
    row.attempts += 1
    row.error_class, row.last_error, row.last_failed_at = error_class, message[:2000], utcnow()
    if row.attempts >= max_attempts:
        row.status, row.next_retry_at = "dead", None
    else:
        row.next_retry_at = utcnow() + retry_delay(row.attempts, retry_base_s)
    session.add(row)
    return row.status


def failure_counts(url: str, *, pipeline: str | None = None) -> dict[str, int]:
    """status → count (pending, dead, resolved)."""
    with session_scope(url) as session:
        query = select(Failure.status, sa.func.count()).group_by(Failure.status)
        if pipeline:
            query = query.where(Failure.pipeline == pipeline)
        return {status: int(n) for status, n in session.exec(query)}


def list_failures(url: str, *, status: str | None = None, limit: int = 100) -> list[Failure]:
    with session_scope(url) as session:
        query = select(Failure).order_by(col(Failure.last_failed_at).desc()).limit(limit)
        if status:
            query = query.where(Failure.status == status)
        return list(session.exec(query))


def mark_exhausted(url: str, *, pipeline: str, contexts: Sequence[str], max_attempts: int) -> int:
    """Mark dead the pending failures of these contexts that have had their last allowed attempt (for
    pipelines that replay by asking the source again); returns how many."""
    with session_scope(url) as session:
        result = session.execute(
            sa.update(Failure)
            .where(
                col(Failure.pipeline) == pipeline,
                col(Failure.context).in_(contexts),
                col(Failure.status) == "pending",
                col(Failure.attempts) >= max_attempts,
            )
            .values(status="dead", next_retry_at=None)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
