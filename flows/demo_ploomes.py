"""`catalog-sync demo --pipeline ploomes`: the Ploomes pipeline against the built-in sandbox — a batch read of
every product, a change to some and a deletion, an incremental run (auto), a real-time run for two ids, and the
table checked against the sandbox's oracle."""

from __future__ import annotations

import os
import time
from typing import Any

from catalog_sync.runner import print_summary
from sync_core.errors import SyncError

# The sandbox answers as fast as the machine allows; unless PLOOMES_RATE_PER_S says otherwise, the demo paces
# at 50 calls a second.
DEMO_RATE_PER_S = 50.0
DELETED = 2


def run_demo(*, products: int, change: int, database_url: str) -> int:
    """``products`` Ploomes products; ``change`` of them changed (and two deleted) before the incremental run.
    Exit code."""
    from flows.sync_ploomes import sync_ploomes
    from sync_core.db import describe, upgrade
    from sync_core.engine.context import pinned
    from sync_core.sandbox.catalogue import SandboxConfig
    from sync_core.sandbox.ploomes_oracle import verify_ploomes_table
    from sync_core.sandbox.server import running_sandbox
    from sync_core.settings import load_settings

    pace = {} if os.environ.get("PLOOMES_RATE_PER_S") else {"ploomes_rate_per_s": DEMO_RATE_PER_S}
    with running_sandbox(SandboxConfig(products=1, ploomes_products=products)) as sandbox:
        settings = load_settings(**sandbox.settings(), database_url=database_url, **pace)
        upgrade(settings.database_url)
        ploomes = sandbox.state.ploomes
        print(
            f"sandbox: {products} Ploomes products at {sandbox.url}; database {describe(settings.database_url)}",
            flush=True,
        )
        started = time.perf_counter()
        with pinned(settings):
            batch = _ran(sync_ploomes(strategy="auto"))
            print("\n== first run (auto: no successful sync yet, so batch) ==")
            print_summary(batch)
            print(f"  sandbox      {_calls(ploomes.stats())}")

            ploomes.reset_stats()
            ploomes.change(count=change, seed=7)
            ploomes.delete(count=DELETED)
            incremental = _ran(sync_ploomes(strategy="auto"))
            print(f"\n== second run after {change} products changed (auto: incremental) ==")
            print_summary(incremental)
            print(f"  sandbox      {_calls(ploomes.stats())}")

            ploomes.reset_stats()
            ids = ploomes.change(count=2, seed=8)
            real_time = _ran(sync_ploomes(ids=ids))
            print(f"\n== real-time run for products {', '.join(map(str, ids))} (a webhook's run) ==")
            print_summary(real_time)
            print(f"  sandbox      {_calls(ploomes.stats())}")
            batch_again = _ran(sync_ploomes(strategy="batch"))
            print(f"\n== batch: {batch_again['deactivated']} deleted products marked inactive ==")

        report = verify_ploomes_table(sandbox.state, _rows(settings.database_url))
        print(
            f"\ntable check: {report.correct} rows as the oracle says, {len(report.wrong)} wrong, "
            f"{len(report.missing)} missing ({time.perf_counter() - started:.1f} s in all)"
        )
        runs = (batch, incremental, real_time, batch_again)
        return 0 if report.ok and all(run["status"] != "failed" for run in runs) else 1


def _rows(url: str) -> list[dict[str, Any]]:
    from sqlmodel import select

    from sync_core.db import session_scope
    from sync_core.pipelines.ploomes.tables import PloomesProduct

    with session_scope(url) as session:
        return [row.model_dump() for row in session.exec(select(PloomesProduct))]


def _ran(returned: Any) -> dict[str, Any]:
    if not isinstance(returned, dict) or returned.get("status") == "skipped":
        raise SyncError(f"the demo's sync did not run: {getattr(returned, 'message', returned)}")
    return returned


def _calls(stats: dict[str, Any]) -> str:
    return f"{stats['requests_total']} calls ({len(stats['product_queries'])} for products)"
