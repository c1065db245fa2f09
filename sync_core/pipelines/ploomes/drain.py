"""Turning the webhook inbox into runs: `catalog-sync serve` runs ``drain_forever`` in one thread of one
process (the pipeline's ``serve_loop``).

When deliveries are pending, the drain waits ``COALESCE_S`` from the oldest one's arrival for the rest of its
burst, claims them all, and runs sync-ploomes once for them: real-time for up to 10 products, else auto (an
incremental read covers their changes); deleted products become inactive. A run that succeeds settles the
deliveries; one that fails, is skipped (another run holds the lease) or cannot start (Prefect down) releases
them with the reason, and the drain tries again after a growing pause. None is lost.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sync_core.engine.runs import aware
from sync_core.pipelines.ploomes import inbox
from sync_core.pipelines.ploomes.job import MAX_REAL_TIME_IDS
from sync_core.settings import Settings, load_settings
from sync_core.tables import utcnow

log = logging.getLogger(__name__)
COALESCE_S = 0.25  # a burst's first delivery waits this long for the rest of it
POLL_S = 0.1
BACKOFF_S = (2.0, 5.0, 15.0, 30.0, 60.0)
APPLIED_KEPT = timedelta(days=7)  # applied deliveries are pruned after this


@dataclass(frozen=True)
class Outcome:
    applied: bool
    run_id: int | None = None
    reason: str = ""


Runner = Callable[[dict[str, Any]], Outcome]


def run_flow(params: dict[str, Any]) -> Outcome:
    """Run sync-ploomes in this process with ``params``; whether it applied them, and its run id."""
    from flows.sync_ploomes import sync_ploomes

    state = sync_ploomes(**params, return_state=True)
    if not state.is_completed():
        return Outcome(
            False, reason=f"the run ended {state.type.value.lower()}: {state.message or ''}".strip()
        )
    summary = state.result(raise_on_failure=False)
    if not isinstance(summary, dict) or summary.get("status") not in ("success", "partial"):
        status = summary.get("status") if isinstance(summary, dict) else summary
        return Outcome(False, reason=f"the run ended {status}")
    return Outcome(True, run_id=summary.get("run_id"))


def run_params(claim: inbox.Claim) -> dict[str, Any]:
    """The sync-ploomes parameters that apply a claim."""
    updated, deleted = list(claim.updated), list(claim.deleted)
    if len(updated) <= MAX_REAL_TIME_IDS:
        return {"strategy": "real-time", "ids": updated, "deleted": deleted}
    return {"strategy": "auto", "ids": updated, "deleted": deleted}


def drain_once(url: str, runner: Runner = run_flow, *, coalesce_s: float = COALESCE_S) -> Outcome | None:
    """Claim what is pending (after its burst's coalescing pause) and run it; None when nothing is."""
    oldest = inbox.oldest_pending(url)
    if oldest is None:
        return None
    arrived = aware(oldest)
    assert arrived is not None
    waited = (utcnow() - arrived).total_seconds()
    if waited < coalesce_s:
        time.sleep(coalesce_s - waited)
    claim = inbox.claim(url)
    if claim is None:
        return None
    try:
        outcome = runner(run_params(claim))
    except Exception as exc:  # Prefect unreachable, the database gone: the deliveries wait
        outcome = Outcome(False, reason=f"{type(exc).__name__}: {exc}".splitlines()[0][:300])
    if outcome.applied:
        inbox.settle(url, claim.ids, run_id=outcome.run_id)
        log.info("applied %s webhook deliveries (run %s)", len(claim.ids), outcome.run_id)
    else:
        inbox.release(url, claim.ids, reason=outcome.reason)
        log.warning("%s webhook deliveries wait in the inbox: %s", len(claim.ids), outcome.reason)
    return outcome


def drain_forever(
    stop: threading.Event, *, settings: Settings | None = None, runner: Runner = run_flow
) -> None:
    """Drain until ``stop`` is set, pausing longer after each failure (up to a minute). The settings are read
    once (as `serve` reads its own): a changed DATABASE_URL takes a restart."""
    failures = 0
    pruned_at = 0.0
    while not stop.is_set():
        try:
            settings = settings or load_settings()
            url = settings.database_url
            outcome = drain_once(url, runner)
            if time.monotonic() - pruned_at > 3600:
                inbox.prune(url, older_than=APPLIED_KEPT)
                pruned_at = time.monotonic()
        except Exception as exc:  # the database down: try again later
            log.warning("webhook inbox: %s", f"{type(exc).__name__}: {exc}".splitlines()[0][:300])
            outcome = Outcome(False)
        if outcome is not None and not outcome.applied:
            failures += 1
            stop.wait(BACKOFF_S[min(failures, len(BACKOFF_S)) - 1])
            continue
        if outcome is not None:
            failures = 0
        stop.wait(POLL_S)
