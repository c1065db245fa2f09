"""`catalog-sync demo`: a full then an incremental sync against the built-in sandbox, with summaries."""

from __future__ import annotations

import os
import time
from unittest.mock import patch

from catalog_sync.runner import print_summary


def run_demo(*, products: int, variants: int, change: int, database_url: str) -> int:
    """Start the sandbox, sync everything, change a few variants, sync the changes, check the store."""
    from flows.sync_products import sync_products
    from sync_core.db import describe, upgrade
    from sync_core.sandbox.catalogue import SandboxConfig
    from sync_core.sandbox.server import running_sandbox
    from sync_core.sandbox.verify import verify_store
    from sync_core.settings import load_settings

    config = SandboxConfig(products=products, variants=variants)
    with (
        running_sandbox(config) as sandbox,
        patch.dict(
            os.environ,
            {
                "ANAR360_BASE": sandbox.anar360_base,
                "ANAR360_TOKEN": sandbox.anar360_token,
                "SAZITO_BASE": sandbox.sazito_base,
                "SAZITO_KEY": sandbox.sazito_key,
                "DATABASE_URL": database_url,
                # The sandbox has no real rate limit; the demo paces at 50 requests/s per provider.
                "RATE_LIMIT_PER_MIN": os.environ.get("RATE_LIMIT_PER_MIN", "3000"),
            },
        ),
    ):
        settings = load_settings()
        upgrade(settings.database_url)

        print(
            f"sandbox: {products} products x {variants} variants at {sandbox.url}; "
            f"database {describe(settings.database_url)}",
            flush=True,
        )
        started = time.perf_counter()
        full = sync_products(scope="full")
        print("\n== full sync ==")
        print_summary(full)
        print(f"  sandbox      {_writes(sandbox.state.stats())}")

        sandbox.state.reset_stats()
        sandbox.state.mutate(change, seed=7)
        incremental = sync_products(scope="incremental")
        print(f"\n== incremental sync after {change} variants changed ==")
        print_summary(incremental)
        print(f"  sandbox      {_writes(sandbox.state.stats())}")

        report = verify_store(
            sandbox.state, settings.sazito_price_multiplier, settings.sazito_price_markup_percent
        )
        print(
            f"\nstore check: {report.correct} linked variants correct, {len(report.wrong)} wrong "
            f"({time.perf_counter() - started:.1f} s in all)"
        )
        ok = report.ok and full["status"] != "failed" and incremental["status"] != "failed"
        return 0 if ok else 1


def _writes(stats: dict[str, object]) -> str:
    return (
        f"{stats.get('requests_total', stats.get('requests'))} requests received, "
        f"{stats.get('variant_writes')} variant values written, {stats.get('noop_writes')} of them no-ops"
    )
