"""`/health`, `/runs` and `/failures`: the state store's operational view as JSON."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict

from catalog_sync.service.deps import SettingsDep
from sync_core.errors import PersistenceError
from sync_core.failures import failure_counts, list_failures
from sync_core.health import health_report
from sync_core.runs import aware, recent_runs
from sync_core.tables import utcnow

FAILURE_STATUSES = ("pending", "dead", "resolved")

router = APIRouter(tags=["operations"])

# SQLite hands back naive datetimes; every stored time is UTC.
UtcDatetime = Annotated[datetime, AfterValidator(aware)]


class RunOut(BaseModel):
    """One sync_runs row with its counters."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    pipeline: str
    scope: str
    status: str
    dry_run: bool
    started_at: UtcDatetime
    finished_at: UtcDatetime | None
    fetched: int
    mapped: int
    pushed: int
    unchanged: int
    skipped: int
    failed: int
    requests: int
    flow_run_id: str | None
    error: str | None


class RunsOut(BaseModel):
    runs: list[RunOut]


class FailureOut(BaseModel):
    """One failures row, without its payload (the item as it was to be written)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    pipeline: str
    context: str
    item_key: str
    status: str
    reason: str
    error_class: str
    last_error: str
    attempts: int
    first_failed_at: UtcDatetime
    last_failed_at: UtcDatetime
    next_retry_at: UtcDatetime | None
    resolved_at: UtcDatetime | None


class FailuresOut(BaseModel):
    counts: dict[str, int]
    failures: list[FailureOut]


HEALTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Healthy: the database answers, no circuit is open, no pipeline's last run failed"},
    503: {"description": "Unhealthy (same report; `problems` says why) or settings invalid"},
}


@router.get("/health", responses=HEALTH_RESPONSES)
def health(settings: SettingsDep) -> JSONResponse:
    """Database, last run per pipeline and its age, circuit states, failure counts and problems."""
    try:
        report = health_report(settings)
    except PersistenceError as exc:  # the database answered the probe, then failed a query
        report = {
            "healthy": False,
            "checked_at": utcnow().isoformat(),
            "database": "error",
            "problems": [str(exc)],
        }
    return JSONResponse(report, status_code=200 if report["healthy"] else 503)


@router.get("/runs", response_model=RunsOut)
def runs(
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=500, description="newest runs to return")] = 20,
    pipeline: Annotated[
        str | None, Query(min_length=1, max_length=64, description="only this pipeline")
    ] = None,
) -> RunsOut:
    """Recent sync runs, newest first."""
    rows = recent_runs(settings.database_url, limit=limit, pipeline=pipeline)
    return RunsOut(runs=[RunOut.model_validate(row) for row in rows])


@router.get("/failures", response_model=FailuresOut, responses={400: {"description": "Unknown status"}})
def failures(
    settings: SettingsDep,
    status: Annotated[str | None, Query(description="pending, dead or resolved; all when omitted")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="most recently failed rows to return")] = 100,
) -> FailuresOut:
    """Failure rows, most recently failed first, and the count per status."""
    if status is not None and status not in FAILURE_STATUSES:
        raise HTTPException(400, f"status must be one of {', '.join(FAILURE_STATUSES)}, not {status!r}")
    counts = failure_counts(settings.database_url)
    rows = list_failures(settings.database_url, status=status, limit=limit)
    return FailuresOut(
        counts={name: counts.get(name, 0) for name in FAILURE_STATUSES},
        failures=[FailureOut.model_validate(row) for row in rows],
    )
