"""The events table: batch upserts that write only what changed; events that leave the feed stay.

An event the database refuses (a value it cannot hold that the mapping let through) costs only itself: the
batch is written again in halves, each in a SAVEPOINT, until the refused rows are alone.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import DataError, IntegrityError
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


# What a database raises for a row it will not hold (too long, out of range, a constraint).
REFUSALS = (DataError, IntegrityError)


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


@dataclass(frozen=True)
class Refused:
    """An event the database would not store: its error class and the database's one-line reason."""

    event: FeedEvent
    error_class: str
    reason: str


def store_events(
    session: Session, events: Sequence[FeedEvent], *, now: datetime
) -> tuple[StoreCounts, list[Refused]]:
    """Insert new events, rewrite changed ones, and only mark unchanged ones as seen, in the caller's
    transaction; return the counts and the events the database refused (the others are stored). A key
    repeated within ``events`` keeps its last occurrence (the feed's latest word)."""
    latest = {event_id(*e.key): e for e in events}
    if not latest:
        return StoreCounts(), []
    query = sa.select(col(Event.id), col(Event.fingerprint)).where(col(Event.id).in_(list(latest)))
    stored: dict[uuid.UUID, str] = {row[0]: row[1] for row in session.execute(query)}
    rows: list[dict[str, Any]] = []
    unchanged: list[uuid.UUID] = []
    for id_, event in latest.items():
        fingerprint = event.fingerprint
        if stored.get(id_) == fingerprint:
            unchanged.append(id_)
        else:
            rows.append(_row(id_, event, fingerprint, now))
    refused = _upsert_isolating(session, rows)
    if unchanged:
        session.execute(sa.update(Event).where(col(Event.id).in_(unchanged)).values(last_seen_at=now))
    written = [row["id"] for row in rows if row["id"] not in refused]
    counts = StoreCounts(
        inserted=sum(id_ not in stored for id_ in written),
        updated=sum(id_ in stored for id_ in written),
        unchanged=len(unchanged),
    )
    return counts, [Refused(latest[id_], *error) for id_, error in refused.items()]


def _upsert_isolating(session: Session, rows: list[dict[str, Any]]) -> dict[uuid.UUID, tuple[str, str]]:
    """Upsert ``rows`` in a SAVEPOINT; when the database refuses them, do each half the same way. Returns
    the rows refused alone: id → (error class, the database's one-line reason)."""
    if not rows:
        return {}
    _begin_transaction(session)
    try:
        with session.begin_nested():
            upsert(session, Event, rows, keys=("id",), update=[*CONTENT, "last_seen_at", "last_changed_at"])
        return {}
    except REFUSALS as exc:
        if len(rows) == 1:
            return {rows[0]["id"]: (type(exc).__name__, database_reason(exc))}
    half = len(rows) // 2
    return _upsert_isolating(session, rows[:half]) | _upsert_isolating(session, rows[half:])


def _begin_transaction(session: Session) -> None:
    """Make sure the session's transaction is open in the database before a SAVEPOINT.

    pysqlite sends BEGIN only before a write, so a SAVEPOINT before any write would open the transaction
    itself and releasing it would commit. IMMEDIATE: the batch is about to write anyway.
    """
    connection = session.connection()
    driver = connection.connection.driver_connection
    if connection.dialect.name == "sqlite" and driver is not None and not driver.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def database_reason(exc: DataError | IntegrityError) -> str:
    """The first line of the driver's message (never the statement, its parameters or the connection)."""
    lines = str(exc.orig if exc.orig is not None else type(exc).__name__).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:300]


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
