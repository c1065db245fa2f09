"""sync-ingram end to end against the sandbox's Ingram Micro simulator, checked against its oracle: 50-part
batches, details only when new or stale, a concurrency cap, faults (5xx, a token expiring mid-run, 429s,
207 items), replay of unknown parts until dead, and no secret anywhere it could be read."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import select

from flows.maintenance import retry_failures
from flows.sync_ingram import sync_ingram
from sync_core.db import session_scope
from sync_core.pipelines.ingram.tables import IngramProduct
from sync_core.pipelines.ingram.tracking import track
from sync_core.sandbox.catalogue import SandboxConfig
from sync_core.sandbox.ingram_oracle import verify_ingram_table
from sync_core.sandbox.server import SandboxHandle
from sync_core.tables import ExternalRequest, Failure, JournalEntry, SyncRun
from tests.flows.conftest import ingram_env, sandbox_env

pytestmark = pytest.mark.e2e
# The slowest cases on PostgreSQL only (production's store); tests/flows/test_fault_matrix.py drives every
# pipeline through each fault on SQLite.
PIPELINE = "ingram-catalogue"


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(products=2, variants=1, seed=5, ingram_parts=130)


@pytest.fixture(autouse=True)
def ingram_settings(sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ingram_env(sandbox).items():
        monkeypatch.setenv(name, value)


def track_parts(sandbox: SandboxHandle, db_url: str, known: int, unknown: int = 0) -> list[str]:
    parts = sandbox.state.ingram_parts[:known] + sandbox.state.ingram.unknown_parts(unknown)
    track(db_url, {part: "test" for part in parts})
    return parts


def rows(db_url: str) -> list[dict[str, Any]]:
    with session_scope(db_url) as session:
        return [row.model_dump() for row in session.exec(select(IngramProduct))]


def ingram_stats(sandbox: SandboxHandle) -> dict[str, Any]:
    stats: dict[str, Any] = sandbox.state.stats()["ingram"]
    return stats


def open_failures(db_url: str) -> dict[str, Failure]:
    with session_scope(db_url) as session:
        query = select(Failure).where(Failure.pipeline == PIPELINE, Failure.status != "resolved")
        return {f.item_key: f for f in session.exec(query)}


def test_a_first_run_prices_and_details_everything_then_a_second_writes_only_changes(
    sync_env: SandboxHandle, db_url: str
) -> None:
    parts = track_parts(sync_env, db_url, known=120, unknown=5)

    first = sync_ingram(force=True)
    assert first["status"] == "partial", first
    report = verify_ingram_table(sync_env.state, rows(db_url), parts, details=True)
    assert report.ok, report.to_json()
    stats = ingram_stats(sync_env)
    assert stats["pna"]["calls"] == 3  # ⌈125 / 50⌉
    assert stats["details"]["calls"] == 120  # the unknown parts were never priced
    assert (first["pushed"], first["failed"], first["priced"], first["details"]) == (120, 5, 120, 120)
    failures = open_failures(db_url)
    assert set(failures) == set(parts[-5:])
    assert {f.context for f in failures.values()} == {"pna"}
    assert all(f.last_error and f.reason == "unknown-part" for f in failures.values())

    sync_env.state.reset_stats()
    changed = sync_env.state.change_ingram(7, seed=3)
    second = sync_ingram(force=True)
    stats = ingram_stats(sync_env)
    assert (stats["pna"]["calls"], stats["details"]["calls"]) == (3, 0)  # details are fresh
    assert (
        second["pushed"] == len(set(changed) & set(parts)) and second["unchanged"] == 120 - second["pushed"]
    )
    assert verify_ingram_table(sync_env.state, rows(db_url), parts, details=True).ok


def test_a_run_soon_after_another_is_skipped_and_says_so(sync_env: SandboxHandle, db_url: str) -> None:
    track_parts(sync_env, db_url, known=10)
    assert sync_ingram(force=True)["status"] == "success"
    skipped = sync_ingram()
    assert skipped["status"] == "skipped"
    assert "INGRAM_MIN_INTERVAL_MIN" in skipped["reason"] and "--force" in skipped["reason"]
    with session_scope(db_url) as session:
        assert len(session.exec(select(SyncRun).where(SyncRun.pipeline == PIPELINE)).all()) == 1


def test_max_concurrent_caps_the_calls_in_flight(sync_env: SandboxHandle, db_url: str) -> None:
    track_parts(sync_env, db_url, known=120)
    sync_env.state.configure(latency_ms=60)
    summary = sync_ingram(batch_size=10, max_concurrent=3, details=False, force=True)
    assert summary["status"] == "success"
    pna = ingram_stats(sync_env)["pna"]
    assert pna["calls"] == 12
    assert pna["max_in_flight"] == 3  # reached, never passed
    assert ingram_stats(sync_env)["details"]["calls"] == 0


@pytest.fixture
def faulty_config() -> SandboxConfig:
    return SandboxConfig(
        products=2,
        variants=1,
        seed=9,
        ingram_parts=130,
        fault_rate=0.05,
        burst_429_every=17,
        burst_429_length=2,
        latency_ms=5,
    )


@pytest.mark.parametrize("db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_faults_end_correct_with_the_providers_messages_and_no_secret_stored(
    faulty_config: SandboxConfig,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
    prefect_server: None,
) -> None:
    from sync_core.sandbox.server import running_sandbox

    monkeypatch.chdir(tmp_path)
    with running_sandbox(faulty_config) as sandbox:
        for name, value in (sandbox_env(sandbox, db_url) | ingram_env(sandbox)).items():
            monkeypatch.setenv(name, value)
        parts = track_parts(sandbox, db_url, known=100, unknown=4)
        with expiring_tokens(sandbox, after_details=(10, 60)):  # twice in the middle of the run
            summary = sync_ingram(batch_size=20, force=True)
        assert summary["status"] == "partial", summary
        assert verify_ingram_table(sandbox.state, rows(db_url), parts, details=True).ok
        stats = ingram_stats(sandbox)
        assert stats["token"]["calls"] >= 3  # a new token after each expiry
        assert stats["answers_207"] >= 1
        assert stats["correlation_ids"] == stats["correlation_ids_distinct"]  # new per attempt
        failures = open_failures(db_url)
        assert set(failures) == set(parts[-4:])
        assert all(
            "IngramPartNumber" in f.last_error or "not found" in f.last_error.lower()
            for f in failures.values()
        )
        secrets = [sandbox.state.config.ingram_client_secret, *sandbox.state.ingram.tokens_issued]
    with session_scope(db_url) as session:
        text = " ".join(
            str(value)
            for table in (ExternalRequest, Failure, JournalEntry, SyncRun)
            for row in session.execute(sa.select(table)).all()
            for value in row[0].model_dump().values()
        )
    assert not [secret for secret in secrets if secret in text]
    correlation_ids = {r for (r,) in _column(db_url, ExternalRequest.correlation_id)}
    assert len(correlation_ids) == _count(db_url, ExternalRequest)


@contextmanager
def expiring_tokens(sandbox: SandboxHandle, *, after_details: tuple[int, ...]) -> Iterator[None]:
    """The sandbox expires every token it issued once the run has made each of these numbers of details
    calls: the connector meets a 401 mid-run and must get a new token."""
    done = threading.Event()

    def expire() -> None:
        for calls in after_details:
            while not done.is_set() and ingram_stats(sandbox)["details"]["calls"] < calls:
                time.sleep(0.01)
            sandbox.state.ingram.expire_tokens()

    thread = threading.Thread(target=expire, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def _column(db_url: str, column: Any) -> list[tuple[Any]]:
    with session_scope(db_url) as session:
        return [tuple(r) for r in session.execute(sa.select(column)).all()]


def _count(db_url: str, table: Any) -> int:
    with session_scope(db_url) as session:
        return int(session.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_retry_failures_asks_again_for_unknown_parts_until_they_are_dead(
    sync_env: SandboxHandle, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAILURE_MAX_ATTEMPTS", "2")
    parts = track_parts(sync_env, db_url, known=10, unknown=2)
    assert sync_ingram(force=True)["failed"] == 2
    sync_env.state.reset_stats()

    replay = retry_failures(pipeline=PIPELINE)
    assert replay["scope"] == "retry" and replay["failed"] == 2
    assert ingram_stats(sync_env)["pna"]["calls"] == 1  # only the failed parts, in one call
    assert {f.status for f in open_failures(db_url).values()} == {"dead"}
    assert set(open_failures(db_url)) == set(parts[-2:])

    sync_env.state.reset_stats()
    assert retry_failures(pipeline=PIPELINE)["fetched"] == 0  # dead parts are not asked again
    assert ingram_stats(sync_env)["pna"]["calls"] == 0
