"""Bulk writes for SQLite and PostgreSQL alike: INSERT ... ON CONFLICT in one executemany, and plain inserts.

The hot paths (ledger, links, catalogue, audit rows: thousands of rows a batch) go straight to the driver's
executemany with SQL made once per table and column list, and each value converted by its column type's
own bind processor (JSON through orjson): SQLAlchemy's per-row compile and parameter machinery cost more
than the database did. Conditional updates (``where``, expressions of ``excluded``) keep SQLAlchemy Core.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlmodel import Session

from sync_core.json_codec import dumps_text

_INSERTS: dict[str, Callable[..., Any]] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
Processor = Callable[[Any], Any]
ROWS_PER_STATEMENT = 10_000  # PostgreSQL: rows a statement


def _last_value_memo(process: Processor) -> Processor:
    """``process`` remembering its last answer: a batch stamps every row with the same time. Thread-safe:
    the value and its answer are one tuple, replaced whole (statements are shared by every thread)."""
    last: list[tuple[Any, Any]] = [(object(), None)]

    def memo(value: Any) -> Any:
        seen, answer = last[0]
        if value is not seen:
            answer = process(value)
            last[0] = (value, answer)
        return answer

    return memo


def _processor(column: sa.Column[Any], dialect: Dialect) -> Processor | None:
    """What the driver is given for a value of ``column``: JSON as text, otherwise what the column's type
    binds for this dialect (SQLite's datetimes as text, for one), or the value itself (None)."""
    if isinstance(column.type, sa.JSON):
        return lambda value: None if value is None else dumps_text(value)
    process = column.type.dialect_impl(dialect).bind_processor(dialect)
    return None if process is None else _last_value_memo(process)


def _array_type(column: sa.Column[Any], dialect: Dialect) -> str:
    """The array type a column's values travel in: its type without length or precision, so the column's
    own assignment rules apply as in a plain INSERT (an explicit ``::VARCHAR(64)`` would cut a long value
    where the column refuses it)."""
    return re.sub(r"\(.*?\)", "", column.type.compile(dialect=dialect)) + "[]"


@dataclass(frozen=True)
class DriverStatement:
    """An INSERT (with its ON CONFLICT clause, if any) for the driver: ``sql`` takes one row's values
    (executemany) or, ``by_column``, one array per column (PostgreSQL's ``unnest``); the processor of each
    column that has one, and the positions of the conflict key's columns."""

    sql: str
    processors: tuple[tuple[int, Processor], ...]
    key_positions: tuple[int, ...]
    by_column: bool


@lru_cache(maxsize=128)
def _driver_statement(
    table: Any,
    dialect: Dialect,
    columns: tuple[str, ...],
    keys: tuple[str, ...],
    update: tuple[str, ...] | None,
    increment: tuple[str, ...] = (),
) -> DriverStatement:
    t: sa.Table = table.__table__
    quote = dialect.identifier_preparer.quote
    names = ", ".join(map(quote, columns))
    by_column = dialect.name == "postgresql"
    if by_column:  # one array a column: a short statement (psycopg parses it once), any number of rows
        arrays = ", ".join(f"%s::{_array_type(t.c[name], dialect)}" for name in columns)
        values = f"SELECT * FROM unnest({arrays})"
    else:
        values = f"VALUES ({', '.join('?' * len(columns))})"
    sql = f"INSERT INTO {dialect.identifier_preparer.format_table(t)} ({names}) {values}"
    if update is not None:
        target = dialect.identifier_preparer.format_table(t)
        sets = ", ".join(
            [f"{quote(name)} = excluded.{quote(name)}" for name in update]
            + [f"{quote(name)} = {target}.{quote(name)} + 1" for name in increment]
        )
        sql += f" ON CONFLICT ({', '.join(map(quote, keys))}) DO " + (
            f"UPDATE SET {sets}" if sets else "NOTHING"
        )
    processors = ((i, _processor(t.c[name], dialect)) for i, name in enumerate(columns))
    return DriverStatement(
        sql,
        tuple((i, p) for i, p in processors if p is not None),
        tuple(columns.index(k) for k in keys),
        by_column,
    )


def _execute_many(session: Session, statement: DriverStatement, rows: Iterable[Sequence[Any]]) -> None:
    """Run ``statement`` for ``rows``. On PostgreSQL, in chunks of arrays (its executemany waits for the
    server row by row); as in a row-by-row run, the last of several rows with the same conflict key wins."""
    processors = statement.processors
    params: list[tuple[Any, ...]] = []
    for row in rows:
        if processors:
            values = list(row)
            for i, process in processors:
                values[i] = process(values[i])
            row = values
        params.append(tuple(row))
    if not params:
        return
    connection = session.connection()
    if not statement.by_column:
        connection.exec_driver_sql(statement.sql, params)
        return
    if statement.key_positions:  # one statement may not update a row twice
        params = list({tuple(p[i] for i in statement.key_positions): p for p in params}.values())
    for start in range(0, len(params), ROWS_PER_STATEMENT):
        arrays = tuple(
            list(column) for column in zip(*params[start : start + ROWS_PER_STATEMENT], strict=True)
        )
        connection.exec_driver_sql(statement.sql, arrays)


def insert_rows(session: Session, table: Any, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (all with the same columns) in one executemany, inside the caller's transaction."""
    if not rows:
        return
    columns = tuple(rows[0])
    statement = _driver_statement(table, session.get_bind().dialect, columns, (), None)
    _execute_many(session, statement, (tuple(row[c] for c in columns) for row in rows))


def upsert_values(
    session: Session,
    table: Any,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    keys: Sequence[str],
    update: Sequence[str],
    increment: Sequence[str] = (),
) -> None:
    """:func:`upsert` of rows given as value tuples in ``columns`` order (no dict per row); on a conflict the
    ``increment`` columns go up by one."""
    dialect = session.get_bind().dialect
    statement = _driver_statement(
        table, dialect, tuple(columns), tuple(keys), tuple(update), tuple(increment)
    )
    _execute_many(session, statement, rows)


def upsert(
    session: Session,
    table: Any,
    rows: Sequence[Mapping[str, Any]],
    *,
    keys: Sequence[str],
    update: Mapping[str, Any] | Sequence[str],
    where: Any = None,
    increment: Sequence[str] = (),
) -> None:
    """Insert ``rows`` (all with the same columns) in one executemany; on a ``keys`` conflict set the
    ``update`` columns.

    ``update`` is a list of column names (take the new value) or a mapping of name → value, where a value
    may be a function of the ``excluded`` pseudo-table (e.g. ``lambda new: new.attempts``). ``where`` (mapping
    form only), a condition on the stored row, leaves a conflicting row alone when it is false.
    ``increment`` (list form only): columns that go up by one on a conflict (a row's version).
    """
    if not rows:
        return
    dialect = session.get_bind().dialect
    if isinstance(update, Mapping):
        assert not increment, "increment needs the list form of update"
        stmt = _INSERTS[dialect.name](table.__table__)
        values = {name: (expr(stmt.excluded) if callable(expr) else expr) for name, expr in update.items()}
        conflict = stmt.on_conflict_do_update(index_elements=list(keys), set_=values, where=where)
        session.execute(conflict, list(rows))
        return
    assert where is None, "where needs the mapping form of update"
    columns = tuple(rows[0])
    in_order = (tuple(row[c] for c in columns) for row in rows)
    upsert_values(session, table, columns, in_order, keys=keys, update=update, increment=increment)
