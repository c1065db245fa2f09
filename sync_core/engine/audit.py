"""Database-backed sinks for the HTTP layer: request audit rows, semantic events, circuit-breaker state."""

from __future__ import annotations

import threading
from dataclasses import fields
from typing import Any

from sqlmodel import select

from sync_core.db import session_scope
from sync_core.engine.runs import record_journal
from sync_core.http.circuit import BreakerState, circuit_name
from sync_core.http.client import RequestRecord
from sync_core.tables import CircuitBreakerRow, ExternalRequest, utcnow
from sync_core.upsert import insert_rows, upsert

RECORD_FIELDS = tuple(f.name for f in fields(RequestRecord))


class DbAuditSink:
    """Buffers request records and writes them to ``external_requests`` in batches (thread-safe)."""

    def __init__(self, url: str, *, run_id: int | None, flush_every: int = 200) -> None:
        self._url, self._run_id, self._flush_every = url, run_id, flush_every
        self._lock = threading.Lock()
        self._buffer: list[dict[str, Any]] = []
        self.requests = 0

    def record(self, rec: RequestRecord) -> None:
        row = {name: getattr(rec, name) for name in RECORD_FIELDS}  # shallow: asdict deep-copies each value
        row["run_id"] = self._run_id
        with self._lock:
            self._buffer.append(row)
            self.requests += 1
            batch = self._take() if len(self._buffer) >= self._flush_every else []
        self._write(batch)

    def flush(self) -> None:
        with self._lock:
            batch = self._take()
        self._write(batch)

    def _take(self) -> list[dict[str, Any]]:
        batch, self._buffer = self._buffer, []
        return batch

    def _write(self, batch: list[dict[str, Any]]) -> None:
        if batch:
            with session_scope(self._url) as session:
                insert_rows(session, ExternalRequest, batch)


class DbJournalSink:
    """Writes the HTTP layer's semantic events (rate limited, circuit opened ...) to ``integration_events``."""

    def __init__(self, url: str, *, run_id: int | None, pipeline: str, forward: Any = None) -> None:
        self._url, self._run_id, self._pipeline, self._forward = url, run_id, pipeline, forward

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        record_journal(
            self._url,
            run_id=self._run_id,
            pipeline=self._pipeline,
            entries=[(kind, data.get("provider"), data)],
        )
        if self._forward is not None:
            self._forward(kind, data)


class DbBreakerStore:
    """Circuit-breaker state in ``circuit_breakers``, so every process and run sees the same circuit."""

    def __init__(self, url: str) -> None:
        self._url = url

    def load(self, provider: str, address: str = "") -> BreakerState:
        with session_scope(self._url) as session:
            row = session.get(CircuitBreakerRow, (provider, address))
            if row is None:
                return BreakerState()
            return BreakerState(
                state=row.state,
                failures=row.failures,
                window_started_at=row.window_started_at,
                opened_at=row.opened_at,
                last_error=row.last_error,
            )

    def save(self, provider: str, state: BreakerState, address: str = "") -> None:
        row = {
            "provider": provider,
            "address": address,
            "state": state.state,
            "failures": state.failures,
            "window_started_at": state.window_started_at,
            "opened_at": state.opened_at,
            "last_error": state.last_error,
            "updated_at": utcnow(),
        }
        with session_scope(self._url) as session:
            upsert(
                session,
                CircuitBreakerRow,
                [row],
                keys=("provider", "address"),
                update=("state", "failures", "window_started_at", "opened_at", "last_error", "updated_at"),
            )


def circuit_states(url: str) -> dict[str, str]:
    """circuit name (provider at address) → state, for health and metrics."""
    with session_scope(url) as session:
        return {
            circuit_name(row.provider, row.address): row.state
            for row in session.exec(select(CircuitBreakerRow))
        }
