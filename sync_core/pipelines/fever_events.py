"""An events feed into the events table: parse as a stream, store in batches, quarantine bad plans.

Bad plans are quarantined in ``failures`` (context ``parse``) with the mapping's reason, or with
``refused-by-database`` and the database's reason for a plan the store would not hold.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import IO

from sync_core.db import session_scope
from sync_core.engine.failures import NewFailure, has_open_failures, record_failures, resolve
from sync_core.events_store import Refused, StoreCounts, store_events
from sync_core.mapping.fever_events import PLAUSIBLE_PRICE_MAX, FeedEvent, RejectedPlan, parse_feed
from sync_core.tables import utcnow

EVENTS_PIPELINE = "fever-events"
PARSE_CONTEXT = "parse"
BATCH_SIZE = 500
# A batch is also stored once its events hold this many zones: 500 plans of up to 5,000 zones each
# (fever_events.MAX_ZONES_PER_PLAN) would otherwise be over a gigabyte in memory.
BATCH_ZONES = 20_000
REFUSED_REASON = "refused-by-database"


@dataclass
class FeedResult:
    plans: int = 0  # every plan of the document
    offline: int = 0  # plans of base plans not sold online: ignored
    events: int = 0  # valid plans of online base plans (that the database accepted)
    stored: StoreCounts = field(default_factory=StoreCounts)
    reasons: Counter[str] = field(default_factory=Counter)  # quarantined plans by reason

    @property
    def quarantined(self) -> int:
        return sum(self.reasons.values())


def store_feed(
    url: str,
    stream: IO[bytes],
    *,
    retry_base_s: int,
    now: datetime | None = None,
    batch_size: int = BATCH_SIZE,
    batch_zones: int = BATCH_ZONES,
    max_price: Decimal = PLAUSIBLE_PRICE_MAX,
) -> FeedResult:
    """Store every valid event of the document (only changed ones are written) and quarantine the rest.

    Each batch commits on its own, so a document that breaks half-way keeps what was read before the
    break (its events are real) and the caller's run fails with the parse error. Each batch stamps what it
    writes with its own clock reading (``now`` in tests), so every batch that changes an event moves the
    table's latest ``last_changed_at``: the data version `/search` watches. A zone price above
    ``max_price`` (Settings.plausible_price_max) quarantines its plan as implausible.
    """
    result, stats = FeedResult(), Counter[str]()
    resolve_fixed = has_open_failures(url, pipeline=EVENTS_PIPELINE)
    batch: list[FeedEvent | RejectedPlan] = []
    zones = 0
    try:
        for item in parse_feed(stream, stats, max_price=max_price):
            batch.append(item)
            zones += len(item.zones) if isinstance(item, FeedEvent) else 0
            if len(batch) >= batch_size or zones >= batch_zones:
                _store_batch(url, batch, result, now or utcnow(), retry_base_s, resolve_fixed)
                batch, zones = [], 0
        _store_batch(url, batch, result, now or utcnow(), retry_base_s, resolve_fixed)
    finally:
        result.plans, result.offline = stats["plans"], stats["offline"]
    return result


def _store_batch(
    url: str,
    batch: list[FeedEvent | RejectedPlan],
    result: FeedResult,
    seen_at: datetime,
    retry_base_s: int,
    resolve_fixed: bool,
) -> None:
    events = [item for item in batch if isinstance(item, FeedEvent)]
    rejected = [item for item in batch if isinstance(item, RejectedPlan)]
    with session_scope(url) as session:
        counts, refused = store_events(session, events, now=seen_at)
        result.stored.add(counts)
        failures = [_rejected_failure(r) for r in rejected] + [_refused_failure(r) for r in refused]
        record_failures(session, pipeline=EVENTS_PIPELINE, failures=failures, retry_base_s=retry_base_s)
        refused_keys = {r.event.item_key for r in refused}
        keys = [e.item_key for e in events if e.item_key not in refused_keys]
        if resolve_fixed and keys:  # a plan quarantined before and valid now
            resolve(session, pipeline=EVENTS_PIPELINE, context=PARSE_CONTEXT, item_keys=keys)
    result.events += len(events) - len(refused)
    result.reasons.update(r.reason for r in rejected)
    result.reasons.update(REFUSED_REASON for _ in refused)


def _rejected_failure(plan: RejectedPlan) -> NewFailure:
    return NewFailure(
        PARSE_CONTEXT, plan.item_key, "InvalidRecord", plan.reason, plan.message, plan.attributes
    )


def _refused_failure(refused: Refused) -> NewFailure:
    event = refused.event
    message = (
        f"plan {event.plan_id} of base plan {event.base_plan_id}: the database refused it: {refused.reason}"
    )
    payload = {
        "base_plan_id": event.base_plan_id,
        "plan_id": event.plan_id,
        "title": event.title,
        "organizer_company_id": event.organizer_company_id,
        "min_price": str(event.min_price),
        "max_price": str(event.max_price),
    }
    return NewFailure(PARSE_CONTEXT, event.item_key, refused.error_class, REFUSED_REASON, message, payload)
