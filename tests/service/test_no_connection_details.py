"""With the database down, no answer names its user, host, port or database, nor quotes the driver; the log does."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from catalog_sync.service.errors import STORE_UNAVAILABLE
from sync_core.settings import Settings
from tests.service import seed

PATHS = ["/health", "/runs", "/failures", "/search", "/metrics"]


def answers(client: TestClient) -> dict[str, str]:
    return {path: client.get(path).text for path in PATHS}


def assert_reveals_none(texts: dict[str, str], *secrets: str) -> None:
    for path, text in texts.items():
        for secret in (*secrets, "connection to server", "postgresql", "psycopg", "FATAL"):
            assert secret not in text, f"{path} reveals {secret!r}: {text}"


def test_a_closed_port_is_not_described(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    down = seed.unreachable_settings(settings)  # postgresql+psycopg://nobody:secretpw@127.0.0.1:<port>/gone
    port = sa.engine.make_url(down.database_url).port
    texts = answers(seed.client_for(down))
    assert_reveals_none(
        texts, "nobody", "secretpw", "127.0.0.1", f":{port}", f"port {port}", "/gone", '"gone"'
    )
    health = seed.client_for(down).get("/health").json()
    assert health == {
        "healthy": False,
        "checked_at": health["checked_at"],
        "database": "unreachable",
        "problems": [STORE_UNAVAILABLE],
    }
    assert (
        f"port {port} failed" in caplog.text and "nobody:***@127.0.0.1" in caplog.text
    )  # in full, but for the password
    assert "secretpw" not in caplog.text


@pytest.mark.parametrize("db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_a_refusing_server_is_not_quoted(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    """A live PostgreSQL that refuses the login: its message names the role and the server."""
    real = sa.engine.make_url(settings.database_url)
    refused = real.set(username="leaky_role", database="leaky_db").render_as_string(hide_password=False)
    client = seed.client_for(settings.model_copy(update={"database_url": refused}))
    texts = answers(client)
    assert_reveals_none(texts, "leaky_role", "leaky_db", f"{real.host}", f"{real.port}")
    assert client.get("/health").json()["problems"] == [STORE_UNAVAILABLE]
    assert client.get("/runs").json()["error"] == {"code": "unavailable", "message": STORE_UNAVAILABLE}
    assert 'role "leaky_role" does not exist' in caplog.text


def test_a_store_failing_mid_report_is_not_quoted(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from catalog_sync.service import operations
    from sync_core.errors import PersistenceError

    def failing(_settings: Settings) -> dict[str, object]:
        raise PersistenceError("database error on postgresql+psycopg://nobody@db.internal:5433/gone: timeout")

    monkeypatch.setattr(operations, "health_report", failing)
    response = seed.client_for(settings).get("/health")
    assert response.status_code == 503
    assert response.json()["database"] == "error" and response.json()["problems"] == [STORE_UNAVAILABLE]
    assert "db.internal" not in response.text and "db.internal" in caplog.text
