"""One run at a time per pipeline: a lease row in the state store, taken in the transaction that opens the
run's row and given back in the one that closes it.

The holding process renews the lease every ``ttl / 3`` seconds (:class:`LeaseKeeper`). A process that dies
(SIGKILL, OOM, power) stops renewing; once its lease has lapsed the next run takes it over and closes the
dead run's row as ``crashed``, and so does the health report (:func:`close_orphaned_runs`). Whoever starts a
run (CLI, deployment, automation) goes through here, so two runs of one pipeline never write at once.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from sync_core.db import session_scope
from sync_core.engine.runs import aware, end_run, insert_run, move_cursor
from sync_core.errors import PersistenceError, PipelineBusy
from sync_core.tables import RunLease, SyncRun, utcnow
from sync_core.upsert import upsert

log = logging.getLogger(__name__)

POLL_S = 1.0  # how often a waiting run looks at the lease again
CRASHED = "its process stopped before the run ended (killed or crashed): its lease lapsed"


@dataclass(frozen=True, slots=True)
class LeasedRun:
    """A run row opened under its pipeline's lease; ``token`` proves which process holds it."""

    run_id: int
    lease: str
    token: str
    ttl_s: float


def holder_name(flow_run_id: str | None) -> str:
    """Who holds a lease, for the message a waiting or refused run shows."""
    name = f"pid {os.getpid()} on {socket.gethostname()}"
    return f"{name}, flow run {flow_run_id}" if flow_run_id else name


def open_leased_run(
    url: str,
    *,
    lease: str,
    scope: str,
    dry_run: bool = False,
    flow_run_id: str | None = None,
    ttl_s: float,
    wait_s: float,
    on_wait: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> LeasedRun:
    """Take the lease of pipeline ``lease`` and open a running row, in one transaction.

    While a live run holds it, wait up to ``wait_s`` (``on_wait`` is told once why), then raise
    PipelineBusy naming that run. Rows of runs whose process died are closed as crashed on the way.
    """
    token = uuid.uuid4().hex
    deadline = time.monotonic() + wait_s
    told = False
    while True:
        opened = _try_open(url, lease, token, scope, dry_run, flow_run_id, ttl_s)
        if isinstance(opened, int):
            return LeasedRun(opened, lease, token, ttl_s)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            waited = f"; waited {wait_s:g} s for it to end" if wait_s else ""
            raise PipelineBusy(f"another {lease} run is going: {opened}{waited}")
        if on_wait is not None and not told:
            on_wait(f"another {lease} run is going: {opened}; waiting up to {wait_s:g} s for it to end")
            told = True
        sleep(min(POLL_S, remaining))


def _try_open(
    url: str, lease: str, token: str, scope: str, dry_run: bool, flow_run_id: str | None, ttl_s: float
) -> int | str:
    """The new run's id, or a description of the live run that holds the lease."""
    now = utcnow()
    with session_scope(url) as session:
        row = {
            "name": lease,
            "token": token,
            "run_id": None,
            "holder": holder_name(flow_run_id)[:255],
            "acquired_at": now,
            "expires_at": now + timedelta(seconds=ttl_s),
        }
        # Insert, or take over a lapsed lease; a live one stays its holder's.
        update = {name: (lambda new, n=name: getattr(new, n)) for name in row if name != "name"}
        upsert(session, RunLease, [row], keys=("name",), update=update, where=col(RunLease.expires_at) < now)
        held = session.get(RunLease, lease, populate_existing=True)
        if held is None or held.token != token:
            return _describe(session, held)
        # The lease is ours, so every other running row of the pipeline belongs to a process that died.
        _close_running(session, col(SyncRun.pipeline) == lease, now)
        run_id = insert_run(session, pipeline=lease, scope=scope, dry_run=dry_run, flow_run_id=flow_run_id)
        held.run_id = run_id
        session.add(held)
        return run_id


def _describe(session: Session, lease: RunLease | None) -> str:
    if lease is None:  # given back between the two statements: the next attempt takes it
        return "its lease was just released"
    run = session.get(SyncRun, lease.run_id) if lease.run_id is not None else None
    until = f"lease held until {aware(lease.expires_at):%H:%M:%S} UTC"
    if run is None:
        return f"{lease.holder} ({until})"
    started = aware(run.started_at)
    return f"run {run.id} ({run.scope}, started {started:%Y-%m-%d %H:%M:%S} UTC, {lease.holder}; {until})"


def _close_running(session: Session, which: sa.ColumnElement[bool], now: datetime) -> int:
    result = session.execute(
        sa.update(SyncRun)
        .where(col(SyncRun.status) == "running", which)
        .values(status="crashed", finished_at=now, error=CRASHED)
    )
    closed = int(result.rowcount or 0)  # type: ignore[attr-defined]
    if closed:
        log.warning("closed %s run row(s) whose process died as crashed", closed)
    return closed


def close_orphaned_runs(url: str) -> int:
    """Close as crashed every running row that no live lease holds (its process died); return how many."""
    now = utcnow()
    live = sa.select(col(RunLease.run_id)).where(
        col(RunLease.expires_at) >= now, col(RunLease.run_id).is_not(None)
    )
    with session_scope(url) as session:
        return _close_running(session, col(SyncRun.id).not_in(live), now)


def renew(url: str, run: LeasedRun) -> bool:
    """Push the lease's expiry ``ttl`` seconds ahead; False when another run has taken it over."""
    expires = utcnow() + timedelta(seconds=run.ttl_s)
    with session_scope(url) as session:
        result = session.execute(
            sa.update(RunLease)
            .where(col(RunLease.name) == run.lease, col(RunLease.token) == run.token)
            .values(expires_at=expires)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def close_leased_run(
    url: str,
    run: LeasedRun,
    *,
    status: str,
    error: str | None,
    requests: int = 0,
    cursor: tuple[str, str] | None = None,
    summary: dict[str, Any] | None = None,
) -> SyncRun:
    """End a run in one transaction: its status, request count, what its job added to its summary, the
    cursor (key, value) when given, and the lease given back. Returns the closed row."""
    with session_scope(url) as session:
        row = end_run(session, run_id=run.run_id, status=status, error=error, requests=requests)
        if summary:
            row.summary = json.loads(json.dumps(summary, default=str))  # JSON-safe: Decimals, datetimes
            session.add(row)
        if cursor is not None:
            key, value = cursor
            move_cursor(session, pipeline=run.lease, key=key, value=value)
        session.execute(
            sa.delete(RunLease).where(col(RunLease.name) == run.lease, col(RunLease.token) == run.token)
        )
        return row


class LeaseKeeper:
    """Renews a run's lease from a daemon thread every ``ttl / 3`` seconds until stopped."""

    def __init__(self, url: str, run: LeasedRun) -> None:
        self._url, self._run = url, run
        self._stop = threading.Event()
        self.lost = False
        self._thread = threading.Thread(target=self._loop, name=f"lease {run.lease}", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self._run.ttl_s / 3):
            try:
                held = renew(self._url, self._run)
            except PersistenceError as exc:  # the next renewal may get through before the lease lapses
                log.warning("run %s: could not renew its lease: %s", self._run.run_id, exc)
                continue
            if not held and not self.lost:
                self.lost = True
                log.error(
                    "run %s lost the %s lease to another run (this process stalled past its lease)",
                    self._run.run_id,
                    self._run.lease,
                )
