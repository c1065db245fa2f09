"""One multi-row INSERT ... ON CONFLICT for SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert
from sqlmodel import Session

_INSERTS: dict[str, Callable[..., Any]] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


@lru_cache(maxsize=64)
def _statement(table: Any, dialect: str, keys: tuple[str, ...], update: tuple[str, ...]) -> Insert:
    # Built once per shape: constructing `excluded` and the statement's cache key costs more than the rows.
    stmt = _INSERTS[dialect](table.__table__)
    statement: Insert = stmt.on_conflict_do_update(
        index_elements=list(keys), set_={n: stmt.excluded[n] for n in update}
    )
    return statement


def upsert(
    session: Session,
    table: Any,
    rows: Sequence[Mapping[str, Any]],
    *,
    keys: Sequence[str],
    update: Mapping[str, Any] | Sequence[str],
    where: Any = None,
) -> None:
    """Insert ``rows`` in one executemany; on a ``keys`` conflict set the ``update`` columns.

    ``update`` is a list of column names (take the new value) or a mapping of name → value, where a value
    may be a function of the ``excluded`` pseudo-table (e.g. ``lambda new: new.attempts``). ``where`` (mapping
    form only), a condition on the stored row, leaves a conflicting row alone when it is false.
    """
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    if isinstance(update, Mapping):
        stmt = _INSERTS[dialect](table.__table__)
        values = {name: (expr(stmt.excluded) if callable(expr) else expr) for name, expr in update.items()}
        conflict = stmt.on_conflict_do_update(index_elements=list(keys), set_=values, where=where)
        session.execute(conflict, list(rows))
        return
    assert where is None, "where needs the mapping form of update"
    session.execute(_statement(table, dialect, tuple(keys), tuple(update)), list(rows))
