"""Row builders for seeding external_requests and failures directly (bulk inserts in store tests)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sync_core.tables import utcnow

PIPELINE = "anar360-sazito"


def request_row(
    run_id: int,
    provider: str,
    method: str,
    url: str,
    ms: int,
    *,
    outcome: str = "success",
    started_at: datetime | None = None,
) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "provider": provider,
        "method": method,
        "url": url,
        "duration_ms": ms,
        "outcome": outcome,
        "correlation_id": "c",
        "started_at": started_at or utcnow(),
    }


def failure_row(
    key: str,
    context: str,
    reason: str,
    at: datetime,
    *,
    first_failed_at: datetime | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A failure last seen ``at`` (first seen a day before unless given); ``fields`` override the rest."""
    return {
        "pipeline": PIPELINE,
        "context": context,
        "item_key": key,
        "payload": {},
        "error_class": "E",
        "reason": reason,
        "last_error": "boom",
        "status": "pending",
        "first_failed_at": first_failed_at or at - timedelta(days=1),
        "last_failed_at": at,
        **fields,
    }
