"""The table target on SQLite and PostgreSQL: changed rows are written, unchanged ones only marked seen, a
repeated key keeps its last value, and a row the database refuses costs only itself.

The tables here have their own registry (not ``SQLModel.metadata``, which the migrations must match)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel, select

from sync_core.db import get_engine, session_scope
from sync_core.engine.failures import NewFailure
from sync_core.engine.plan import plan_writes
from sync_core.models import FailedWrite, Write, WriteOutcome
from sync_core.targets.table import TableTarget, database_reason
from sync_core.upsert import upsert

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _stamp() -> Any:
    return Field(sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False))


class _Base(SQLModel, registry=registry()):
    pass


class Show(_Base, table=True):
    """A UUID-keyed table with the default column names."""

    __tablename__ = "table_target_shows"

    id: uuid.UUID = Field(primary_key=True)
    code: str = Field(max_length=16)  # identity: inserted, never rewritten
    name: str = Field(max_length=8)
    price: Decimal | None = Field(default=None, sa_column=sa.Column(sa.Numeric(10, 2), nullable=True))
    starts_at: datetime | None = Field(default=None, sa_column=sa.Column(sa.DateTime(timezone=True)))
    tags: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    note: str | None = Field(default=None, max_length=32)
    fingerprint: str = Field(max_length=64)
    first_seen_at: datetime = _stamp()
    last_seen_at: datetime = _stamp()
    last_changed_at: datetime = _stamp()


class Counter(_Base, table=True):
    """An integer-keyed table with its own digest column and only a ``seen`` timestamp."""

    __tablename__ = "table_target_counters"

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    label: str = Field(max_length=32)
    digest: str = Field(max_length=64)
    seen_at: datetime = _stamp()


class Clock:
    def __init__(self) -> None:
        self.at = T0
        self.readings = 0

    def __call__(self) -> datetime:
        self.readings += 1
        return self.at


@pytest.fixture
def url(db_url: str) -> Iterator[str]:
    engine = get_engine(db_url)
    _Base.metadata.drop_all(engine)
    _Base.metadata.create_all(engine)
    yield db_url
    _Base.metadata.drop_all(engine)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def shows(url: str, clock: Clock) -> TableTarget:
    return TableTarget(
        url, Show, content=("name", "price", "starts_at", "tags", "note"), kind="show", now=clock
    )


def show(id_: uuid.UUID | int, name: str | None = "Hamlet", **extra: Any) -> Write:
    key = id_ if isinstance(id_, uuid.UUID) else uuid.UUID(int=id_)
    short = key.int % 10**8  # fits ``code``: 1 for uuid.UUID(int=1)
    value = {"code": f"c{short}", "name": name, "price": Decimal("12.50"), "tags": ["drama"], **extra}
    return Write("show", str(key), f"src-{short}", value)


def stored(url: str) -> dict[uuid.UUID, Show]:
    with session_scope(url) as session:
        return {row.id: row for row in session.exec(select(Show))}


def aware(value: datetime) -> datetime:
    """SQLite hands timestamps back naive (they were written in UTC)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def stamps(row: Show) -> tuple[datetime, datetime, datetime]:
    return aware(row.first_seen_at), aware(row.last_seen_at), aware(row.last_changed_at)


def test_a_new_row_is_inserted_and_an_unchanged_one_only_marked_seen(url: str, clock: Clock) -> None:
    target = shows(url, clock)
    write = show(1, starts_at=datetime(2024, 6, 1, 20, 0, tzinfo=UTC))
    outcome = target.apply([write])
    assert (outcome.succeeded, outcome.failed, clock.readings) == ([write], [], 1)
    row = stored(url)[uuid.UUID(int=1)]
    assert (row.code, row.name, row.price, row.tags, row.fingerprint) == (
        "c1",
        "Hamlet",
        Decimal("12.50"),
        ["drama"],
        write.fingerprint,
    )
    assert aware(row.starts_at) == datetime(2024, 6, 1, 20, 0, tzinfo=UTC)  # type: ignore[arg-type]
    assert stamps(row) == (T0, T0, T0)

    clock.at = T0 + timedelta(hours=1)
    again = show(1, starts_at=datetime(2024, 6, 1, 20, 0, tzinfo=UTC))
    plan = plan_writes([again], target.known([again]))
    assert (plan.writes, plan.unchanged) == ([], [again])
    with session_scope(url) as session:
        target.record(session, succeeded=(), unchanged=plan.unchanged, run_id=None)
    assert stamps(stored(url)[uuid.UUID(int=1)]) == (T0, clock.at, T0)


def test_a_changed_row_is_rewritten_and_keeps_its_first_seen_and_identity(url: str, clock: Clock) -> None:
    target = shows(url, clock)
    target.apply([show(1), show(2)])
    clock.at = T1 = T0 + timedelta(hours=1)
    changed = show(1, name="Lear", price=Decimal("20"), code="other")
    plan = plan_writes([changed, show(2)], target.known([changed, show(2)]))
    assert plan.writes == [changed]
    assert target.apply(plan.writes).succeeded == [changed]
    rows = stored(url)
    first, second = rows[uuid.UUID(int=1)], rows[uuid.UUID(int=2)]
    assert (first.name, first.price, first.code) == ("Lear", Decimal("20.00"), "c1")  # identity not rewritten
    assert first.fingerprint == changed.fingerprint
    assert stamps(first) == (T0, T1, T1)
    assert stamps(second) == (T0, T0, T0)  # not in this batch at all


def test_a_key_repeated_in_one_call_keeps_its_last_occurrence(url: str, clock: Clock) -> None:
    target = shows(url, clock)
    key = uuid.uuid4()
    first, last = show(key, name="first"), show(key, name="last")
    outcome = target.apply([first, show(2), last])
    assert outcome.succeeded == [last, show(2)]
    assert stored(url)[key].name == "last"
    assert target.known([first]) == {(str(key), "show"): last.fingerprint}


def test_a_row_the_database_refuses_fails_alone_and_the_rest_are_stored(url: str, clock: Clock) -> None:
    target = shows(url, clock)
    writes = [show(n) for n in range(1, 8)]
    writes[2] = show(3, name=None)  # NOT NULL, on both databases
    outcome = target.apply(writes)
    assert set(stored(url)) == {uuid.UUID(int=n) for n in (1, 2, 4, 5, 6, 7)}
    assert outcome.succeeded == [w for w in writes if w.target_key != str(uuid.UUID(int=3))]
    (failed,) = outcome.failed
    assert (failed.write, failed.error) == (writes[2], IntegrityError)
    assert failed.message in (
        "NOT NULL constraint failed: table_target_shows.name",
        'null value in column "name" of relation "table_target_shows" violates not-null constraint',
    )


def test_a_value_too_long_is_refused_by_postgresql_alone(url: str, clock: Clock) -> None:
    """SQLite keeps a string of any length; PostgreSQL refuses it, and says nothing of the connection."""
    target = shows(url, clock)
    writes = [show(1), show(2, name="x" * 9), show(3)]
    outcome = target.apply(writes)
    if sa.engine.make_url(url).get_backend_name() == "sqlite":
        assert (len(outcome.succeeded), outcome.failed) == (3, [])
        return
    assert set(stored(url)) == {uuid.UUID(int=1), uuid.UUID(int=3)}
    (failed,) = outcome.failed
    assert (failed.write, failed.error) == (writes[1], DataError)
    assert failed.message == "value too long for type character varying(8)"
    for secret in ("postgres", "127.0.0.1", "5432", "INSERT", "[SQL", "\n"):
        assert secret not in failed.message


def test_rows_with_different_columns_keep_each_their_own(url: str, clock: Clock) -> None:
    """One executemany writes only its first row's columns: the rows are grouped by their columns."""
    target = shows(url, clock)
    target.apply([show(1), show(2, note="kept"), show(3, tags=[])])
    rows = stored(url)
    assert [rows[uuid.UUID(int=n)].note for n in (1, 2, 3)] == [None, "kept", None]
    assert rows[uuid.UUID(int=3)].tags == []


def test_a_call_is_one_transaction(url: str, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    """A call that fails after a half of its batch stored leaves nothing stored."""
    calls: list[int] = []

    def third_call_breaks(*args: Any, **kwargs: Any) -> None:
        calls.append(1)
        if len(calls) == 3:  # the whole batch is refused, its good half stores, then the connection dies
            raise RuntimeError("lost the connection")
        upsert(*args, **kwargs)

    monkeypatch.setattr("sync_core.targets.table.upsert", third_call_breaks)
    with pytest.raises(RuntimeError):
        shows(url, clock).apply([show(1), show(2, name=None)])
    assert stored(url) == {}


def test_on_outcome_is_called_once_after_the_commit(url: str, clock: Clock) -> None:
    target = shows(url, clock)
    seen: list[tuple[WriteOutcome, set[uuid.UUID]]] = []
    writes = [show(1), show(2, name=None)]
    outcome = target.apply(writes, on_outcome=lambda part: seen.append((part, set(stored(url)))))
    assert seen == [(outcome, {uuid.UUID(int=1)})]  # another connection already reads the row
    target.apply([], on_outcome=lambda part: seen.append((part, set())))
    assert len(seen) == 1  # no writes: no transaction, no call


def test_known_reads_uuid_keys_as_the_writes_spell_them(url: str, clock: Clock) -> None:
    target = shows(url, clock)
    keys = [uuid.uuid4() for _ in range(3)]
    target.apply([show(k) for k in keys[:2]])
    asked = [Write("show", str(k).upper(), "s", show(k).value) for k in keys]
    assert target.known(asked) == {(str(k).upper(), "show"): show(k).fingerprint for k in keys[:2]}
    assert target.known([]) == {}


def test_an_integer_key_over_many_chunks_with_only_a_seen_column(url: str, clock: Clock) -> None:
    target = TableTarget(
        url,
        Counter,
        content=("label",),
        kind="counter",
        fingerprint_column="digest",
        first_seen=None,
        changed=None,
        seen="seen_at",
        now=clock,
    )
    writes = [Write("counter", str(n), f"s{n}", {"label": f"n{n}"}, digest=f"d{n}") for n in range(1, 1201)]
    assert len(target.apply(writes).succeeded) == 1200
    known = target.known(writes)
    assert len(known) == 1200 and known[("700", "counter")] == "d700"

    clock.at = T1 = T0 + timedelta(minutes=5)
    with session_scope(url) as session:
        target.record(session, succeeded=writes[:1], unchanged=writes[1:], run_id=7)
    with session_scope(url) as session:
        seen = {row.id: aware(row.seen_at) for row in session.exec(select(Counter))}
    assert seen[1] == T0 and {seen[n] for n in range(2, 1201)} == {T1}


def test_failure_and_settled_name_the_source_item(url: str, clock: Clock) -> None:
    target = TableTarget(
        url,
        Show,
        content=("name",),
        kind="show",
        refused_context="parse",
        refused_reason="refused-by-db",
        now=clock,
    )
    write = show(4, starts_at=datetime(2024, 6, 1, 20, 0, tzinfo=UTC))
    failure = target.failure(FailedWrite(write, IntegrityError, "NOT NULL constraint failed: x"))
    assert failure == NewFailure(
        "parse",
        "src-4",
        "IntegrityError",
        "refused-by-db",
        "NOT NULL constraint failed: x",
        {
            "code": "c4",
            "name": "Hamlet",
            "price": "12.50",
            "tags": ["drama"],
            "starts_at": "2024-06-01 20:00:00+00:00",
        },
    )
    assert target.settled([write, show(5)]) == [("parse", ["src-4", "src-5"])]
    assert target.fatal == ()


def test_misuse_is_loud(url: str, clock: Clock) -> None:
    with pytest.raises(ValueError, match="no column 'title'"):
        TableTarget(url, Show, content=("title",))
    with pytest.raises(ValueError, match="got a 'price' write"):
        shows(url, clock).apply([Write("price", str(uuid.uuid4()), "s", {})])


def test_database_reason_is_the_first_line_of_the_driver_message() -> None:
    exc = IntegrityError("INSERT INTO t VALUES (?)", {"secret": 1}, Exception("first line\nDETAIL: more"))
    assert database_reason(exc) == "first line"
