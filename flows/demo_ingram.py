"""`catalog-sync demo --pipeline ingram`: the Ingram pipeline against the built-in sandbox — track its part
numbers (and a few it does not know), price and detail them, change some, run again within the details age,
and check the table against the sandbox's oracle."""

from __future__ import annotations

import os
import time
from typing import Any

from catalog_sync.runner import print_summary
from sync_core.errors import SyncError

# The sandbox's endpoints answer as fast as the machine allows; unless the INGRAM_*_RATE_PER_MIN settings
# say otherwise, the demo paces each at 50 calls a second.
DEMO_RATE_PER_MIN = 3000
UNKNOWN_PARTS = 3


def run_demo(*, products: int, change: int, database_url: str) -> int:
    """``products`` tracked parts; ``change`` of them changed before the second run. Exit code."""
    from flows.sync_ingram import sync_ingram
    from sync_core.db import describe, upgrade
    from sync_core.engine.context import pinned
    from sync_core.pipelines.ingram.tracking import track, tracked_numbers
    from sync_core.sandbox.catalogue import SandboxConfig
    from sync_core.sandbox.ingram_oracle import verify_ingram_table
    from sync_core.sandbox.server import running_sandbox
    from sync_core.settings import load_settings

    pace = {
        name: DEMO_RATE_PER_MIN
        for name in ("ingram_pna_rate_per_min", "ingram_details_rate_per_min")
        if not os.environ.get(name.upper())
    }
    with running_sandbox(SandboxConfig(products=1, ingram_parts=products)) as sandbox:
        settings = load_settings(**sandbox.settings(), database_url=database_url, **pace)
        upgrade(settings.database_url)
        parts = sandbox.state.ingram_parts + sandbox.state.ingram.unknown_parts(UNKNOWN_PARTS)
        track(settings.database_url, {part: "demo" for part in parts})
        print(
            f"sandbox: {products} Ingram parts (+{UNKNOWN_PARTS} unknown ones tracked) at {sandbox.url}; "
            f"database {describe(settings.database_url)}",
            flush=True,
        )
        started = time.perf_counter()
        with pinned(settings):
            first = _ran(sync_ingram(force=True))
            print("\n== first run: prices, then details of every new part ==")
            print_summary(first)
            print(f"  sandbox      {_calls(sandbox.state.stats())}")

            sandbox.state.reset_stats()
            sandbox.state.change_ingram(change, seed=7)
            second = _ran(sync_ingram(force=True))
            print(f"\n== second run after {change} parts changed (details are fresh: not fetched again) ==")
            print_summary(second)
            print(f"  sandbox      {_calls(sandbox.state.stats())}")

        rows = _rows(settings.database_url)
        report = verify_ingram_table(
            sandbox.state, rows, tracked_numbers(settings.database_url), details=True
        )
        print(
            f"\ntable check: {report.correct} rows as the oracle says, {len(report.wrong)} wrong, "
            f"{len(report.missing)} missing ({time.perf_counter() - started:.1f} s in all)"
        )
        return 0 if report.ok and "failed" not in (first["status"], second["status"]) else 1


def _rows(url: str) -> list[dict[str, Any]]:
    from sqlmodel import select

    from sync_core.db import session_scope
    from sync_core.pipelines.ingram.tables import IngramProduct

    with session_scope(url) as session:
        return [row.model_dump() for row in session.exec(select(IngramProduct))]


def _ran(returned: Any) -> dict[str, Any]:
    if not isinstance(returned, dict) or returned.get("status") == "skipped":
        raise SyncError(f"the demo's sync did not run: {getattr(returned, 'message', returned)}")
    return returned


def _calls(stats: dict[str, Any]) -> str:
    calls = stats["ingram"]
    return ", ".join(f"{calls[name]['calls']} {name} calls" for name in ("token", "pna", "details"))
