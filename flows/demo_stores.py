"""`catalog-sync demo --pipeline stores`: three sandbox stores (Shopify, WooCommerce, Sazito) added as
integrations, synced by sync-all-stores, changed (prices, a sale that moves no modification time, stock) and
synced again, low-stock alerts checked, the inventory compared with each store's oracle; then the dashboard's
URL (served with ``--serve`` until Ctrl-C, with the sandbox kept up so "Sync now" works)."""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import Any

from catalog_sync.runner import first_line
from sync_core.errors import SyncError

DEMO_WOO_RATE_PER_S = 50.0  # the sandbox answers as fast as the machine allows
DEMO_TOKEN = "demo-token"  # the dashboard's token when API_TOKEN is not set
THRESHOLD = 5
STORES = {"shopify": "demo-shopify", "woocommerce": "demo-woocommerce", "sazito": "demo-sazito"}


def run_demo(*, products: int, change: int, database_url: str, serve: bool = False) -> int:
    """``products`` items in each store; ``change`` of them changed before the second sync. Exit code."""
    from flows.check_alerts import check_alerts
    from flows.sync_stores import sync_all_stores, sync_store
    from sync_core.db import describe, upgrade
    from sync_core.engine.context import pinned
    from sync_core.pipelines.stores import integrations
    from sync_core.sandbox.catalogue import SandboxConfig
    from sync_core.sandbox.server import running_sandbox
    from sync_core.sandbox.store_oracles import compare_inventory, store_oracle
    from sync_core.settings import load_settings

    config = SandboxConfig(
        products=max(1, products // 3),
        variants=3,
        shopify_variants=products,
        woo_variants=products,
        shopify_restore_rate=1000,
    )
    pace: dict[str, Any] = {} if os.environ.get("WOO_RATE_PER_S") else {"woo_rate_per_s": DEMO_WOO_RATE_PER_S}
    if not os.environ.get("STORES_CONCURRENCY"):
        # One store at a time: the temporary Prefect server (SQLite) locks up under concurrent child runs.
        pace["stores_concurrency"] = 1
    with running_sandbox(config) as sandbox:
        token = os.environ.get("API_TOKEN") or DEMO_TOKEN
        settings = load_settings(database_url=database_url, api_token=token, **pace)
        upgrade(settings.database_url)
        for platform, name in STORES.items():
            url, credential = sandbox.stores[platform]
            variable = f"DEMO_{platform.upper()}_CREDENTIALS"
            os.environ[variable] = (
                credential  # this process only: integrations name the variable, never the secret
            )
            if integrations.find(settings.database_url, name) is not None:
                integrations.remove(settings.database_url, name)  # a former demo's sandbox is gone
            integrations.add(
                settings,
                integrations.NewIntegration(
                    name=name, platform=platform, store_url=url, credentials_env=variable, threshold=THRESHOLD
                ),
            )
        print(
            f"sandbox: 3 stores of about {products} items at {sandbox.url}; database {describe(database_url)}"
        )
        started = time.perf_counter()
        with pinned(settings):
            _ran(sync_all_stores)
            _show("first sync (full reads)", settings.database_url)
            state = sandbox.state
            state.woo.change(count=change, seed=7)
            state.woo.sell(count=max(1, change // 3), seed=8)  # orders: date_modified does not move
            state.shopify.change(count=change, fields=("stock",), seed=9)
            state.shopify.change(count=max(1, change // 3), fields=("price",), seed=10)
            _ran(sync_all_stores)
            _show(
                f"second sync after about {change} changes a store (auto: incremental where it can)",
                settings.database_url,
            )
            _ran(lambda: sync_store(store=STORES["woocommerce"], strategy="full"))
            _show(
                "WooCommerce's periodic full read (WOO_FULL_READ_MINUTES): it sees the sales",
                settings.database_url,
                ["woocommerce"],
            )
            alerts = check_alerts()
            print(
                f"\nlow-stock alerts (threshold {THRESHOLD}): {alerts['opened']} opened, {alerts['open']} open"
            )
        problems = 0
        for platform, name in STORES.items():
            found = compare_inventory(settings.database_url, name, store_oracle(sandbox.state, platform))
            wrong = sum(len(v) for v in found.values())
            problems += wrong
            print(
                f"inventory check {name}: {'equal to the store' if not wrong else f'{wrong} differences: {found}'}"
            )
        print(f"({time.perf_counter() - started:.1f} s in all)")
        if not serve:
            print(
                "\ndashboard: `catalog-sync demo --pipeline stores --serve` keeps this sandbox up and serves it at "
                f"http://127.0.0.1:8080/dashboard (token {token if token == DEMO_TOKEN else 'API_TOKEN'})"
            )
            return 1 if problems else 0
        return _serve_dashboard(settings, token)


def _show(title: str, url: str, platforms: list[str] | None = None) -> None:
    from sync_core.pipelines.stores.views import sync_log

    print(f"\n== {title} ==")
    for name in (STORES[p] for p in platforms or STORES):
        entry = sync_log(url, name, limit=1)[0]
        print(
            f"  {name:<18} {entry['status']:<8} {entry['strategy'] or entry['scope']:<12} created {entry['created']}, "
            f"updated {entry['updated']}, unchanged {entry['unchanged']}, removed {entry['removed']} "
            f"({entry['duration_s']} s)"
        )


def _ran(flow: Any) -> None:
    try:
        flow()
    except Exception as exc:
        raise SyncError(f"the demo's sync-all-stores failed: {first_line(exc)}") from None


def _serve_dashboard(settings: Any, token: str) -> int:
    import uvicorn

    from catalog_sync.service.app import create_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", 8080))
    except OSError:
        sock.bind(("127.0.0.1", 0))  # 8080 is taken: any free port
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(lambda: settings), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    print(f"\ndashboard: http://127.0.0.1:{port}/dashboard (token {token}); Ctrl-C stops it and the sandbox")
    try:
        while thread.is_alive():
            thread.join(0.5)
    except KeyboardInterrupt:
        server.should_exit = True
        thread.join(5)
    return 0
