"""The events table on SQLite and PostgreSQL: latest values win, unchanged rows are not rewritten,
vanished events stay, bad plans are quarantined and resolved when fixed."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel, select

from sync_core.db import get_engine, session_scope, upgrade
from sync_core.events_pipeline import EVENTS_PIPELINE, store_feed
from sync_core.events_store import event_id
from sync_core.runs import aware
from sync_core.tables import Event, Failure, utcnow
from tests.unit.test_fever_events import base_plan, feed, plan


def zone(price: str, capacity: int = 10, zone_id: str = "1") -> str:
    return f'<zone zone_id="{zone_id}" capacity="{capacity}" price="{price}" name="A" numbered="true"/>'


def sync(url: str, xml: str, *, minutes: int = 0) -> object:
    return store_feed(
        url,
        io.BytesIO(xml.encode()),
        retry_base_s=60,
        now=utcnow() + timedelta(minutes=minutes),
        batch_size=2,
    )


def events(url: str) -> dict[tuple[str, str], Event]:
    with session_scope(url) as session:
        return {(e.base_plan_id, e.plan_id): e for e in session.exec(select(Event))}


def test_the_migrations_create_exactly_the_tables_the_models_declare(db_url: str) -> None:
    upgrade(db_url)
    with get_engine(db_url).connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []


def test_two_syncs_keep_the_latest_values_and_the_vanished_events(db_url: str) -> None:
    upgrade(db_url)
    first = feed(
        base_plan(plan("1", zones=zone("20.00") + zone("15.00", zone_id="2")), base_id="100"),
        base_plan(plan("1") + plan("2"), base_id="200"),
    )
    result = sync(db_url, first)
    assert (result.events, result.stored.inserted, result.stored.updated) == (3, 3, 0)  # type: ignore[attr-defined]
    before = events(db_url)

    # Fetch 2: event 100/1 got dearer and longer, 200/1 is unchanged, 200/2 left the feed.
    second = feed(
        base_plan(plan("1", plan_end_date="2021-06-30T23:00:00", zones=zone("25.00")), base_id="100"),
        base_plan(plan("1"), base_id="200"),
    )
    result = sync(db_url, second, minutes=60)
    assert (result.stored.inserted, result.stored.updated, result.stored.unchanged) == (0, 1, 1)  # type: ignore[attr-defined]
    after = events(db_url)
    assert set(after) == {("100", "1"), ("200", "1"), ("200", "2")}  # the vanished one stays

    changed, same, gone = after[("100", "1")], after[("200", "1")], after[("200", "2")]
    assert (changed.min_price, changed.max_price) == (Decimal("25.00"), Decimal("25.00"))
    assert aware(changed.ends_at) == aware(before[("100", "1")].ends_at) + timedelta(hours=1)
    assert aware(changed.last_changed_at) > aware(before[("100", "1")].last_changed_at)  # type: ignore[operator]
    assert aware(same.last_changed_at) == aware(before[("200", "1")].last_changed_at)
    assert aware(same.last_seen_at) > aware(before[("200", "1")].last_seen_at)  # type: ignore[operator]
    assert aware(gone.last_seen_at) == aware(before[("200", "2")].last_seen_at)
    assert changed.id == before[("100", "1")].id == event_id("100", "1")
    assert same.first_seen_at == before[("200", "1")].first_seen_at


def test_a_repeat_of_the_same_feed_writes_nothing(db_url: str) -> None:
    upgrade(db_url)
    xml = feed(base_plan(plan("1") + plan("2")))
    sync(db_url, xml)
    result = sync(db_url, xml, minutes=5)
    assert (result.stored.inserted, result.stored.updated, result.stored.unchanged) == (0, 0, 2)  # type: ignore[attr-defined]


def test_bad_plans_are_quarantined_with_their_reason_and_resolved_once_fixed(db_url: str) -> None:
    upgrade(db_url)
    broken = feed(base_plan(plan("1") + plan("2", plan_start_date="2021-09-31T20:00:00"), base_id="9"))
    result = sync(db_url, broken)
    assert result.reasons == {"invalid-date": 1}  # type: ignore[attr-defined]
    assert set(events(db_url)) == {("9", "1")}
    with session_scope(db_url) as session:
        (failure,) = session.exec(select(Failure).where(Failure.pipeline == EVENTS_PIPELINE))
        assert (failure.item_key, failure.reason, failure.status) == ("9/2", "invalid-date", "pending")
        assert "2021-09-31" in failure.last_error and failure.payload["plan_id"] == "2"

    fixed = feed(base_plan(plan("1") + plan("2"), base_id="9"))
    sync(db_url, fixed, minutes=60)
    assert set(events(db_url)) == {("9", "1"), ("9", "2")}
    with session_scope(db_url) as session:
        assert session.exec(select(Failure.status)).all() == ["resolved"]


def test_the_search_query_can_use_the_index(db_url: str) -> None:
    upgrade(db_url)
    indexes = {i["name"]: i["column_names"] for i in sa.inspect(get_engine(db_url)).get_indexes("events")}
    assert indexes["ix_events_starts_at_ends_at"] == ["starts_at", "ends_at"]
    query = (
        "SELECT id FROM events WHERE starts_at >= '2021-01-01' AND ends_at <= '2021-12-31' ORDER BY starts_at"
    )
    with get_engine(db_url).connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SET enable_seqscan = off"))  # an empty table: ask whether it *can*
            plan = " ".join(row[0] for row in conn.execute(sa.text("EXPLAIN " + query)))
        else:
            plan = " ".join(str(row[-1]) for row in conn.execute(sa.text("EXPLAIN QUERY PLAN " + query)))
    assert "ix_events_starts_at_ends_at" in plan, plan


def test_each_batch_stamps_its_changes_with_its_own_time(db_url: str) -> None:
    """`/search` watches max(last_changed_at): every batch that changes an event must move it."""
    upgrade(db_url)
    xml = feed(base_plan(plan("1") + plan("2") + plan("3")))
    store_feed(db_url, io.BytesIO(xml.encode()), retry_base_s=60, batch_size=1)
    stamps = sorted(aware(e.last_changed_at) for e in events(db_url).values())  # type: ignore[type-var]
    assert len(set(stamps)) == 3
