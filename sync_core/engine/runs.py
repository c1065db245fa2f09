"""Run tracking, cursors and semantic events (keyword-only persistence functions)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, overload

import sqlalchemy as sa
from sqlmodel import Session, col, select

from sync_core.db import session_scope
from sync_core.tables import JournalEntry, SyncCursor, SyncRun, utcnow
from sync_core.upsert import upsert

log = logging.getLogger(__name__)

COUNTERS = ("fetched", "mapped", "pushed", "unchanged", "skipped", "failed", "requests")


@overload
def aware(value: datetime) -> datetime: ...
@overload
def aware(value: None) -> None: ...
def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def insert_run(
    session: Session, *, pipeline: str, scope: str, dry_run: bool = False, flow_run_id: str | None = None
) -> int:
    """Insert a running sync_runs row in the caller's transaction and return its id."""
    run = SyncRun(
        pipeline=pipeline,
        scope=scope,
        status="running",
        started_at=utcnow(),
        dry_run=dry_run,
        flow_run_id=flow_run_id,
    )
    session.add(run)
    session.flush()
    assert run.id is not None
    return run.id


def start_run(
    url: str, *, pipeline: str, scope: str, dry_run: bool = False, flow_run_id: str | None = None
) -> int:
    """Insert a running sync_runs row and return its id."""
    with session_scope(url) as session:
        return insert_run(session, pipeline=pipeline, scope=scope, dry_run=dry_run, flow_run_id=flow_run_id)


def add_counts(url: str, *, run_id: int, **counts: int) -> None:
    """Add to a run's counters in one UPDATE, so progress shows while the run goes on."""
    values = {
        name: getattr(SyncRun, name) + amount
        for name, amount in counts.items()
        if amount and name in COUNTERS
    }
    if not values:
        return
    with session_scope(url) as session:
        session.execute(sa.update(SyncRun).where(col(SyncRun.id) == run_id).values(**values))


def save_progress(url: str, *, run_id: int, progress: dict[str, Any]) -> None:
    """Keep a running run's progress on its row (what `catalog-sync monitor` shows); never raises: progress
    never stops a run."""
    try:
        with session_scope(url) as session:
            session.execute(sa.update(SyncRun).where(col(SyncRun.id) == run_id).values(progress=progress))
    except Exception:
        log.warning("run %s: could not save its progress", run_id, exc_info=True)


def end_run(session: Session, *, run_id: int, status: str, error: str | None, requests: int = 0) -> SyncRun:
    """Close a run in the caller's transaction: final status, error, finish time, requests added."""
    run = session.get(SyncRun, run_id)
    if run is None:
        raise LookupError(f"no sync run {run_id}")
    run.status, run.error, run.finished_at = status, error, utcnow()
    run.requests += requests
    session.add(run)
    session.flush()
    session.refresh(run)
    return run


def finish_run(url: str, *, run_id: int, status: str, error: str | None = None) -> SyncRun:
    """Close a run with its final status; return the row."""
    with session_scope(url) as session:
        return end_run(session, run_id=run_id, status=status, error=error)


def get_run(url: str, *, run_id: int) -> SyncRun | None:
    with session_scope(url) as session:
        return session.get(SyncRun, run_id)


def recent_runs(url: str, *, limit: int = 20, pipeline: str | None = None) -> list[SyncRun]:
    """Newest runs first."""
    with session_scope(url) as session:
        query = select(SyncRun).order_by(col(SyncRun.id).desc()).limit(limit)
        if pipeline:
            query = query.where(SyncRun.pipeline == pipeline)
        return list(session.exec(query))


def last_finished_run(
    url: str,
    *,
    pipeline: str,
    scope: str | Sequence[str],
    statuses: Sequence[str] = ("success", "partial"),
) -> SyncRun | None:
    """The newest run of ``pipeline`` in ``scope`` (or any of several) that ended in one of ``statuses``
    (success or partial), not a dry run."""
    scopes = [scope] if isinstance(scope, str) else list(scope)
    with session_scope(url) as session:
        query = (
            select(SyncRun)
            .where(
                SyncRun.pipeline == pipeline,
                col(SyncRun.scope).in_(scopes),
                col(SyncRun.status).in_(list(statuses)),
                SyncRun.dry_run == False,  # noqa: E712
            )
            .order_by(col(SyncRun.id).desc())
            .limit(1)
        )
        return session.exec(query).first()


def runs_in_status(url: str, status: str, *, limit: int = 50) -> list[SyncRun]:
    """The newest runs in ``status`` (e.g. "held": waiting for an operator), newest first."""
    with session_scope(url) as session:
        query = select(SyncRun).where(SyncRun.status == status).order_by(col(SyncRun.id).desc())
        return list(session.exec(query.limit(limit)))


def runs_of_flow_runs(url: str, flow_run_ids: Sequence[str]) -> list[SyncRun]:
    """The run rows of these Prefect flow runs."""
    with session_scope(url) as session:
        return list(session.exec(select(SyncRun).where(col(SyncRun.flow_run_id).in_(flow_run_ids))))


def last_run_per_pipeline(url: str) -> list[SyncRun]:
    """The newest run of each pipeline+scope, for health."""
    with session_scope(url) as session:
        newest = select(sa.func.max(SyncRun.id)).group_by(SyncRun.pipeline, SyncRun.scope).scalar_subquery()
        return list(
            session.exec(select(SyncRun).where(col(SyncRun.id).in_(newest)).order_by(SyncRun.pipeline))
        )


def get_cursor(url: str, *, pipeline: str, key: str) -> str | None:
    with session_scope(url) as session:
        row = session.exec(
            select(SyncCursor).where(SyncCursor.pipeline == pipeline, SyncCursor.key == key)
        ).first()
        return row.value if row else None


def since_watermark(url: str, *, pipeline: str, key: str, overlap_s: float) -> datetime | None:
    """Where an incremental read starts: cursor ``key`` (an ISO 8601 time) minus ``overlap_s``; None before
    the first complete read set it."""
    stored = get_cursor(url, pipeline=pipeline, key=key)
    if not stored:
        return None
    watermark = aware(datetime.fromisoformat(stored))
    assert watermark is not None
    return watermark - timedelta(seconds=overlap_s)


def move_cursor(session: Session, *, pipeline: str, key: str, value: str) -> None:
    """Move a cursor (insert or update) in the caller's transaction."""
    upsert(
        session,
        SyncCursor,
        [{"pipeline": pipeline, "key": key, "value": value, "moved_at": utcnow()}],
        keys=("pipeline", "key"),
        update=("value", "moved_at"),
    )


def set_cursor(url: str, *, pipeline: str, key: str, value: str) -> None:
    """Move a cursor (insert or update)."""
    with session_scope(url) as session:
        move_cursor(session, pipeline=pipeline, key=key, value=value)


def record_journal(
    url: str, *, run_id: int | None, pipeline: str, entries: Sequence[tuple[str, str | None, dict[str, Any]]]
) -> None:
    """Insert (kind, item_key, data) journal entries in one statement."""
    if not entries:
        return
    now = utcnow()
    rows = [
        {
            "run_id": run_id,
            "pipeline": pipeline,
            "kind": kind,
            "item_key": key,
            "data": data,
            "created_at": now,
        }
        for kind, key, data in entries
    ]
    with session_scope(url) as session:
        session.execute(sa.insert(JournalEntry), rows)


def run_journal(url: str, *, run_id: int, kind: str | None = None) -> list[JournalEntry]:
    with session_scope(url) as session:
        query = select(JournalEntry).where(JournalEntry.run_id == run_id).order_by(col(JournalEntry.id))
        if kind:
            query = query.where(JournalEntry.kind == kind)
        return list(session.exec(query))
