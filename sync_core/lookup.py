"""Reading rows by many keys in one query, at the driver: ``key = ANY(array)`` on PostgreSQL, ``key IN (SELECT
value FROM json_each(?))`` on SQLite. No IN list of thousands of markers, no per-chunk compile, no row objects:
the engine looks up tens of thousands of ledger rows and links per batch."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlmodel import Session

from sync_core.json_codec import dumps_text


@lru_cache(maxsize=64)
def _statement(
    table: Any, dialect: Dialect, columns: tuple[str, ...], fixed: tuple[str, ...], key: str
) -> str:
    t: sa.Table = table.__table__
    quote = dialect.identifier_preparer.quote
    postgres = dialect.name == "postgresql"
    marker = "%s" if postgres else "?"
    conditions = [f"{quote(name)} = {marker}" for name in fixed]
    conditions.append(
        f"{quote(key)} = ANY({marker})" if postgres else f"{quote(key)} IN (SELECT value FROM json_each(?))"
    )
    return (
        f"SELECT {', '.join(map(quote, columns))} FROM {dialect.identifier_preparer.format_table(t)} "
        f"WHERE {' AND '.join(conditions)}"
    )


def rows_by_keys(
    session: Session,
    table: Any,
    columns: Sequence[str],
    *,
    where: Mapping[str, str],
    key: str,
    keys: Iterable[str],
) -> list[tuple[Any, ...]]:
    """``columns`` of the rows of ``table`` whose ``where`` columns equal the given text values and whose
    ``key`` is one of ``keys`` (text), as the driver's tuples, in one query."""
    wanted = sorted(set(keys))
    if not wanted:
        return []
    dialect = session.get_bind().dialect
    sql = _statement(table, dialect, tuple(columns), tuple(where), key)
    listed: Any = wanted if dialect.name == "postgresql" else dumps_text(wanted)
    result = session.connection().exec_driver_sql(sql, (*where.values(), listed))
    return [tuple(row) for row in result]
