"""`/health`, `/runs` and `/failures`: the state store's operational view as JSON."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model
from sqlalchemy.exc import SQLAlchemyError

from catalog_sync.service.deps import SettingsDep
from catalog_sync.service.errors import (
    PARAMETER_ERROR,
    STORE_ERROR,
    STORE_UNAVAILABLE,
    ErrorResponse,
    error_responses,
    one_line,
)
from sync_core.engine.failures import failure_counts, list_failures
from sync_core.engine.run_view import run_view
from sync_core.engine.runs import COUNTERS, aware, recent_runs
from sync_core.errors import PersistenceError
from sync_core.health import health_report
from sync_core.tables import utcnow

FailureStatus = Literal["pending", "dead", "resolved"]
FAILURE_STATUSES: tuple[str, ...] = get_args(FailureStatus)

log = logging.getLogger(__name__)
router = APIRouter(tags=["operations"])

# SQLite hands back naive datetimes; every stored time is UTC.
UtcDatetime = Annotated[datetime, AfterValidator(aware)]


def _run_model(name: str, doc: str, *, id_field: str, **extra: Any) -> type[BaseModel]:
    """A run as sync_core.engine.run_view shows it: ``id_field`` (its id), names, times, ``extra``, every
    counter of ``COUNTERS``, its Prefect flow run and error."""
    fields: dict[str, Any] = {
        id_field: (int, Field(validation_alias="run_id")),
        "pipeline": (str, ...),
        "scope": (str, ...),
        "status": (str, ...),
        "dry_run": (bool, ...),
        "started_at": (UtcDatetime, ...),
        "finished_at": (UtcDatetime | None, ...),
        **extra,
        **{counter: (int, ...) for counter in COUNTERS},
        "flow_run_id": (str | None, ...),
        "error": (str | None, ...),
    }
    return create_model(name, __doc__=doc, **fields)


RunOut = _run_model("RunOut", "One sync_runs row with its counters.", id_field="id")


class RunsOut(BaseModel):
    runs: list[RunOut]  # type: ignore[valid-type]


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


LastRun = _run_model(
    "LastRun",
    "The newest run of a pipeline and scope, with its age in seconds.",
    id_field="run_id",
    duration_s=(float | None, ...),
    age_s=(int | None, ...),
)


class HealthReport(BaseModel):
    """The report of `catalog-sync health --json`; without the store, only its first four fields."""

    model_config = ConfigDict(extra="allow")  # for the docs only: the report is sent as sync_core builds it

    healthy: bool
    checked_at: str
    database: Literal["ok", "unreachable", "error"]
    problems: list[str]
    last_runs: list[LastRun] | None = None  # type: ignore[valid-type]
    circuits: dict[str, str] | None = None
    failures: dict[str, int] | None = None


HEALTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": HealthReport,
        "description": "Healthy: the database answers, no circuit is open, no pipeline's last run failed",
    },
    503: {
        "model": HealthReport | ErrorResponse,
        "description": "Unhealthy: the same report, `problems` says why; or, with invalid settings, "
        "the error envelope (code `unavailable`)",
    },
}


@router.get("/health", responses=HEALTH_RESPONSES)
def health(settings: SettingsDep) -> JSONResponse:
    """Database, last run per pipeline and its age, circuit states, failure counts and problems."""
    try:
        report = health_report(settings)
    except (PersistenceError, SQLAlchemyError) as exc:  # the database answered the probe, then failed a query
        log.warning("/health: the state store failed a query: %s", one_line(exc))
        report = {"healthy": False, "checked_at": utcnow().isoformat(), "database": "error", "problems": []}
    if report["database"] != "ok":
        # The probe's problem names the database (user, host, port, name) and quotes the driver: log only.
        for problem in report["problems"]:
            log.warning("/health: %s", problem)
        report["problems"] = [STORE_UNAVAILABLE]
    return JSONResponse(report, status_code=200 if report["healthy"] else 503)


@router.get("/runs", response_model=RunsOut, responses=error_responses(PARAMETER_ERROR, STORE_ERROR))
def runs(
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=500, description="newest runs to return")] = 20,
    pipeline: Annotated[
        str | None, Query(min_length=1, max_length=64, description="only this pipeline")
    ] = None,
) -> RunsOut:
    """Recent sync runs, newest first."""
    rows = recent_runs(settings.database_url, limit=limit, pipeline=pipeline)
    return RunsOut(runs=[RunOut.model_validate(run_view(row)) for row in rows])


@router.get("/failures", response_model=FailuresOut, responses=error_responses(PARAMETER_ERROR, STORE_ERROR))
def failures(
    settings: SettingsDep,
    status: Annotated[FailureStatus | None, Query(description="only this status; all when omitted")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="most recently failed rows to return")] = 100,
) -> FailuresOut:
    """Failure rows, most recently failed first, and the count per status."""
    counts = failure_counts(settings.database_url)
    rows = list_failures(settings.database_url, status=status, limit=limit)
    return FailuresOut(
        counts={name: counts.get(name, 0) for name in FAILURE_STATUSES},
        failures=[FailureOut.model_validate(row) for row in rows],
    )
