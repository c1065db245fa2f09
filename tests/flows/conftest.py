"""Flows end to end: a Prefect test server for the session, a fresh sandbox and state store per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.testing.utilities import prefect_test_harness

from sync_core.sandbox.catalogue import SandboxConfig
from sync_core.sandbox.server import SandboxHandle, running_sandbox


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    with prefect_test_harness(server_startup_timeout=60):
        yield


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    """Override in a test module (or parametrize) for other knobs."""
    return SandboxConfig(products=40, variants=3, seed=3, bad_record_fraction=0.05)


@pytest.fixture
def sandbox(sandbox_config: SandboxConfig) -> Iterator[SandboxHandle]:
    with running_sandbox(sandbox_config) as handle:
        yield handle


def ingram_env(sandbox: SandboxHandle) -> dict[str, str]:
    """The Ingram settings that point at the sandbox, paced as fast as it answers."""
    return {
        **{name.upper(): value for name, value in sandbox.settings().items() if name.startswith("ingram_")},
        "INGRAM_PNA_RATE_PER_MIN": "60000",
        "INGRAM_DETAILS_RATE_PER_MIN": "60000",
    }


def sandbox_env(sandbox: SandboxHandle, db_url: str) -> dict[str, str]:
    """The environment a worker would have, pointed at the sandbox (its Anar360 and Sazito)."""
    return {
        "ANAR360_BASE": sandbox.anar360_base,
        "ANAR360_TOKEN": sandbox.anar360_token,
        "SAZITO_BASE": sandbox.sazito_base,
        "SAZITO_KEY": sandbox.sazito_key,
        "DATABASE_URL": db_url,
        "HTTP_RETRY_BACKOFF_MS": "5",
        "HTTP_RETRY_MAX_WAIT_S": "2",
        "RATE_LIMIT_PER_MIN": "60000",
        "SYNC_PAGE_LIMIT": "25",
        "SAZITO_PAGE_SIZE": "50",
        "FAILURE_RETRY_BASE_S": "0",
        # A killed run's lease lapses in seconds, so the run after it does not wait a minute.
        "RUN_LEASE_TTL_S": "5",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }


@pytest.fixture
def sync_env(
    sandbox: SandboxHandle, db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, prefect_server: None
) -> SandboxHandle:
    """Settings (read by the tasks from the environment) aimed at the sandbox and the test database."""
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    for name, value in sandbox_env(sandbox, db_url).items():
        monkeypatch.setenv(name, value)
    return sandbox


@pytest.fixture
def quick_task_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tasks' Prefect retries (2 s, then 10 s) without the waits."""
    import sys

    from prefect.tasks import Task

    for name, module in list(sys.modules.items()):
        if name.split(".")[0] in ("tasks", "flows", "sync_core"):
            for value in list(vars(module).values()):
                if isinstance(value, Task) and value.retry_delay_seconds:
                    monkeypatch.setattr(value, "retry_delay_seconds", [0.0, 0.0])


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The fault matrix (tests/flows/test_fault_matrix.py) as a table, when it ran."""
    from tests.flows.test_fault_matrix import MATRIX

    if not MATRIX:
        return
    write = terminalreporter.write_line
    terminalreporter.section("fault matrix")
    header = ("pipeline", "fault", "hit", "faulted run", "next run", "oracle", "twice", "seconds")
    widths = (30, 14, 4, 18, 16, 7, 6, 10)
    write("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    for row in sorted(MATRIX, key=lambda r: (r.pipeline, r.fault)):
        cells = (
            row.pipeline,
            row.fault,
            str(row.spoiled),
            row.first,
            row.second,
            "equal" if row.converged else "DIFFERS",
            str(row.twice),
            f"{row.seconds[0]:.1f}+{row.seconds[1]:.1f}",
        )
        write("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)))
