"""Prefect events of catalog-sync, for automations and the event feed: all emitted from here.

- ``catalog-sync.circuit-opened`` / ``-half-open`` / ``-closed`` and ``catalog-sync.rate-limited``:
  the HTTP layer's events, forwarded (resource ``catalog-sync.provider.<provider>``);
- ``catalog-sync.items-quarantined``: a batch of pages left items in ``failures``
  (resource ``catalog-sync.pipeline.<pipeline>``, related ``catalog-sync.run.<run_id>``);
- ``catalog-sync.drift-found``: a drift check found the target differing from the ledger or the source,
  with counts and examples (resource ``catalog-sync.pipeline.<pipeline>``, related the run);
- ``catalog-sync.run-summary``: a run ended, with its status, duration, counters and failure reasons
  (resource ``catalog-sync.run.<run_id>``, related ``catalog-sync.pipeline.<pipeline>``).

Events are best-effort: a failure to emit is logged and never fails or masks a run.
"""

from __future__ import annotations

import logging
from typing import Any

from prefect.events import emit_event

from sync_core.engine.drift import DriftReport
from sync_core.engine.job import SyncCounts
from sync_core.engine.runs import COUNTERS

log = logging.getLogger(__name__)
DRIFT_FOUND_EVENT = "catalog-sync.drift-found"


def _scalars(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if isinstance(v, str | int | float | bool | type(None))}


def _emit(
    event: str, resource: dict[str, str], payload: dict[str, Any], related: list[dict[str, str]]
) -> None:
    try:
        emit_event(event=event, resource=resource, payload=payload, related=related or None)
    except Exception:
        log.exception("could not emit the Prefect event %s", event)


def _pipeline(pipeline: str, role: str | None = None) -> dict[str, str]:
    resource = {"prefect.resource.id": f"catalog-sync.pipeline.{pipeline}", "prefect.resource.name": pipeline}
    return {**resource, "prefect.resource.role": role} if role else resource


def _run(run_id: int, role: str | None = None) -> dict[str, str]:
    resource = {"prefect.resource.id": f"catalog-sync.run.{run_id}", "prefect.resource.name": f"run {run_id}"}
    return {**resource, "prefect.resource.role": role} if role else resource


def forward_to_prefect(kind: str, data: dict[str, Any]) -> None:
    """Circuit transitions and rate limiting (the HTTP layer's event sink) become Prefect events."""
    provider = str(data.get("provider", "unknown"))
    _emit(
        f"catalog-sync.{kind.replace('_', '-')}",
        {"prefect.resource.id": f"catalog-sync.provider.{provider}"},
        _scalars(data),
        [],
    )


def quarantined_reasons(result: SyncCounts) -> dict[str, int]:
    """The reasons of a result's failed items (mapping and refused writes); skipped items and writes the
    guardrail kept back are not failures."""
    return {
        reason: n
        for reason, n in sorted(result.reasons.items())
        if n and not reason.startswith(("skipped:", "guard:"))
    }


def emit_items_quarantined(pipeline: str, run_id: int, count: int, reasons: dict[str, int]) -> None:
    """``catalog-sync.items-quarantined`` when a batch put ``count`` items in ``failures``; nothing if 0."""
    if not count:
        return
    _emit(
        "catalog-sync.items-quarantined",
        _pipeline(pipeline),
        {"count": count, "reasons": reasons, "run_id": run_id},
        [_run(run_id, "run")],
    )


def emit_run_summary(summary: dict[str, Any]) -> None:
    """``catalog-sync.run-summary`` with the run's status, duration, counters and failure reasons."""
    names = ("run_id", "pipeline", "scope", "status", "dry_run", "duration_s", "error", *COUNTERS)
    payload: dict[str, Any] = {name: summary.get(name) for name in names}
    payload["reasons"] = dict(summary.get("reasons") or {})
    # What only some flows report: created products (sync), replay outcomes (retry), variants read (catalogue).
    payload.update({k: summary[k] for k in ("created", "replay", "catalogue_variants") if k in summary})
    _emit(
        "catalog-sync.run-summary",
        _run(summary["run_id"]),
        payload,
        [_pipeline(summary["pipeline"], "pipeline")],
    )


def emit_drift_found(run_id: int, report: DriftReport, repaired: dict[str, int] | None) -> None:
    """``catalog-sync.drift-found`` with the counts and examples; nothing when no value drifted."""
    if not report.drifted:
        return
    payload: dict[str, Any] = {
        "run_id": run_id,
        "counts": report.counts(),
        "compared": report.comparison.values,
        "sample": report.comparison.items if report.sampled_of is not None else None,
        "examples": report.examples(),
        "repaired": repaired,
    }
    _emit(DRIFT_FOUND_EVENT, _pipeline(report.pipeline), payload, [_run(run_id, "run")])
