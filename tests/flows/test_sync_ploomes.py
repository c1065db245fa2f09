"""sync-ploomes end to end against the sandbox's Ploomes simulator, checked against its oracle: batch then
incremental (only the changed window read, only changed rows written, versions up), products changing while
a run reads (the next incremental repairs them), deletions (inactive, never deleted), real-time ids, auto,
one category, and webhook deliveries applied by real runs, also after Prefect was unreachable."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import select

from flows.sync_ploomes import sync_ploomes
from sync_core.db import session_scope
from sync_core.errors import ConfigError
from sync_core.pipelines.ploomes import inbox
from sync_core.pipelines.ploomes.drain import Outcome, drain_once, run_flow
from sync_core.pipelines.ploomes.tables import PloomesProduct
from sync_core.sandbox.catalogue import SandboxConfig
from sync_core.sandbox.ploomes_oracle import verify_ploomes_table
from sync_core.sandbox.server import SandboxHandle
from sync_core.tables import SyncRun

pytestmark = pytest.mark.e2e
PRODUCTS = 650  # three pages of 300 (the server's cap), the last one short


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(products=2, variants=1, seed=7, ploomes_products=PRODUCTS, ploomes_shared_dates=0.3)


@pytest.fixture(autouse=True)
def ploomes_settings(sync_env: SandboxHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in sync_env.settings().items():
        if name.startswith("ploomes_"):
            monkeypatch.setenv(name.upper(), value)
    monkeypatch.setenv("PLOOMES_RATE_PER_S", "1000")


def rows(db_url: str) -> list[dict[str, Any]]:
    with session_scope(db_url) as session:
        return [row.model_dump() for row in session.exec(select(PloomesProduct))]


def by_id(db_url: str) -> dict[int, dict[str, Any]]:
    return {row["ploomes_id"]: row for row in rows(db_url)}


def ploomes(sandbox: SandboxHandle) -> Any:
    return sandbox.state.ploomes


def product_requests(sandbox: SandboxHandle) -> int:
    return int(ploomes(sandbox).stats()["requests"].get("GET /Products", 0))


def assert_oracle(sandbox: SandboxHandle, db_url: str) -> None:
    report = verify_ploomes_table(sandbox.state, rows(db_url))
    assert report.ok, report.to_json()


def test_batch_then_incremental_reads_only_the_changed_window_and_writes_only_changed_rows(
    sync_env: SandboxHandle, db_url: str
) -> None:
    first = sync_ploomes()  # auto: no successful sync yet, so batch
    assert first["status"] == "success", first
    assert (first["scope"], first["pushed"], first["inserted"]) == ("batch", PRODUCTS, PRODUCTS)
    assert_oracle(sync_env, db_url)
    assert {row["version"] for row in rows(db_url)} == {1}

    changed = ploomes(sync_env).change(fraction=0.01, seed=3)
    assert len(changed) == 6
    ploomes(sync_env).reset_stats()
    second = sync_ploomes()  # auto: the batch just succeeded, so incremental
    assert second["status"] == "success", second
    assert second["scope"] == "incremental"
    assert second["pushed"] == len(changed) and second["inserted"] == 0
    stats = ploomes(sync_env).stats()
    # The window's page and at most 3 more (here one: the page was short, so one more ask says it was the
    # last); besides them, the groups and families the rows are named by.
    assert len(stats["product_queries"]) <= 4, stats["product_queries"]
    assert all("LastUpdateDate" in q for q in stats["product_queries"]), stats["product_queries"]
    assert stats["products_served"] <= 2 * len(changed), stats
    assert_oracle(sync_env, db_url)
    versions = {pid: row["version"] for pid, row in by_id(db_url).items()}
    assert {versions[pid] for pid in changed} == {2}
    assert sum(v == 1 for v in versions.values()) == PRODUCTS - len(changed)

    third = sync_ploomes(strategy="incremental")
    assert (third["pushed"], third["status"]) == (0, "success")


def test_products_changing_while_a_run_reads_are_repaired_by_the_next_incremental(
    sync_env: SandboxHandle, db_url: str
) -> None:
    assert sync_ploomes(strategy="batch")["status"] == "success"
    sync_env.state.configure(ploomes_change_while_paging=25)
    moving = sync_ploomes(strategy="incremental")
    assert moving["status"] == "success", moving
    sync_env.state.configure(ploomes_change_while_paging=0)
    after = sync_ploomes(strategy="incremental")
    assert after["status"] == "success", after
    assert_oracle(sync_env, db_url)


def test_deleted_products_become_inactive_after_a_batch_and_come_back_when_recreated(
    sync_env: SandboxHandle, db_url: str
) -> None:
    assert sync_ploomes(strategy="batch")["status"] == "success"
    gone = [p.id for p in ploomes(sync_env).delete(count=5)]
    run = sync_ploomes(strategy="batch")
    assert run["status"] == "success" and run["deactivated"] == 5, run
    table = by_id(db_url)
    assert len(table) == PRODUCTS  # kept
    assert {pid for pid, row in table.items() if not row["active"]} == set(gone)
    assert {table[pid]["version"] for pid in gone} == {2}
    assert_oracle(sync_env, db_url)
    again = sync_ploomes(strategy="batch")
    assert (again["deactivated"], again["pushed"]) == (0, 0)


def test_real_time_syncs_the_ids_given_and_an_id_ploomes_no_longer_has_becomes_inactive(
    sync_env: SandboxHandle, db_url: str
) -> None:
    assert sync_ploomes(strategy="batch")["status"] == "success"
    ids = ploomes(sync_env).ids[:3]
    ploomes(sync_env).change(ids[:2], fields=["price"])
    ploomes(sync_env).delete([ids[2]])
    ploomes(sync_env).reset_stats()
    run = sync_ploomes(ids=ids)  # auto: real-time
    assert run["scope"] == "real-time", run
    assert (run["pushed"], run["deactivated"]) == (2, 1), run
    assert ploomes(sync_env).stats()["requests"].get("GET /Products") == 3  # one call an id
    assert_oracle(sync_env, db_url)


def test_one_category_reads_its_group_only_and_a_bad_category_is_one_line(
    sync_env: SandboxHandle, db_url: str
) -> None:
    names = sorted(
        {ploomes(sync_env).group_name(p.group_id) for p in ploomes(sync_env).products.values()} - {None}
    )
    run = sync_ploomes(strategy="batch", category=names[0].upper())
    assert run["status"] == "success", run
    assert {row["category"] for row in rows(db_url)} == {names[0]}
    with pytest.raises(ConfigError) as refused:
        sync_ploomes(strategy="batch", category=names[0][:-1] + "x")
    message = str(refused.value)
    assert "Ploomes has no product group (category)" in message and f"did you mean {names[0]!r}" in message


@pytest.mark.parametrize(
    ("params", "said"),
    [
        ({"strategy": "real-time"}, "give at least one"),
        ({"strategy": "real-time", "ids": list(range(1, 12))}, "at most 10 ids"),
        ({"strategy": "batch", "ids": [1]}, "not by id"),
        ({"ids": [1], "category": "Atlas"}, "not both"),
    ],
)
def test_parameters_a_strategy_cannot_take_are_refused_in_one_line(
    sync_env: SandboxHandle, params: dict[str, Any], said: str
) -> None:
    with pytest.raises(ConfigError, match=said):
        sync_ploomes(**params)


def test_webhook_deliveries_become_real_runs_and_wait_while_prefect_is_unreachable(
    sync_env: SandboxHandle, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sync_core.pipelines.ploomes.inbox import Delivery

    assert sync_ploomes(strategy="batch")["status"] == "success"
    state = ploomes(sync_env)
    ids = state.ids[:4]
    state.change(ids[:3], fields=["name"])
    state.delete([ids[3]])
    for pid in ids[:3]:
        inbox.keep(db_url, Delivery("Update", pid), {"Action": "Update"})
    inbox.keep(db_url, Delivery("Delete", ids[3]), {"Action": "Delete"})

    def unreachable(params: dict[str, Any]) -> Outcome:
        with monkeypatch.context() as patched:
            patched.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
            from prefect.settings import PREFECT_API_URL, temporary_settings

            with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}):
                return run_flow(params)

    waited = drain_once(db_url, unreachable, coalesce_s=0)
    assert waited is not None and not waited.applied
    assert inbox.counts(db_url)["pending"] == 4
    applied = drain_once(db_url, run_flow, coalesce_s=0)
    assert applied is not None and applied.applied, applied
    assert inbox.counts(db_url)["pending"] == 0
    assert_oracle(sync_env, db_url)
    with session_scope(db_url) as session:
        run = session.exec(select(SyncRun).where(SyncRun.id == applied.run_id)).one()
        settled = session.execute(
            sa.text("SELECT count(*) FROM ploomes_webhook_inbox WHERE run_id = :run"), {"run": run.id}
        ).scalar_one()
    assert (run.scope, run.pushed, settled) == ("real-time", 3, 4)


def test_a_hundred_deliveries_in_a_second_make_at_most_five_runs_and_forged_ones_change_nothing(
    sync_env: SandboxHandle, db_url: str
) -> None:
    import threading
    import time

    from catalog_sync.service import create_app
    from sync_core.pipelines.ploomes.drain import drain_forever
    from sync_core.sandbox.ploomes_webhooks import send_webhooks
    from sync_core.settings import load_settings

    assert sync_ploomes(strategy="batch")["status"] == "success"
    before = by_id(db_url)
    settings = load_settings()
    transport = httpx.ASGITransport(app=create_app(lambda: settings))  # into the app, no server needed
    forged = send_webhooks(
        sync_env.state,
        "Update",
        ids=ploomes(sync_env).ids[:5],
        forged=True,
        url="http://t/webhooks/ploomes",
        transport=transport,
    )
    assert by_id(db_url) == before and inbox.counts(db_url).get("forged") == 5, forged

    stop = threading.Event()
    drain = threading.Thread(target=drain_forever, args=(stop,), kwargs={"settings": settings})
    runs_before = len(runs(db_url))
    started = time.monotonic()
    ids = ploomes(sync_env).ids[:100]
    drain.start()
    try:
        for chunk in range(0, 100, 10):  # 100 deliveries spread over about a second
            sent = send_webhooks(
                sync_env.state,
                "Update",
                ids=ids[chunk : chunk + 10],
                url="http://t/webhooks/ploomes",
                transport=transport,
            )
            assert sent["counts"] == {"202": 10}, sent
            time.sleep(0.1)
        assert time.monotonic() - started < 2
        deadline = time.monotonic() + 120
        while inbox.counts(db_url)["pending"] and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        stop.set()
        drain.join(timeout=60)
    assert inbox.counts(db_url)["pending"] == 0
    made = runs(db_url)[runs_before:]
    assert 1 <= len(made) <= 5, [(r.scope, r.pushed) for r in made]
    assert sum(r.pushed for r in made) >= 100
    assert_oracle(sync_env, db_url)


def runs(db_url: str) -> list[SyncRun]:
    with session_scope(db_url) as session:
        return list(session.exec(select(SyncRun).order_by(SyncRun.id)))  # type: ignore[arg-type]


def test_a_dry_run_writes_nothing_and_marks_nothing_inactive(sync_env: SandboxHandle, db_url: str) -> None:
    assert sync_ploomes(strategy="batch")["status"] == "success"
    before = by_id(db_url)
    ploomes(sync_env).change(count=3, fields=["price"])
    ploomes(sync_env).delete(count=2)
    run = sync_ploomes(strategy="batch", dry_run=True)
    assert run["status"] == "success" and run["deactivated"] == 0, run
    assert by_id(db_url) == before
