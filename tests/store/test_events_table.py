"""The events table on SQLite and PostgreSQL: latest values win, unchanged rows are not rewritten,
vanished events stay, bad plans are quarantined and resolved when fixed, and a value the table cannot hold
costs only its own plan."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel, select

from sync_core.db import HEAD_REVISION, MIGRATIONS_DIR, current_revision, get_engine, session_scope, upgrade
from sync_core.engine.registry import pipelines
from sync_core.engine.runs import aware
from sync_core.mapping import fever_events
from sync_core.pipelines.fever_events import EVENTS_PIPELINE, event_id, store_feed
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
    pipelines()  # the tables of every pipeline's own modules are declared too
    upgrade(db_url)
    with get_engine(db_url).connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []


def test_head_revision_is_the_newest_migration(db_url: str) -> None:
    """upgrade() skips alembic when the database is at HEAD_REVISION: it must name the newest migration."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD_REVISION
    upgrade(db_url)
    assert current_revision(db_url) == HEAD_REVISION


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


def failures(url: str) -> dict[str, Failure]:
    with session_scope(url) as session:
        return {
            f.item_key: f for f in session.exec(select(Failure).where(Failure.pipeline == EVENTS_PIPELINE))
        }


def test_values_the_table_cannot_hold_cost_only_their_own_plan(db_url: str) -> None:
    """On PostgreSQL one of these once made the database refuse the whole batch: 0 of 3 good events stored."""
    upgrade(db_url)
    xml = feed(
        base_plan(plan("1") + plan("p" * 65) + plan("2"), base_id="10"),
        base_plan(plan("1"), base_id="b" * 65),
        base_plan(plan("1"), base_id="11", extra=f' organizer_company_id="{"o" * 70}"'),
        base_plan(
            plan("1", zones=zone("20.00") + zone("1000000000000", zone_id="2")) + plan("3"), base_id="12"
        ),
    )
    result = store_feed(db_url, io.BytesIO(xml.encode()), retry_base_s=60)
    assert set(events(db_url)) == {("10", "1"), ("10", "2"), ("12", "3")}
    assert (result.events, result.stored.inserted, result.quarantined) == (3, 3, 4)
    assert result.reasons == {"value-too-long": 3, "price-too-large": 1}
    stored = failures(db_url)
    assert {key: f.reason for key, f in stored.items()} == {
        f"10/{'p' * 65}": "value-too-long",
        f"{'b' * 65}/1": "value-too-long",
        "11/1": "value-too-long",
        "12/1": "price-too-large",
    }
    assert "organizer_company_id (70 characters)" in stored["11/1"].last_error
    assert "'1000000000000' does not fit the store" in stored["12/1"].last_error


def test_the_plausible_price_bound_comes_from_the_caller(db_url: str) -> None:
    upgrade(db_url)
    xml = feed(base_plan(plan("1", zones=zone("900.00")) + plan("2", zones=zone("9000.00"))))
    result = store_feed(db_url, io.BytesIO(xml.encode()), retry_base_s=60, max_price=Decimal("1000"))
    assert set(events(db_url)) == {("1", "1")} and result.reasons == {"implausible-price": 1}
    assert failures(db_url)["1/2"].reason == "implausible-price"


def test_over_long_ids_of_a_rejected_plan_still_fit_the_failures_table(db_url: str) -> None:
    upgrade(db_url)
    bad = base_plan(plan("p" * 100, plan_start_date="2021-09-31T20:00:00"), base_id="b" * 100)
    store_feed(db_url, io.BytesIO(feed(bad, base_plan(plan("1"))).encode()), retry_base_s=60)
    assert set(events(db_url)) == {("1", "1")}
    (failure,) = failures(db_url).values()
    assert failure.reason == "value-too-long" and len(failure.item_key) == 128
    assert failure.payload["plan_id"] == "p" * 100  # the whole record is kept for whoever looks into it


def _plant_row_with_another_id(url: str, base_plan_id: str, plan_id: str) -> None:
    """A row holding the identity (base_plan_id, plan_id) under an id the feed does not derive: a row
    written by hand or by an older version. Inserting the feed's event then breaks the unique constraint."""
    now = utcnow()
    when = {"starts_at": now, "ends_at": now, "sell_from": now, "sell_to": now}
    with session_scope(url) as session:
        session.add(
            Event(
                id=uuid.uuid4(),
                base_plan_id=base_plan_id,
                plan_id=plan_id,
                title="planted",
                min_price=Decimal(1),
                max_price=Decimal(1),
                fingerprint="-",
                first_seen_at=now,
                last_seen_at=now,
                last_changed_at=now,
                **when,
            )
        )


def test_a_row_the_database_refuses_is_quarantined_and_its_batch_is_stored(db_url: str) -> None:
    """The mapping cannot know this one: the batch is written again in SAVEPOINTs, piece by piece."""
    upgrade(db_url)
    _plant_row_with_another_id(db_url, "1", "3")
    xml = feed(base_plan("".join(plan(str(p)) for p in range(1, 8))), base_plan(plan("1"), base_id="2"))
    result = store_feed(db_url, io.BytesIO(xml.encode()), retry_base_s=60)
    stored = events(db_url)
    assert set(stored) == {("1", str(p)) for p in range(1, 8)} | {("2", "1")}
    assert stored[("1", "3")].title == "planted"  # left as it was
    assert (result.events, result.stored.inserted, result.reasons) == (7, 7, {"refused-by-database": 1})
    (failure,) = failures(db_url).values()
    assert (failure.item_key, failure.context, failure.reason) == ("1/3", "parse", "refused-by-database")
    assert failure.error_class == "IntegrityError" and failure.payload["plan_id"] == "3"
    said = failure.last_error.split("the database refused it: ", 1)[1]
    assert said in (
        "UNIQUE constraint failed: events.base_plan_id, events.plan_id",
        'duplicate key value violates unique constraint "events_base_plan_id_plan_id_key"',
    )
    assert "\n" not in failure.last_error


def test_a_value_only_postgresql_refuses_is_quarantined_there(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the mapping's length check gone, PostgreSQL refuses the row (SQLite keeps any length)."""
    upgrade(db_url)
    monkeypatch.setattr(fever_events, "MAX_ID_LENGTH", 1_000)
    xml = feed(base_plan(plan("1") + plan("p" * 65) + plan("2")))
    result = store_feed(db_url, io.BytesIO(xml.encode()), retry_base_s=60)
    if sa.engine.make_url(db_url).get_backend_name() == "sqlite":
        assert len(events(db_url)) == 3 and result.quarantined == 0
        return
    assert set(events(db_url)) == {("1", "1"), ("1", "2")}
    (failure,) = failures(db_url).values()
    assert failure.reason == "refused-by-database" and failure.error_class == "DataError"
    assert failure.last_error.endswith(
        "the database refused it: value too long for type character varying(64)"
    )
    for secret in ("postgres", "127.0.0.1", "5432", "INSERT", "[SQL"):
        assert secret not in failure.last_error


def test_batches_are_also_cut_by_their_number_of_zones(db_url: str) -> None:
    upgrade(db_url)
    two_zones = zone("10.00") + zone("12.00", zone_id="2")
    xml = feed(base_plan("".join(plan(str(p), zones=two_zones) for p in range(3))))
    store_feed(db_url, io.BytesIO(xml.encode()), retry_base_s=60, batch_zones=2)
    stamps = {aware(e.last_changed_at) for e in events(db_url).values()}  # type: ignore[arg-type]
    assert len(stamps) == 3  # one batch, one clock reading, per plan
