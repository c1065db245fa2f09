"""`catalog-sync demo`: a full then an incremental sync against the built-in sandbox, with summaries."""

from __future__ import annotations

import os
import time
from typing import Any

from catalog_sync.runner import print_summary
from sync_core.errors import SyncError

# The sandbox has no real rate limit; unless RATE_LIMIT_PER_MIN says otherwise, the demo paces at 50
# requests/s per connection.
DEMO_RATE_LIMIT_PER_MIN = 3000


def run_demo(*, products: int, variants: int, change: int, database_url: str) -> int:
    """Start the sandbox, sync everything, change a few variants, sync the changes, check the store."""
    from flows.sync_products import sync_products
    from sync_core.db import describe, upgrade
    from sync_core.engine.context import pinned
    from sync_core.sandbox.catalogue import SandboxConfig
    from sync_core.sandbox.server import running_sandbox
    from sync_core.settings import load_settings

    config = SandboxConfig(products=products, variants=variants)
    pace = {} if os.environ.get("RATE_LIMIT_PER_MIN") else {"rate_limit_per_min": DEMO_RATE_LIMIT_PER_MIN}
    with running_sandbox(config) as sandbox:
        settings = load_settings(**sandbox.settings(), database_url=database_url, **pace)
        upgrade(settings.database_url)

        print(
            f"sandbox: {products} products x {variants} variants at {sandbox.url}; "
            f"database {describe(settings.database_url)}",
            flush=True,
        )
        started = time.perf_counter()
        with pinned(settings):  # the flows' runs use these settings, not the environment's
            full = _ran(sync_products(scope="full"))
            print("\n== full sync ==")
            print_summary(full)
            print(f"  sandbox      {_writes(sandbox.state.stats())}")

            sandbox.state.reset_stats()
            sandbox.state.mutate(change, seed=7)
            incremental = _ran(sync_products(scope="incremental"))
            print(f"\n== incremental sync after {change} variants changed ==")
            print_summary(incremental)
            print(f"  sandbox      {_writes(sandbox.state.stats())}")

        report = sandbox.verify(settings)
        print(
            f"\nstore check: {report.correct} linked variants correct, {len(report.wrong)} wrong "
            f"({time.perf_counter() - started:.1f} s in all)"
        )
        ok = report.ok and full["status"] != "failed" and incremental["status"] != "failed"
        return 0 if ok else 1


def _ran(returned: Any) -> dict[str, Any]:
    """A run's summary; SyncError when the flow ended without running (another run held the lease)."""
    if not isinstance(returned, dict):
        raise SyncError(f"the demo's sync did not run: {getattr(returned, 'message', returned)}")
    return returned


def _writes(stats: dict[str, object]) -> str:
    return (
        f"{stats.get('requests_total', stats.get('requests'))} requests received, "
        f"{stats.get('variant_writes')} variant values written, {stats.get('noop_writes')} of them no-ops"
    )
