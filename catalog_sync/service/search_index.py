"""The events behind `/search`: an in-memory copy of the events table per process, refreshed when it changes.

Each event is serialised once, when the table is read; a window is then two binary searches and a join of
byte strings, with the joined answer kept in a small LRU cache. Measured (bench/README.md, "Search API"):
answering one window from the database costs 1-140 ms, and a varied mix of windows never warms a per-window
cache; the whole table (10,000 events) reads in 0.12 s (SQLite) to 0.26 s (PostgreSQL) and holds about 4 MB.

Freshness: before answering, a process reads the data version (row count, latest ``last_changed_at``) if it last did so ``VERSION_CHECK_S`` ago or more, and re-reads the table when the
version moved, or when its copy is ``MAX_AGE_S`` old. A sync that adds or rewrites an event moves the version,
so an answer never misses a write committed more than ``VERSION_CHECK_S`` (1 s) before the request; a write
that leaves the version alone (an edit by hand that keeps the fingerprint) shows within ``MAX_AGE_S`` (30 s).
"""

from __future__ import annotations

import asyncio
import time
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from catalog_sync.service.answer_cache import AnswerCache
from sync_core.db import get_engine
from sync_core.settings import Settings
from sync_core.tables import Event

VERSION_CHECK_S = 1.0
MAX_AGE_S = 30.0
CACHE_BYTES = 32 * 1024 * 1024  # joined answers, per process; a month of 10,000 events a year is ~170 kB

Window = tuple[datetime | None, datetime | None]  # aware UTC bounds, both inclusive
EVENTS: sa.Table = Event.__table__  # type: ignore[attr-defined]
HEAD, TAIL = b'{"data":{"events":[', b']},"error":null}'


def _time_key(column: sa.Column[Any], dialect: str) -> sa.ColumnElement[Any]:
    """The UTC time as 'YYYY-MM-DD HH:MM:SS.ffffff': sorts as the time does, and slices into date and time."""
    if dialect == "postgresql":
        return sa.func.to_char(sa.func.timezone("UTC", column), "YYYY-MM-DD HH24:MI:SS.US")
    return sa.type_coerce(column, sa.String)  # SQLAlchemy keeps SQLite times as that text already


def _id_text(dialect: str) -> sa.ColumnElement[Any]:
    if dialect == "postgresql":
        return sa.cast(EVENTS.c.id, sa.Text)
    return sa.type_coerce(EVENTS.c.id, sa.String)  # SQLite: 32 hex digits, dashed below


def time_key(moment: datetime) -> str:
    """The key of an aware datetime, comparable with the stored ones."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


@dataclass(frozen=True)
class Snapshot:
    """Every event, ordered by start then id: sort keys, end keys and each event's JSON object."""

    version: tuple[Any, ...]
    loaded_at: float
    starts: Sequence[str] = ()
    ends: Sequence[str] = ()
    fragments: Sequence[bytes] = ()
    longest: timedelta = timedelta(0)  # the longest event: events starting before end - longest end in time

    def body(self, window: Window) -> bytes:
        """The contract's answer for a window: events starting at or after its start, ending by its end."""
        starts_at, ends_at = window
        low = bisect_left(self.starts, time_key(starts_at)) if starts_at is not None else 0
        if ends_at is None:
            return HEAD + b",".join(self.fragments[low:]) + TAIL
        end = time_key(ends_at)
        high = bisect_right(self.starts, end)  # an event never ends before it starts (the mapping refuses it)
        try:
            sure = max(low, bisect_right(self.starts, time_key(ends_at - self.longest)))
        except OverflowError:
            sure = low
        tail = (f for f, e in zip(self.fragments[sure:high], self.ends[sure:high], strict=True) if e <= end)
        return HEAD + b",".join([*self.fragments[low:sure], *tail]) + TAIL


def data_version(engine: Engine) -> tuple[Any, ...]:
    """What a sync moves when it writes events: the row count and the latest ``last_changed_at`` (each batch
    of a sync stamps the events it writes with its own commit-time clock reading, so every batch that changes
    an event moves it)."""
    query = sa.select(sa.func.count(), sa.func.max(EVENTS.c.last_changed_at)).select_from(EVENTS)
    with engine.connect() as conn:
        return tuple(conn.execute(query).one())


def load_snapshot(engine: Engine) -> Snapshot:
    """Read the version, then every event (in that order: a write between the two only causes a re-read)."""
    version = data_version(engine)
    dialect = engine.dialect.name
    c = EVENTS.c
    query = sa.select(
        _id_text(dialect),
        c.title,
        _time_key(c.starts_at, dialect),
        _time_key(c.ends_at, dialect),
        sa.cast(c.min_price, sa.Float),
        sa.cast(c.max_price, sa.Float),
    ).order_by(c.starts_at, c.id)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    starts, ends, fragments, longest = [], [], [], timedelta(0)
    for event_id, title, start, end, min_price, max_price in rows:
        start, end = _normal(start), _normal(end)
        if len(event_id) == 32:
            event_id = f"{event_id[:8]}-{event_id[8:12]}-{event_id[12:16]}-{event_id[16:20]}-{event_id[20:]}"
        fragment = orjson.dumps(
            {
                "id": event_id,
                "title": title,
                "start_date": start[:10],
                "start_time": start[11:19],
                "end_date": end[:10],
                "end_time": end[11:19],
                "min_price": min_price,
                "max_price": max_price,
            }
        )
        fragments.append(bytes(memoryview(fragment)))  # orjson's bytes keep a buffer of 4-8 kB each
        starts.append(start)
        ends.append(end)
        longest = max(longest, datetime.fromisoformat(end) - datetime.fromisoformat(start))
    return Snapshot(version, time.monotonic(), starts, ends, fragments, longest)


def _normal(key: str) -> str:
    # Rows written through SQLAlchemy already have this form; anything else is brought to it.
    if len(key) == 26 and key[10] == " ":
        return key
    return time_key(datetime.fromisoformat(key).replace(tzinfo=UTC))


class EventIndex:
    """Per process: settings and engine read once (first request), the events copy kept fresh as above."""

    def __init__(self, settings_loader: Callable[[], Settings], *, check_s: float = VERSION_CHECK_S) -> None:
        self._settings_loader = settings_loader
        self._engine: Engine | None = None
        self._check_s = check_s
        self._snapshot: Snapshot | None = None
        self._checked_at = -float("inf")
        self._cache: AnswerCache[Window] = AnswerCache(max_bytes=CACHE_BYTES)
        self._lock: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None

    async def body(self, window: Window) -> bytes:
        """The JSON answer for a window; raises ConfigError or SQLAlchemyError when the store cannot answer."""
        if time.monotonic() - self._checked_at >= self._check_s:
            await self._refresh()
        body = self._cache.get(window)
        if body is None:
            assert self._snapshot is not None
            body = self._snapshot.body(window)
            self._cache.put(window, body)
        return body

    def _connect(self) -> Engine:
        self._engine = get_engine(self._settings_loader().database_url)
        return self._engine

    def _refresh_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock[0] is not loop:  # a test client may run requests in new loops
            self._lock = (loop, asyncio.Lock())
        return self._lock[1]

    async def _refresh(self) -> None:
        async with self._refresh_lock():  # one check at a time; requests arriving meanwhile wait for it
            started = time.monotonic()
            if started - self._checked_at < self._check_s:
                return
            engine = self._engine or self._connect()
            current = self._snapshot
            stale = current is None or started - current.loaded_at >= MAX_AGE_S
            if stale or await run_in_threadpool(data_version, engine) != current.version:  # type: ignore[union-attr]
                self._snapshot = await run_in_threadpool(load_snapshot, engine)
                self._cache.clear()
            self._checked_at = started
