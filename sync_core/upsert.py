"""One multi-row INSERT ... ON CONFLICT for SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session


def upsert(
    session: Session,
    table: Any,
    rows: Sequence[Mapping[str, Any]],
    *,
    keys: Sequence[str],
    update: Mapping[str, Any] | Sequence[str],
) -> None:
    """Insert ``rows``; on a ``keys`` conflict set the ``update`` columns.

    ``update`` is a list of column names (take the new value) or a mapping of name → value, where a value
    may be a function of the ``excluded`` pseudo-table (e.g. ``lambda new: Failure.attempts + 1``).
    """
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table.__table__)
    if isinstance(update, Mapping):
        values = {name: (expr(stmt.excluded) if callable(expr) else expr) for name, expr in update.items()}
    else:
        values = {name: stmt.excluded[name] for name in update}
    session.execute(stmt.on_conflict_do_update(index_elements=list(keys), set_=values), list(rows))
