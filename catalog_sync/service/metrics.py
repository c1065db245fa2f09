"""`/metrics`: Prometheus families computed from the state store at scrape time, with aggregate SQL only, and
the read APIs' answer-cache counters (``catalog_sync_read_cache_*{api}``), summed over every worker process of
the service by prometheus_client's multiprocess mode (``read_cache_counters``), with their hit ratio. When the
store cannot answer, only ``catalog_sync_database_up 0``."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col

from catalog_sync.service.errors import one_line
from catalog_sync.service.read_cache_counters import HELP, HELP_SUFFIX, read_cache_totals
from sync_core.db import check_connection, get_engine
from sync_core.engine.audit import circuit_states
from sync_core.engine.failures import failure_counts
from sync_core.errors import ConfigError, PersistenceError
from sync_core.tables import ExternalRequest, SyncRun

# Upper bounds of the request-duration buckets, in ms; exposed in seconds, Prometheus's base unit.
DURATION_BUCKETS_MS = (25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
CIRCUIT_VALUES = {"closed": 0, "half_open": 1, "open": 2}
FAILURE_STATUSES = ("pending", "dead", "resolved")

log = logging.getLogger(__name__)
router = APIRouter(tags=["metrics"])


class StateStoreCollector:
    """Reads every family in one pass when scraped; a database that cannot answer yields only ``up 0``."""

    def __init__(self, database_url: str | None) -> None:
        self._url = database_url

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily("catalog_sync_database_up", "1 when the state store answers, else 0")
        if self._url is None:
            up.add_metric([], 0)
            return [up]
        try:
            check_connection(self._url)
            families = self._families(self._url)
        # ConfigError, ValueError: a malformed URL (make_url raises ValueError for a port that is no number).
        except (ConfigError, PersistenceError, SQLAlchemyError, ValueError) as exc:
            log.warning("/metrics: the state store did not answer: %s", one_line(exc))
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        return [up, *families]

    def _families(self, url: str) -> list[Metric]:
        with get_engine(url).connect() as conn:
            families = [*_run_families(conn), _run_rate_family(conn), *_request_families(conn)]
        failures = GaugeMetricFamily("catalog_sync_failures", "Failure rows by status", labels=["status"])
        counts = failure_counts(url)
        for status in sorted({*FAILURE_STATUSES, *counts}):
            failures.add_metric([status], counts.get(status, 0))
        circuits = GaugeMetricFamily(
            "catalog_sync_circuit_state",
            "Circuit per provider: 0 closed, 1 half-open, 2 open",
            labels=["provider"],
        )
        for provider, state in sorted(circuit_states(url).items()):
            circuits.add_metric([provider], CIRCUIT_VALUES.get(state, 2))
        return [*families, failures, circuits, *_read_cache_families()]


def _run_families(conn: sa.Connection) -> list[Metric]:
    runs = CounterMetricFamily(
        "catalog_sync_runs",
        "Finished sync runs by pipeline, scope and status",
        labels=["pipeline", "scope", "status"],
    )
    running = GaugeMetricFamily(
        "catalog_sync_runs_running", "Runs not finished yet", labels=["pipeline", "scope"]
    )
    by_status = sa.select(
        col(SyncRun.pipeline), col(SyncRun.scope), col(SyncRun.status), sa.func.count()
    ).group_by(col(SyncRun.pipeline), col(SyncRun.scope), col(SyncRun.status))
    for pipeline, scope, status, n in conn.execute(
        by_status.order_by(col(SyncRun.pipeline), col(SyncRun.scope))
    ):
        if status == "running":  # a running row later changes status; a counter must not go down
            running.add_metric([pipeline, scope], n)
        else:
            runs.add_metric([pipeline, scope, status], n)
    items = {
        name: CounterMetricFamily(
            f"catalog_sync_items_{name}", f"Items {name}, summed over runs", labels=["pipeline"]
        )
        for name in ("pushed", "unchanged", "failed")
    }
    totals = sa.select(
        col(SyncRun.pipeline),
        *(sa.func.coalesce(sa.func.sum(col(getattr(SyncRun, name))), 0) for name in items),
    ).group_by(col(SyncRun.pipeline))
    for pipeline, *values in conn.execute(totals.order_by(col(SyncRun.pipeline))):
        for family, value in zip(items.values(), values, strict=True):
            family.add_metric([pipeline], int(value))
    return [runs, running, *items.values()]


def _run_rate_family(conn: sa.Connection) -> Metric:
    """Items fetched per second of each pipeline's last finished run (by ``finished_at``; the later row of two
    finished at once); none for a run that took no time."""
    rate = GaugeMetricFamily(
        "catalog_sync_run_records_per_second",
        "Items fetched per second of the pipeline's last finished run (fetched / (finished_at - started_at))",
        labels=["pipeline"],
    )
    finished = col(SyncRun.finished_at)
    last = (
        sa.select(col(SyncRun.pipeline).label("pipeline"), sa.func.max(finished).label("finished_at"))
        .where(finished.is_not(None), col(SyncRun.status) != "running")
        .group_by(col(SyncRun.pipeline))
        .subquery()
    )
    query = (
        sa.select(col(SyncRun.pipeline), col(SyncRun.fetched), col(SyncRun.started_at), finished)
        .join(last, sa.and_(col(SyncRun.pipeline) == last.c.pipeline, finished == last.c.finished_at))
        .order_by(col(SyncRun.pipeline), col(SyncRun.id))
    )
    latest = {
        pipeline: (fetched, started, ended) for pipeline, fetched, started, ended in conn.execute(query)
    }
    for pipeline, (fetched, started, ended) in sorted(latest.items()):
        seconds = (ended - started).total_seconds()
        if seconds > 0:
            rate.add_metric([pipeline], fetched / seconds)
    return rate


def _read_cache_families() -> list[Metric]:
    """The answer caches of the read APIs (`/products/search`), summed over every worker of this service, and
    their hit ratios computed from the sums."""
    totals = read_cache_totals()
    families = []
    for name, help_text in HELP.items():
        family = CounterMetricFamily(f"catalog_sync_read_cache_{name}", help_text, labels=["api"])
        for api, counts in totals.items():
            family.add_metric([api], counts[name])
        families.append(family)
    ratio = GaugeMetricFamily(
        "catalog_sync_read_cache_hit_ratio",
        f"hits / (hits + misses) of an API's answer cache, {HELP_SUFFIX}; absent before any answer",
        labels=["api"],
    )
    for api, counts in totals.items():
        if counts["hits"] + counts["misses"]:
            ratio.add_metric([api], counts["hits"] / (counts["hits"] + counts["misses"]))
    return [*families, ratio]


def _request_families(conn: sa.Connection) -> list[Metric]:
    duration = col(ExternalRequest.duration_ms)
    histogram = HistogramMetricFamily(
        "catalog_sync_external_request_duration_seconds",
        "Duration of outbound HTTP attempts per provider",
        labels=["provider"],
    )
    query = sa.select(
        col(ExternalRequest.provider),
        *(sa.func.sum(sa.case((duration <= bound, 1), else_=0)) for bound in DURATION_BUCKETS_MS),
        sa.func.count(),
        sa.func.coalesce(sa.func.sum(duration), 0),
    ).group_by(col(ExternalRequest.provider))
    for provider, *le_counts, count, total_ms in conn.execute(query.order_by(col(ExternalRequest.provider))):
        histogram.add_metric([provider], _buckets(le_counts, count), int(total_ms) / 1000)
    requests = CounterMetricFamily(
        "catalog_sync_external_requests",
        "Outbound HTTP attempts by provider and outcome",
        labels=["provider", "outcome"],
    )
    by_outcome = sa.select(
        col(ExternalRequest.provider), col(ExternalRequest.outcome), sa.func.count()
    ).group_by(col(ExternalRequest.provider), col(ExternalRequest.outcome))
    for provider, outcome, n in conn.execute(
        by_outcome.order_by(col(ExternalRequest.provider), col(ExternalRequest.outcome))
    ):
        requests.add_metric([provider, outcome], n)
    return [histogram, requests]


def _buckets(le_counts: Sequence[int], count: int) -> list[tuple[str, float]]:
    bounds = [str(ms / 1000) for ms in DURATION_BUCKETS_MS]  # 0.025 ... 10.0, as Prometheus writes them
    return [*zip(bounds, (float(n) for n in le_counts), strict=True), ("+Inf", float(count))]


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
def metrics(request: Request) -> Response:
    """Prometheus text format; 200 even when the database or the settings are broken (`database_up` 0)."""
    try:
        url: str | None = request.app.state.settings_loader().database_url
    except ConfigError as exc:
        log.error("/metrics: invalid settings: %s", exc)
        url = None
    registry = CollectorRegistry()
    registry.register(StateStoreCollector(url))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
