"""The store-inventory command line: `catalog-sync stores add|list|show|enable|disable|remove|sync`,
`catalog-sync alerts [--open]` (and `alerts check`, `alerts threshold SKU N`), and `sync stores --store NAME`."""

from __future__ import annotations

import argparse
import json
from typing import Any

from sync_core.engine.spec import SOURCE
from sync_core.errors import ConfigError
from sync_core.pipelines.stores.platforms import PLATFORMS


def _settings() -> Any:
    from sync_core.db import upgrade
    from sync_core.settings import load_settings

    settings = load_settings()
    upgrade(settings.database_url)
    return settings


def sync_options(parser: argparse.ArgumentParser) -> None:
    """`sync stores`'s own options (``--strategy`` is every pipeline's)."""
    parser.add_argument("--store", required=True, metavar="NAME", help="the store integration to sync")
    parser.add_argument("--dry-run", action="store_true", help="read and compare; write nothing")


def flow_params(args: argparse.Namespace) -> dict[str, Any]:
    """sync-store's parameters; ``--store NAME`` is the run's source connection."""
    args.connections = {SOURCE: args.store}
    return {"store": args.store, "dry_run": bool(args.dry_run)}


def _run_sync(settings: Any, name: str, strategy: str, dry_run: bool) -> int:
    from catalog_sync.runner import preflight, run_flow
    from flows.sync_stores import sync_store
    from sync_core.engine.registry import pipeline
    from sync_core.pipelines.stores.integrations import get

    row = get(settings.database_url, name)
    if not row.active:
        raise ConfigError(f"store {name!r} is disabled: `catalog-sync stores enable {name}` first")
    checked = preflight(pipeline("stores"), None, {SOURCE: name})
    return run_flow(checked, sync_store, store=name, strategy=strategy, dry_run=dry_run)


def cmd_add(args: argparse.Namespace) -> int:
    from sync_core.pipelines.stores.integrations import NewIntegration, add

    settings = _settings()
    row = add(
        settings,
        NewIntegration(
            name=args.name,
            platform=args.platform,
            store_url=args.url,
            credentials_env=args.credentials_env,
            credentials_block=args.credentials_block,
            threshold=args.threshold,
            active=not args.inactive,
            auto_sync=not args.no_auto_sync,
        ),
    )
    print(f"added store {row.name} ({row.platform}, {row.store_url}){'' if row.active else ', inactive'}")
    if args.sync_now:
        if not row.active:
            print("not synced now: it is inactive (stores enable, then stores sync)")
            return 0
        return _run_sync(settings, row.name, "auto", False)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from sync_core.pipelines.stores.views import overview

    settings = _settings()
    found = overview(settings.database_url, settings.low_stock_threshold)
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    if not found:
        print(
            "no store integration yet: catalog-sync stores add NAME --platform ... --url ... --credentials-env VAR"
        )
        return 0
    print(f"{'NAME':<20} {'PLATFORM':<12} {'STATE':<9} {'ITEMS':>6} {'ALERTS':>6}  LAST SYNC")
    for s in found:
        last = s["last_sync"]
        sync = (
            f"{last['status']} {last['started_at'][:19]} (+{last['created'] or 0} ~{last['updated'] or 0} "
            f"-{last['removed'] or 0}, {last['failed'] or 0} failed)"
            if last
            else "never"
        )
        state = "active" if s["active"] else "disabled"
        print(f"{s['name']:<20} {s['platform']:<12} {state:<9} {s['items']:>6} {s['open_alerts']:>6}  {sync}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from sync_core.pipelines.stores.integrations import get
    from sync_core.pipelines.stores.views import integration_view, sync_log

    settings = _settings()
    row = get(settings.database_url, args.name)
    view = integration_view(row, settings.low_stock_threshold)
    log = sync_log(settings.database_url, row.name, limit=args.runs)
    if args.json:
        print(json.dumps(view | {"syncs": log}, indent=2))
        return 0
    for name, value in view.items():
        print(f"  {name:<20} {value}")
    print(
        f"\nsyncs (newest first, {len(log)}):"
        if log
        else "\nnever synced: catalog-sync stores sync " + row.name
    )
    for e in log:
        counts = ", ".join(
            f"{n} {e[n]}"
            for n in ("created", "updated", "unchanged", "removed", "failed")
            if e[n] is not None
        )
        print(f"  run {e['run_id']:<6} {e['started_at'][:19]} {e['status']:<9} {e['scope']:<12} {counts}")
        if e["error"]:
            print(f"             error: {e['error']}")
    return 0


def cmd_enable(args: argparse.Namespace) -> int:
    from sync_core.pipelines.stores.integrations import set_active

    settings = _settings()
    row = set_active(settings.database_url, args.name, args.action == "enable")
    print(f"store {row.name} {'enabled' if row.active else 'disabled'}")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    from sync_core.pipelines.stores.integrations import remove

    settings = _settings()
    gone = remove(settings.database_url, args.name)
    print(
        f"removed store {args.name} ({gone['inventory_items']} inventory items, {gone['stock_alerts']} alerts)"
    )
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    settings = _settings()
    return _run_sync(settings, args.name, args.strategy, args.dry_run)


def cmd_alerts(args: argparse.Namespace) -> int:
    from sync_core.pipelines.stores.alerts import alerts
    from sync_core.pipelines.stores.views import alert_views

    settings = _settings()
    found = alert_views(alerts(settings.database_url, open_only=args.open, limit=args.limit))
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    if not found:
        print("no open low-stock alert" if args.open else "no low-stock alert yet (check-alerts opens them)")
        return 0
    for a in found:
        state = f"resolved {a['resolved_at'][:19]} at {a['resolved_stock']}" if a["resolved_at"] else "open"
        print(
            f"{a['store']:<20} {a['sku'] or '(no SKU)':<24} stock {a['stock']:>5} / threshold {a['threshold']:<5} "
            f"since {a['opened_at'][:19]}  {state}  {a['title']}"
        )
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from catalog_sync.runner import run_flow
    from flows.check_alerts import check_alerts

    return run_flow(_settings(), check_alerts)


def cmd_threshold(args: argparse.Namespace) -> int:
    from sync_core.pipelines.stores.alerts import set_sku_threshold

    settings = _settings()
    value = None if args.threshold == "default" else args.threshold
    set_sku_threshold(settings.database_url, args.sku, value, args.store)
    where = f"in {args.store}" if args.store else "in every store"
    print(f"SKU {args.sku} {where}: " + ("store threshold again" if value is None else f"threshold {value}"))
    return 0


def add_commands(sub: Any) -> None:
    """`catalog-sync stores ...` and `catalog-sync alerts ...`."""
    stores = sub.add_parser(
        "stores", help="store integrations: add, list, show, enable, disable, remove, sync"
    )
    actions = stores.add_subparsers(dest="stores_action", metavar="ACTION", required=True)
    add = actions.add_parser(
        "add",
        help="add a store integration",
        description="Adds a store the inventory is read from. The credential itself is never stored: name the "
        "environment variable (or .env entry) or the Prefect Secret block that holds it (Shopify: an access "
        "token or client_id:client_secret; WooCommerce: consumer_key:consumer_secret; Sazito: the X-API-KEY).",
    )
    add.add_argument("name", help="its name: lower-case letters, digits and dashes (e.g. main-shop)")
    add.add_argument("--platform", required=True, help=f"one of {', '.join(PLATFORMS)}")
    add.add_argument("--url", required=True, help="the store's URL (e.g. https://shop.myshopify.com)")
    where = add.add_mutually_exclusive_group(required=True)
    where.add_argument("--credentials-env", metavar="VAR", help="environment variable holding the credential")
    where.add_argument(
        "--credentials-block", metavar="NAME", help="Prefect Secret block holding the credential"
    )
    add.add_argument("--threshold", metavar="N", help="low-stock threshold (default LOW_STOCK_THRESHOLD)")
    add.add_argument("--inactive", action="store_true", help="add it disabled (neither synced nor scheduled)")
    add.add_argument("--no-auto-sync", action="store_true", help="leave it out of sync-all-stores")
    add.add_argument("--sync-now", action="store_true", help="run its first sync at once")
    add.set_defaults(handler=cmd_add)
    listed = actions.add_parser("list", help="every integration with its last sync")
    listed.add_argument("--json", action="store_true")
    listed.set_defaults(handler=cmd_list)
    show = actions.add_parser("show", help="an integration and its sync log (runs, counts, errors)")
    show.add_argument("name")
    show.add_argument("--runs", type=int, default=10, help="how many syncs to list (default 10)")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=cmd_show)
    for action, text in (("enable", "include it in syncs again"), ("disable", "stop syncing it (kept)")):
        parser = actions.add_parser(action, help=text)
        parser.add_argument("name")
        parser.set_defaults(handler=cmd_enable, action=action)
    remove = actions.add_parser("remove", help="remove it with its inventory and alerts (its sync log stays)")
    remove.add_argument("name")
    remove.set_defaults(handler=cmd_remove)
    sync = actions.add_parser("sync", help="sync it now (auto: incremental when it can, else full)")
    sync.add_argument("name")
    sync.add_argument("--strategy", choices=("auto", "full", "incremental"), default="auto")
    sync.add_argument("--dry-run", action="store_true", help="read and compare; write nothing")
    sync.set_defaults(handler=cmd_sync)

    alerts = sub.add_parser("alerts", help="low-stock alerts (check-alerts opens and resolves them)")
    alerts.add_argument("--open", action="store_true", help="only the open ones")
    alerts.add_argument("--limit", type=int, default=200)
    alerts.add_argument("--json", action="store_true")
    alerts.set_defaults(handler=cmd_alerts)
    more = alerts.add_subparsers(dest="alerts_action", metavar="ACTION")
    check = more.add_parser("check", help="run check-alerts now (notifies new alerts once)")
    check.set_defaults(handler=cmd_check)
    threshold = more.add_parser("threshold", help="a SKU's own threshold (over its store's)")
    threshold.add_argument("sku")
    threshold.add_argument("threshold", help="a whole number, or 'default' to clear it")
    threshold.add_argument("--store", metavar="NAME", help="in this store only (default: every store)")
    threshold.set_defaults(handler=cmd_threshold)
