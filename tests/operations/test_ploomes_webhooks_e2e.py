"""Ploomes webhooks through real processes: `catalog-sync serve` receives deliveries while its Prefect server is
stopped; they wait in the inbox and are applied once the server is back, with none lost. Forged deliveries
change nothing and are counted."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import select

from sync_core.db import get_engine, session_scope, upgrade
from sync_core.pipelines.ploomes.tables import PloomesProduct
from sync_core.sandbox.ploomes_oracle import compare_ploomes_rows, ploomes_oracle
from sync_core.sandbox.ploomes_webhooks import send_webhooks
from sync_core.sandbox.records import SandboxConfig
from sync_core.sandbox.server import SandboxHandle, running_sandbox
from tests.operations.processes import Process, free_port, http_ok, start, wait_until

pytestmark = [pytest.mark.e2e]


def _count(url: str, sql: str) -> int:
    with get_engine(url).connect() as conn:
        return int(conn.execute(sa.text(sql)).scalar() or 0)


def pending(url: str) -> int:
    return _count(url, "SELECT count(*) FROM ploomes_webhook_inbox WHERE applied_at IS NULL")


def rows(url: str) -> list[dict[str, Any]]:
    with session_scope(url) as session:
        return [row.model_dump() for row in session.exec(select(PloomesProduct))]


@pytest.fixture
def sandbox() -> Iterator[SandboxHandle]:
    with running_sandbox(SandboxConfig(products=1, ploomes_products=30, seed=9)) as handle:
        yield handle


def test_deliveries_wait_while_the_prefect_server_is_stopped_and_are_applied_when_it_returns(
    sandbox: SandboxHandle, db_url: str, tmp_path: Path
) -> None:
    upgrade(db_url)
    prefect_port, serve_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PLOOMES_"))}
    env.update(
        {name.upper(): value for name, value in sandbox.settings().items() if name.startswith("ploomes_")},
        PREFECT_HOME=str(tmp_path / "prefect-home"),
        PREFECT_API_URL=f"http://127.0.0.1:{prefect_port}/api",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PLOOMES_RATE_PER_S="1000",
        DATABASE_URL=db_url,
        LOG_FILE="",
    )
    server_command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1"]
    server_command += ["--port", str(prefect_port)]
    processes: list[Process] = []

    def start_server(name: str) -> Process:
        server = start(name, server_command, env=env, cwd=tmp_path, logs=tmp_path)
        processes.append(server)
        wait_until(lambda: http_ok(f"{env['PREFECT_API_URL']}/health"), timeout_s=120, what="the server")
        return server

    receiver = f"http://127.0.0.1:{serve_port}/webhooks/ploomes"
    try:
        server = start_server("prefect-server")
        serve = start(
            "serve",
            [sys.executable, "-m", "catalog_sync.cli", "serve", "--port", str(serve_port)],
            env=env,
            cwd=tmp_path,
            logs=tmp_path,
        )
        processes.append(serve)
        wait_until(lambda: _answers(serve_port), timeout_s=60, what="serve")
        ids = sandbox.state.ploomes.ids
        first = send_webhooks(sandbox.state, "Update", ids=ids[:2], url=receiver)
        assert first["counts"] == {"202": 2}, first
        wait_until(lambda: pending(db_url) == 0, timeout_s=120, what="the first deliveries", poll_s=0.2)

        server.stop()  # Prefect goes away: deliveries are still taken, and kept
        later = send_webhooks(sandbox.state, "Update", ids=ids[2:6], url=receiver)
        assert later["counts"] == {"202": 4}, later
        forged = send_webhooks(sandbox.state, "Update", ids=ids[6:8], url=receiver, forged=True)
        assert forged["counts"] == {"401": 2}, forged
        wait_until(
            lambda: _count(db_url, "SELECT count(*) FROM ploomes_webhook_inbox WHERE last_error IS NOT NULL"),
            timeout_s=60,
            what="a drain that failed for want of Prefect",
            poll_s=0.2,
        )
        assert pending(db_url) == 4

        start_server("prefect-server-again")
        wait_until(lambda: pending(db_url) == 0, timeout_s=150, what="the kept deliveries", poll_s=0.5)
        expected = ploomes_oracle(sandbox.state)
        report = compare_ploomes_rows({i: expected[i] for i in ids[:6]}, rows(db_url))
        assert report.ok, report.to_json()
        table = {row["ploomes_id"] for row in rows(db_url)}
        assert set(ids[:6]) <= table and not set(ids[6:8]) & table
        assert _count(db_url, "SELECT count FROM webhook_counts WHERE outcome = 'forged'") == 2
    except BaseException:
        print("\n".join(p.tail(60) for p in processes))
        raise
    finally:
        for process in reversed(processes):
            process.stop()


def _answers(port: int) -> bool:
    import httpx

    return httpx.get(f"http://127.0.0.1:{port}/docs", timeout=2).status_code == 200
