"""The events table: batch upserts that write only what changed; events that leave the feed stay."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from sync_core.mapping.fever_events import FeedEvent
from sync_core.tables import Event
from sync_core.upsert import upsert

# Ids are uuid5 of the identity in this namespace: the same event keeps its id across syncs and databases.
EVENT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://catalog-sync/events/fever")
CONTENT = (
    "title",
    "organizer_company_id",
    "starts_at",
    "ends_at",
    "sell_from",
    "sell_to",
    "sold_out",
    "min_price",
    "max_price",
    "zones",
    "fingerprint",
)


def event_id(base_plan_id: str, plan_id: str) -> uuid.UUID:
    return uuid.uuid5(EVENT_NAMESPACE, f"{base_plan_id}/{plan_id}")


@dataclass
class StoreCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, other: StoreCounts) -> None:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged


def store_events(session: Session, events: Sequence[FeedEvent], *, now: datetime) -> StoreCounts:
    """Insert new events, rewrite changed ones, and only mark unchanged ones as seen, in the caller's
    transaction. A key repeated within ``events`` keeps its last occurrence (the feed's latest word)."""
    latest = {event_id(*e.key): e for e in events}
    if not latest:
        return StoreCounts()
    query = sa.select(col(Event.id), col(Event.fingerprint)).where(col(Event.id).in_(list(latest)))
    stored: dict[uuid.UUID, str] = {row[0]: row[1] for row in session.execute(query)}
    rows: list[dict[str, Any]] = []
    unchanged: list[uuid.UUID] = []
    counts = StoreCounts()
    for id_, event in latest.items():
        fingerprint = event.fingerprint
        if stored.get(id_) == fingerprint:
            unchanged.append(id_)
            continue
        counts.inserted += id_ not in stored
        counts.updated += id_ in stored
        rows.append(_row(id_, event, fingerprint, now))
    upsert(session, Event, rows, keys=("id",), update=[*CONTENT, "last_seen_at", "last_changed_at"])
    if unchanged:
        session.execute(sa.update(Event).where(col(Event.id).in_(unchanged)).values(last_seen_at=now))
    counts.unchanged = len(unchanged)
    return counts


def _row(id_: uuid.UUID, event: FeedEvent, fingerprint: str, now: datetime) -> dict[str, Any]:
    return {
        "id": id_,
        "base_plan_id": event.base_plan_id,
        "plan_id": event.plan_id,
        "title": event.title,
        "organizer_company_id": event.organizer_company_id,
        "starts_at": event.starts_at,
        "ends_at": event.ends_at,
        "sell_from": event.sell_from,
        "sell_to": event.sell_to,
        "sold_out": event.sold_out,
        "min_price": event.min_price,
        "max_price": event.max_price,
        "zones": list(event.zones),
        "fingerprint": fingerprint,
        "first_seen_at": now,
        "last_seen_at": now,
        "last_changed_at": now,
    }
