"""Any SQLModel table as a write target: rows upserted by fingerprint, one transaction per batch.

The runner plans against the fingerprints the table holds (``known``), so ``apply`` gets only the rows whose
content changed and unchanged rows have only their ``seen`` column moved (``record``). A row the database
refuses (a value it cannot hold that the mapping let through) costs only itself: the batch is written again
in halves, each in a SAVEPOINT, until the refused rows are alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlmodel import Session, SQLModel

from sync_core.db import in_chunks, session_scope
from sync_core.engine.failures import NewFailure
from sync_core.engine.plan import LedgerKey
from sync_core.engine.ports import OnOutcome
from sync_core.models import FailedWrite, Write, WriteOutcome
from sync_core.tables import utcnow
from sync_core.upsert import upsert

__all__ = ["REFUSALS", "TableTarget", "database_reason"]

# What a database raises for a row it will not hold (too long, out of range, a constraint).
REFUSALS = (DataError, IntegrityError)

Row = dict[str, Any]
Refusal = tuple[type[Exception], str]  # the error's class, the database's one-line reason


class TableTarget:
    """A SQLModel table as the ``TargetState`` of a run (sync_core.engine.job), on SQLite and PostgreSQL.

    A write of ``kind`` is one row: ``target_key`` is its key as a string (read as the key column's Python
    type: ``uuid.UUID``, ``int`` ...), ``value`` its identity and content columns, stored as they are, and its
    fingerprint goes to ``fingerprint_column``. The timestamps are the target's: ``first_seen`` is set when
    the row is inserted, ``changed`` whenever it is written, ``seen`` also when it is found unchanged; a
    column given as None is not kept. On a key conflict only ``content``, the fingerprint, ``seen`` and
    ``changed`` are rewritten: the identity columns and ``first_seen`` stay. A ``version`` column, when
    given, is 1 on insert and goes up by one whenever the row is written again.
    """

    fatal: tuple[type[Exception], ...] = ()  # a refused row costs only itself; nothing stops the run

    def __init__(
        self,
        url: str,
        model: type[SQLModel],
        *,
        content: Sequence[str],
        key: str = "id",
        kind: str = "row",
        fingerprint_column: str = "fingerprint",
        first_seen: str | None = "first_seen_at",
        seen: str | None = "last_seen_at",
        changed: str | None = "last_changed_at",
        version: str | None = None,
        refused_context: str = "store",
        refused_reason: str = "refused-by-database",
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.url, self.model, self.kind = url, model, kind
        self.refused_context, self.refused_reason = refused_context, refused_reason
        table: sa.Table = model.__table__  # type: ignore[attr-defined]
        stamps = [c for c in (first_seen, seen, changed) if c is not None]
        versions = (version,) if version is not None else ()
        missing = [c for c in (key, fingerprint_column, *content, *stamps, *versions) if c not in table.c]
        if missing:
            raise ValueError(f"{table.name} has no column {', '.join(map(repr, missing))}")
        self._table = table
        self._key: sa.Column[Any] = table.c[key]
        self._parse = _key_parser(self._key)
        self._fingerprint = table.c[fingerprint_column]
        self._seen = seen
        self._stamps = tuple(stamps)
        self._update = tuple(dict.fromkeys(c for c in (*content, fingerprint_column, seen, changed) if c))
        self._version = version
        self._now = now

    def known(self, writes: Sequence[Write]) -> dict[LedgerKey, str]:
        """(target key, kind) → the fingerprint stored for the rows of these writes (keys as the writes spell
        them, so the runner's lookups match)."""
        spelled = {key: write.target_key for key, write in self._latest(writes).items()}
        found: dict[LedgerKey, str] = {}
        with session_scope(self.url) as session:
            for chunk in in_chunks(list(spelled)):
                query = sa.select(self._key, self._fingerprint).where(self._key.in_(chunk))
                found.update({(spelled[k], self.kind): f for k, f in session.execute(query) if f is not None})
        return found

    def apply(self, writes: Sequence[Write], on_outcome: OnOutcome | None = None) -> WriteOutcome:
        """Upsert the writes' rows in one transaction stamped with one clock reading; the rows the database
        refuses come back in ``failed``, the others are stored. A key repeated within ``writes`` keeps its last
        occurrence (only that one is reported). ``on_outcome`` gets the outcome once the transaction has
        committed; with no writes there is neither a transaction nor a call."""
        latest = self._latest(writes)
        if not latest:
            return WriteOutcome()
        with session_scope(self.url) as session:
            stamp = self._now()
            rows = [self._row(key, write, stamp) for key, write in latest.items()]
            refused = self._upsert_isolating(session, rows)
        outcome = WriteOutcome(
            succeeded=[write for key, write in latest.items() if key not in refused],
            failed=[FailedWrite(latest[key], error, message) for key, (error, message) in refused.items()],
        )
        if on_outcome is not None:
            on_outcome(outcome)
        return outcome

    def record(
        self, session: Session, *, succeeded: Sequence[Write], unchanged: Sequence[Write], run_id: int | None
    ) -> None:
        """Mark the ``unchanged`` rows seen, in the caller's transaction. ``succeeded`` rows need nothing: the
        table already holds them, stamped by ``apply``."""
        if self._seen is None or not unchanged:
            return
        stamp = self._now()
        for chunk in in_chunks(list(self._latest(unchanged))):
            session.execute(sa.update(self._table).where(self._key.in_(chunk)).values({self._seen: stamp}))

    def failure(self, failed: FailedWrite) -> NewFailure:
        """A refused row, keyed by its source key, with its value as the payload (JSON-safe: str() of the
        rest, e.g. datetimes and Decimals)."""
        write = failed.write
        payload = json.loads(json.dumps(write.value, default=str))
        return NewFailure(
            self.refused_context,
            write.source_key,
            failed.error.__name__,
            self.refused_reason,
            failed.message,
            payload,
        )

    def settled(self, writes: Sequence[Write]) -> list[tuple[str, list[str]]]:
        """A row that now stores, or already holds its value, ends its earlier refusal."""
        return [(self.refused_context, [write.source_key for write in writes])]

    def _latest(self, writes: Sequence[Write]) -> dict[Any, Write]:
        """The writes by their key in the column's type; a repeated key keeps its last occurrence."""
        latest: dict[Any, Write] = {}
        for write in writes:
            if write.kind != self.kind:
                raise ValueError(
                    f"the {self.kind!r} target of {self.model.__name__} got a {write.kind!r} write"
                )
            latest[self._parse(write.target_key)] = write
        return latest

    def _row(self, key: Any, write: Write, stamp: datetime) -> Row:
        row = {**write.value, self._key.name: key, self._fingerprint.name: write.fingerprint}
        row.update(dict.fromkeys(self._stamps, stamp))
        if self._version is not None:
            row[self._version] = 1  # an insert's; a conflict adds one to the stored one instead
        return row

    def _upsert_isolating(self, session: Session, rows: list[Row]) -> dict[Any, Refusal]:
        """Upsert ``rows`` in a SAVEPOINT; when the database refuses them, do each half the same way. Returns
        the rows refused alone: key → (error class, the database's one-line reason)."""
        if not rows:
            return {}
        _begin_transaction(session)
        try:
            with session.begin_nested():
                self._upsert(session, rows)
            return {}
        except REFUSALS as exc:
            if len(rows) == 1:
                return {rows[0][self._key.name]: (type(exc), database_reason(exc))}
        half = len(rows) // 2
        return self._upsert_isolating(session, rows[:half]) | self._upsert_isolating(session, rows[half:])

    def _upsert(self, session: Session, rows: list[Row]) -> None:
        """One executemany per set of columns: in a single one, the first row's columns are the only ones
        written for every row (a column only later rows carry would be dropped without a word)."""
        shapes: dict[frozenset[str], list[Row]] = {}
        for row in rows:
            shapes.setdefault(frozenset(row), []).append(row)
        for group in shapes.values():
            increment = (self._version,) if self._version is not None else ()
            upsert(
                session, self.model, group, keys=(self._key.name,), update=self._update, increment=increment
            )


def database_reason(exc: DBAPIError) -> str:
    """The first line of the driver's message (never the statement, its parameters or the connection)."""
    lines = str(exc.orig if exc.orig is not None else type(exc).__name__).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:300]


def _begin_transaction(session: Session) -> None:
    """Make sure the session's transaction is open in the database before a SAVEPOINT.

    pysqlite sends BEGIN only before a write, so a SAVEPOINT before any write would open the transaction
    itself and releasing it would commit. IMMEDIATE: the batch is about to write anyway.
    """
    connection = session.connection()
    driver = connection.connection.driver_connection
    if connection.dialect.name == "sqlite" and driver is not None and not driver.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _key_parser(column: sa.Column[Any]) -> Callable[[str], Any]:
    """str → the key column's Python type (``uuid.UUID("…")``, ``int("7")``); str for a type that does not say
    (SQLModel's AutoString)."""
    try:
        python_type: Callable[[str], Any] = column.type.python_type
    except NotImplementedError:
        return str
    return python_type
