"""Shared fixtures: a state store on SQLite and on PostgreSQL, settings built directly, a Prefect harness."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

import sync_core.tables  # noqa: F401  (registers the tables)
from sync_core.db import get_engine, upgrade
from sync_core.settings import Settings

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

PG_URL = os.environ.get("CATALOG_SYNC_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("CATALOG_SYNC_REQUIRE_PG") == "1" or os.environ.get("CI") == "true"


def _pg_test_database() -> str | None:
    """Create a throw-away database next to PG_URL's; None when no server answers (skipped locally)."""
    admin_url = sa.engine.make_url(PG_URL)
    name = f"catalog_sync_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    except sa.exc.OperationalError as exc:
        if REQUIRE_PG:
            raise RuntimeError(f"PostgreSQL required in CI but unreachable at {PG_URL}: {exc}") from exc
        return None
    return admin_url.set(database=name).render_as_string(hide_password=False)


def _drop_pg_database(url: str) -> None:
    get_engine(url).dispose()
    admin = sa.create_engine(sa.engine.make_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        name = sa.engine.make_url(url).database
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def _pg_url() -> Iterator[str | None]:
    url = _pg_test_database()
    if url:
        upgrade(url)
    yield url
    if url:
        _drop_pg_database(url)


@pytest.fixture(scope="session")
def _sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'state.db'}"
    upgrade(url)
    return url


def _truncate(url: str) -> None:
    engine = get_engine(url)
    with engine.begin() as conn:
        for table in reversed(SQLModel.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, _sqlite_url: str, _pg_url: str | None) -> str:
    """An empty, migrated state store; every test using it runs on SQLite and on PostgreSQL."""
    if request.param == "postgres":
        if _pg_url is None:
            pytest.skip(f"no PostgreSQL at {PG_URL} (set CATALOG_SYNC_TEST_PG_URL); CI runs these")
        url = _pg_url
    else:
        url = _sqlite_url
    _truncate(url)
    return url


@pytest.fixture
def settings(db_url: str) -> Settings:
    """Settings for unit tests, independent of the environment and any .env file."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        anar360_base="http://anar360.test/api/360",
        anar360_token="t0ken-anar",
        sazito_base="http://shop.test/api/v1",
        sazito_key="k3y-sazito",
        database_url=db_url,
        http_retry_backoff_ms=0,
        rate_limit_per_min=100_000,
    )
