"""Engine creation, migrations and sessions for SQLite and PostgreSQL alike."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError
from sqlmodel import Session

from sync_core import json_codec
from sync_core.errors import ConfigError, PersistenceError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
HEAD_REVISION = "0007"  # the newest migration's revision (tests/store checks it against alembic's head)
T = TypeVar("T")
JSON_CODEC: dict[str, Any] = {"json_serializer": json_codec.dumps_text, "json_deserializer": json_codec.loads}
IN_CHUNK = 500  # keeps IN lists well under SQLite's and PostgreSQL's parameter limits


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the health probe read while a sync writes; busy_timeout rides out short write locks.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    """One pooled engine per URL; raises ConfigError for a malformed URL."""
    try:
        url_obj = sa.engine.make_url(url)
    except (ArgumentError, ValueError) as exc:  # ValueError: a port that is not a number
        raise ConfigError(
            f"invalid DATABASE_URL {_without_password(url)!r}: expected sqlite:///path or "
            f"postgresql+psycopg://user@host:port/name ({exc})"
        ) from None
    if url_obj.get_backend_name() == "sqlite":
        database = url_obj.database or ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url_obj, connect_args={"check_same_thread": False, "timeout": 30}, **JSON_CODEC
        )
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    try:
        return sa.create_engine(url_obj, pool_pre_ping=True, pool_size=5, max_overflow=5, **JSON_CODEC)
    except NoSuchModuleError:
        raise ConfigError(f"unsupported DATABASE_URL driver {url_obj.drivername!r}") from None


def _without_password(url: str) -> str:
    return re.sub(r"(//[^:/@]*):[^@]*@", r"\1:***@", url)


def describe(url: str) -> str:
    """The URL with its password hidden, for messages."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return _without_password(url)


def check_connection(url: str) -> None:
    """Open and close a connection; raise PersistenceError with a one-line reason."""
    try:
        with get_engine(url).connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc).splitlines()[0]
        raise PersistenceError(f"cannot reach the database at {describe(url)}: {reason}") from None


def refresh_statistics(url: str, tables: tuple[str, ...]) -> None:
    """ANALYZE tables that a bulk load just filled (PostgreSQL only).

    Without it the planner still believes a freshly filled table is tiny and answers every page's
    ``source_key IN (...)`` lookup with a sequential scan: about a second each at 60,000 links.
    """
    engine = get_engine(url)
    if engine.dialect.name != "postgresql":
        return
    with engine.begin() as conn:
        conn.execute(sa.text("ANALYZE " + ", ".join(tables)))


def current_revision(url: str) -> str | None:
    """The migration the database is at (None: none yet)."""
    try:
        with get_engine(url).connect() as conn:
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError:  # no alembic_version table: a new database
        return None


def upgrade(url: str) -> None:
    """Apply every pending migration (idempotent). A database already at HEAD_REVISION costs one query, not
    alembic's start-up (every run calls this)."""
    check_connection(url)
    if current_revision(url) == HEAD_REVISION:
        return
    from alembic import command
    from alembic.config import Config

    engine = get_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except SQLAlchemyError as exc:
        raise PersistenceError(f"migration failed on {describe(url)}: {str(exc).splitlines()[0]}") from exc


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session committed on success and rolled back on error; DB errors become PersistenceError."""
    session = Session(get_engine(url), expire_on_commit=False)
    try:
        yield session
        session.commit()
    except OperationalError as exc:
        session.rollback()
        raise PersistenceError(
            f"database error on {describe(url)}: {str(exc.orig or exc).splitlines()[0]}"
        ) from exc
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def in_chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    """``items`` in slices of IN_CHUNK, one IN list each."""
    for start in range(0, len(items), IN_CHUNK):
        yield items[start : start + IN_CHUNK]
