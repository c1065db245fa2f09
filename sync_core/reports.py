"""A run's report: failures by reason, slowest endpoints, request percentiles and outcomes, as markdown.

Failures are attributed to a run by time: ``failures`` has no run id, so a run owns the failures of its
pipeline whose *last* failure falls between the run's start and finish. That covers sync and replay runs
alike; two runs of one pipeline that overlap in time each see the other's failures, and a later run that
fails an item again takes it over (the report is meant to be built when its run ends).
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlmodel import col, select

from sync_core.db import session_scope
from sync_core.engine.connections import default_connection
from sync_core.engine.registry import pipelines
from sync_core.engine.run_view import run_view
from sync_core.engine.runs import aware
from sync_core.errors import ConfigError
from sync_core.settings import Settings
from sync_core.tables import ExternalRequest, Failure, SyncRun, utcnow

TOP_ENDPOINTS = 10
_ID_SEGMENT = re.compile(
    r"\d+|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9a-fA-F]{24}|[0-9a-fA-F]{32}"
)


@dataclass(frozen=True, slots=True)
class RequestRow:
    """The columns of an ``external_requests`` row that a report needs."""

    provider: str
    method: str
    url: str
    duration_ms: int
    outcome: str


def percentile(values: Iterable[int], p: int) -> int | None:
    """Nearest-rank percentile (the smallest value with at least p% of values at or below it); None if empty.

    The same definition as the operator SQL's ``ROW_NUMBER() * 100 >= p * COUNT(*)``, so both agree.
    """
    ordered = sorted(values)
    if not ordered:
        return None
    if not 0 < p <= 100:
        raise ValueError(f"percentile must be in (0, 100], not {p}")
    return ordered[max(1, math.ceil(len(ordered) * p / 100)) - 1]


def normalise_path(url: str, base: str | None = None) -> str:
    """The endpoint of a request URL: no scheme, host, query string or ``base`` path; ids become ``{id}``.

    Numeric segments, UUIDs (with or without dashes) and 24-hex object ids count as ids.
    """
    path = urlsplit(url).path
    if base:
        base_path = urlsplit(base).path.rstrip("/")
        if base_path and (path == base_path or path.startswith(base_path + "/")):
            path = path[len(base_path) :]
    segments = ["{id}" if _ID_SEGMENT.fullmatch(s) else s for s in path.strip("/").split("/") if s]
    return "/" + "/".join(segments)


def slowest_endpoints(
    rows: Sequence[RequestRow], bases: Mapping[str, str] | None = None, *, top: int = TOP_ENDPOINTS
) -> list[dict[str, Any]]:
    """Requests grouped by provider, method and normalised path; the ``top`` slowest by p95, then max."""
    groups: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for row in rows:
        path = normalise_path(row.url, (bases or {}).get(row.provider))
        groups[(row.provider, row.method, path)].append(row.duration_ms)
    ranked = sorted(
        (-(percentile(durations, 95) or 0), -max(durations), key) for key, durations in groups.items()
    )
    endpoints = []
    for _, _, (provider, method, path) in ranked[:top]:
        durations = groups[(provider, method, path)]
        endpoints.append(
            {
                "provider": provider,
                "method": method,
                "path": path,
                "count": len(durations),
                "p50_ms": percentile(durations, 50),
                "p95_ms": percentile(durations, 95),
                "max_ms": max(durations),
            }
        )
    return endpoints


def outcome_counts(rows: Sequence[RequestRow]) -> list[dict[str, Any]]:
    """Attempts per provider and outcome (success, retry, fail, timeout, circuit_open)."""
    counts = Counter((row.provider, row.outcome) for row in rows)
    return [
        {"provider": provider, "outcome": outcome, "count": n}
        for (provider, outcome), n in sorted(counts.items())
    ]


def request_figures(rows: Sequence[RequestRow], bases: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The request part of a report, from the run's audit rows (pure)."""
    durations = [row.duration_ms for row in rows]
    return {
        "requests": len(rows),
        "p50_ms": percentile(durations, 50),
        "p95_ms": percentile(durations, 95),
        "max_ms": max(durations, default=None),
        "errors": sum(row.outcome != "success" for row in rows),
        "retries": sum(row.outcome == "retry" for row in rows),
        "outcomes": outcome_counts(rows),
        "endpoints": slowest_endpoints(rows, bases),
    }


def connection_bases(settings: Settings) -> dict[str, str]:
    """Connection name → base URL of every registered pipeline's configured default connections and of the
    CONNECTIONS entries: what :func:`run_report` cuts from endpoint paths."""
    bases = {}
    for spec in pipelines().values():
        for connector in spec.connectors.values():
            try:
                default = default_connection(settings, connector)
            except ConfigError:  # not configured: no requests of it to shorten
                continue
            bases[default.name] = default.base_url
    return bases | {entry.name: entry.base_url for entry in settings.connections}


def run_report(url: str, *, run_id: int, bases: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Report on one run; ``bases`` (connection → base URL) is cut from endpoint paths. Raises LookupError."""
    with session_scope(url) as session:
        run = session.get(SyncRun, run_id)
        if run is None:
            raise LookupError(f"no sync run {run_id}")
        header = run_view(run)
        started, finished = aware(run.started_at), aware(run.finished_at)
        window_end = finished or utcnow()
        failures = session.execute(
            select(Failure.context, Failure.reason, Failure.status, sa.func.count())
            .where(
                col(Failure.pipeline) == run.pipeline,
                col(Failure.last_failed_at) >= started,
                col(Failure.last_failed_at) <= window_end,
            )
            .group_by(col(Failure.context), col(Failure.reason), col(Failure.status))
        ).all()
        requests = session.execute(
            sa.select(
                col(ExternalRequest.provider),
                col(ExternalRequest.method),
                col(ExternalRequest.url),
                col(ExternalRequest.duration_ms),
                col(ExternalRequest.outcome),
            ).where(col(ExternalRequest.run_id) == run_id)
        ).all()
    by_reason = sorted(
        ({"context": c, "reason": r, "status": s, "count": int(n)} for c, r, s, n in failures),
        key=lambda f: (-f["count"], f["context"], f["reason"], f["status"]),
    )
    return {
        **header,  # its ``requests`` counter gives way to the count of the run's audit rows below
        "failures": by_reason,
        "failures_total": sum(f["count"] for f in by_reason),
        **request_figures([RequestRow(*row) for row in requests], bases),
    }


def _cell(value: Any) -> str:
    return "–" if value is None else str(value).replace("|", "\\|")


def _unit(value: Any, unit: str) -> str:
    return "–" if value is None else f"{value} {unit}"


def _table(rows: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str]], empty: str) -> list[str]:
    """A markdown table of ``rows`` with (heading, key) ``columns``, or the ``empty`` sentence."""
    if not rows:
        return [empty]
    lines = ["| " + " | ".join(h for h, _ in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row[k]) for _, k in columns) + " |" for row in rows]
    return lines


def render_run_report(report: Mapping[str, Any]) -> str:
    """The report as markdown: a heading, the run's figures, then one table per section."""
    title = f"# Run {report['run_id']}: {report['pipeline']} {report['scope']} — {report['status']}"
    endpoints = [{**e, "path": f"`{e['path']}`"} for e in report["endpoints"]]
    lines = [
        title + (" (dry run)" if report.get("dry_run") else ""),
        "",
        f"- duration: {_unit(report.get('duration_s'), 's')}",
        f"- requests: {report['requests']} ({report['errors']} not successful, {report['retries']} retried)",
        f"- p50 request duration: {_unit(report['p50_ms'], 'ms')}",
        f"- p95 request duration: {_unit(report['p95_ms'], 'ms')}",
        f"- slowest request: {_unit(report['max_ms'], 'ms')}",
        f"- failures: {report['failures_total']}",
        "",
        "## Slowest endpoints",
        "",
        *_table(
            endpoints,
            [("provider", "provider"), ("method", "method"), ("path", "path"), ("count", "count")]
            + [("p50 ms", "p50_ms"), ("p95 ms", "p95_ms"), ("max ms", "max_ms")],
            "No requests.",
        ),
        "",
        "## Requests by outcome",
        "",
        *_table(
            report["outcomes"],
            [("provider", "provider"), ("outcome", "outcome"), ("count", "count")],
            "No requests.",
        ),
        "",
        "## Failures by reason",
        "",
        *_table(
            report["failures"],
            [("context", "context"), ("reason", "reason"), ("status", "status"), ("count", "count")],
            "No failures.",
        ),
    ]
    return "\n".join(lines) + "\n"
