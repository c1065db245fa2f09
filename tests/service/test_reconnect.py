"""The service rides out a PostgreSQL outage: 503 while it is away, 200 as soon as it returns."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from sync_core.db import get_engine
from sync_core.engine.registry import pipeline
from sync_core.settings import Settings
from tests.service import seed
from tests.service.tcp_proxy import TcpProxy

PIPELINE = pipeline("products").name  # the pipeline the `settings` fixture configures


@pytest.mark.parametrize("db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_health_recovers_when_the_database_returns(settings: Settings) -> None:
    real = sa.engine.make_url(settings.database_url)
    seed.run(settings.database_url, pipeline=PIPELINE)  # the configured pipeline has run: healthy
    with TcpProxy(real.host or "127.0.0.1", real.port or 5432) as proxy:
        proxied = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        client = seed.client_for(settings.model_copy(update={"database_url": proxied}))
        try:
            assert client.get("/health").status_code == 200  # the pool now holds a live connection

            proxy.stop()  # listener and every forwarded connection closed
            down = client.get("/health")
            assert down.status_code == 503 and down.json()["database"] == "unreachable"

            proxy.start()  # same port
            assert client.get("/health").status_code == 200

            # Away and back between two requests: the pooled connection is dead, pre-ping replaces it.
            assert get_engine(proxied).pool._pre_ping
            proxy.stop()
            proxy.start()
            assert client.get("/health").status_code == 200
        finally:
            get_engine(proxied).dispose()
