"""An events feed into the events table: parse as a stream, store in batches, quarantine bad plans."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO

from sync_core.db import session_scope
from sync_core.events_store import StoreCounts, store_events
from sync_core.failures import NewFailure, has_open_failures, record_failures, resolve
from sync_core.mapping.fever_events import FeedEvent, RejectedPlan, parse_feed
from sync_core.tables import utcnow

EVENTS_PIPELINE = "fever-events"
PARSE_CONTEXT = "parse"
BATCH_SIZE = 500


@dataclass
class FeedResult:
    plans: int = 0  # every plan of the document
    offline: int = 0  # plans of base plans not sold online: ignored
    events: int = 0  # valid plans of online base plans
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
) -> FeedResult:
    """Store every valid event of the document (only changed ones are written) and quarantine the rest.

    Each batch commits on its own, so a document that breaks half-way keeps what was read before the
    break (its events are real) and the caller's run fails with the parse error. Each batch stamps what it
    writes with its own clock reading (``now`` in tests), so every batch that changes an event moves the
    table's latest ``last_changed_at``: the data version `/search` watches.
    """
    result, stats = FeedResult(), Counter[str]()
    resolve_fixed = has_open_failures(url, pipeline=EVENTS_PIPELINE)
    batch: list[FeedEvent | RejectedPlan] = []
    try:
        for item in parse_feed(stream, stats):
            batch.append(item)
            if len(batch) >= batch_size:
                _store_batch(url, batch, result, now or utcnow(), retry_base_s, resolve_fixed)
                batch = []
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
        result.stored.add(store_events(session, events, now=seen_at))
        record_failures(
            session,
            pipeline=EVENTS_PIPELINE,
            failures=[
                NewFailure(PARSE_CONTEXT, r.item_key, "InvalidRecord", r.reason, r.message, r.attributes)
                for r in rejected
            ],
            retry_base_s=retry_base_s,
        )
        if resolve_fixed and events:  # a plan quarantined before and valid now
            keys = [f"{e.base_plan_id}/{e.plan_id}" for e in events]
            resolve(session, pipeline=EVENTS_PIPELINE, context=PARSE_CONTEXT, item_keys=keys)
    result.events += len(events)
    result.reasons.update(r.reason for r in rejected)
