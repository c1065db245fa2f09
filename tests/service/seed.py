"""Real rows in the state store, written through sync_core's own functions, and a client on the service."""

from __future__ import annotations

import socket
from collections.abc import Sequence

from fastapi.testclient import TestClient

from catalog_sync.service import create_app
from sync_core.db import session_scope
from sync_core.engine.audit import DbAuditSink, DbBreakerStore
from sync_core.engine.failures import NewFailure, record_failures
from sync_core.engine.runs import add_counts, finish_run, start_run
from sync_core.http.circuit import BreakerState
from sync_core.http.client import RequestRecord
from sync_core.settings import Settings
from sync_core.tables import utcnow


def client_for(settings: Settings) -> TestClient:
    return TestClient(create_app(lambda: settings))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unreachable_settings(settings: Settings) -> Settings:
    url = f"postgresql+psycopg://nobody:secretpw@127.0.0.1:{free_port()}/gone"
    return settings.model_copy(update={"database_url": url})


def run(
    url: str,
    *,
    pipeline: str = "sync-products",
    scope: str = "incremental",
    status: str = "success",
    **counts: int,
) -> int:
    """A run with counters; ``status="running"`` leaves it open."""
    run_id = start_run(url, pipeline=pipeline, scope=scope)
    add_counts(url, run_id=run_id, **counts)
    if status != "running":
        finish_run(url, run_id=run_id, status=status, error="boom" if status == "failed" else None)
    return run_id


def requests(url: str, *, provider: str, durations_ms: Sequence[int], outcome: str = "success") -> None:
    sink = DbAuditSink(url, run_id=None)
    for n, duration in enumerate(durations_ms):
        sink.record(
            RequestRecord(
                provider=provider,
                method="GET",
                url=f"https://{provider}.test/items",
                status=200 if outcome == "success" else 503,
                duration_ms=duration,
                attempt=1,
                outcome=outcome,
                correlation_id=f"{provider}-{outcome}-{n}",
                error=None,
                context=None,
                started_at=utcnow(),
            )
        )
    sink.flush()


def failures(url: str, *item_keys: str, pipeline: str = "sync-products", context: str = "push:price") -> None:
    """One batch of failures (one timestamp), each with a payload the service must not return."""
    batch = [
        NewFailure(context, key, "NotFound", "not_found", f"{key} is gone", {"price": 1, "blob": "x" * 500})
        for key in item_keys
    ]
    with session_scope(url) as session:
        record_failures(session, pipeline=pipeline, failures=batch, retry_base_s=60)


def circuit(url: str, provider: str, state: str) -> None:
    DbBreakerStore(url).save(provider, BreakerState(state=state, failures=5, opened_at=0.0))
