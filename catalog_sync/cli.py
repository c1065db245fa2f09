"""The `catalog-sync` command. Exit codes: 0 success, 1 the run failed, 2 usage, configuration or
reachability error (said in one line, before any run starts), 75 another run of the pipeline holds its
lease (nothing was done), 130 interrupted (the run is recorded as cancelled)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from catalog_sync.runner import EXIT_FAILED, EXIT_OK, first_line, preflight, read_settings, run_flow
from sync_core.errors import ConfigError, ConnectorError, PersistenceError, SyncError

EXIT_USAGE, EXIT_INTERRUPTED = 2, 130
DEMO_DATABASE_URL = "sqlite:///var/demo.db"


def cmd_sync_products(args: argparse.Namespace) -> int:
    from sync_core.pipelines.anar360_sazito import PIPELINE

    settings = preflight(PIPELINE, ("source", "target"))
    from flows.sync_products import sync_products

    scope = "full" if args.full else "incremental"
    return run_flow(settings, args, sync_products, scope=scope, since_ms=args.since_ms, dry_run=args.dry_run)


def cmd_sync_catalogue(args: argparse.Namespace) -> int:
    from sync_core.pipelines.anar360_sazito import PIPELINE

    settings = preflight(PIPELINE, ("target",))
    from flows.maintenance import sync_catalogue

    return run_flow(settings, args, sync_catalogue)


def cmd_sync_events(args: argparse.Namespace) -> int:
    from sync_core.connectors.fever import refuse_credentials
    from sync_core.pipelines.fever_events import EVENTS_PIPELINE

    if args.url:
        refuse_credentials(args.url, "--url")
    overrides = {"fever_provider_url": args.url} if args.url else {}
    settings = preflight(EVENTS_PIPELINE, ("source",), **overrides)
    from flows.sync_events import sync_events

    # Only a URL given here travels as the run's parameter; FEVER_PROVIDER_URL is read by the run itself.
    return run_flow(settings, args, sync_events, url=args.url)


def cmd_retry_failures(args: argparse.Namespace) -> int:
    from sync_core.pipelines.anar360_sazito import PIPELINE

    settings = preflight(PIPELINE, ("target",))
    from flows.maintenance import retry_failures

    return run_flow(settings, args, retry_failures, max_batches=args.max_batches)


def cmd_health(args: argparse.Namespace) -> int:
    from sync_core.health import health_report

    report = health_report(read_settings())
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print(f"healthy      {report['healthy']}\ndatabase     {report['database']}")
        for run in report.get("last_runs", []):
            print(
                f"last run     {run['pipeline']} {run['scope']}: {run['status']}, {run['age_s']} s ago "
                f"(pushed {run['pushed']}, failed {run['failed']})"
            )
        print(f"circuits     {report.get('circuits') or 'none opened yet'}")
        print(f"failures     {report.get('failures')}")
        for problem in report["problems"]:
            print(f"problem      {problem}")
    return EXIT_OK if report["healthy"] else EXIT_FAILED


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the HTTP service; settings are checked now (operations routes re-read them per request)."""
    from catalog_sync.service import create_app
    from catalog_sync.service.server import listen_workers, serve, serve_workers
    from sync_core.db import upgrade

    settings = read_settings()
    sockets = listen_workers(args.host, args.port, args.workers)
    try:  # a database that is down now is reported by /health, not a reason to refuse to start
        upgrade(settings.database_url)
    except PersistenceError as exc:
        print(f"catalog-sync: warning: {exc}", file=sys.stderr)
    workers = f", {args.workers} workers" if args.workers > 1 else ""
    print(f"catalog-sync service on http://{args.host}:{args.port} (API docs at /docs{workers})", flush=True)
    if args.workers > 1:
        serve_workers(sockets)
    else:
        serve(create_app(), sockets[0])
    return EXIT_OK


def cmd_deploy(args: argparse.Namespace) -> int:
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # offline: telemetry only logs errors
    import asyncio

    from deployments.setup import apply

    changes = asyncio.run(apply(read_settings(), deploy=not args.no_deploy))
    changed = sum(change.action != "unchanged" for change in changes)
    print(f"{changed} change(s); {len(changes) - changed} object(s) already as wanted")
    return EXIT_OK


def cmd_runs(args: argparse.Namespace) -> int:
    from sync_core.db import upgrade
    from sync_core.engine.runs import recent_runs

    settings = read_settings()
    upgrade(settings.database_url)
    print(
        f"{'id':>5} {'pipeline':<15} {'scope':<12} {'status':<8} {'started':<20} {'fetched':>7} {'pushed':>7} "
        f"{'unchanged':>9} {'skipped':>7} {'failed':>6} {'requests':>8}"
    )
    for run in recent_runs(settings.database_url, limit=args.limit):
        print(
            f"{run.id:>5} {run.pipeline:<15} {run.scope + (' dry' if run.dry_run else ''):<12} {run.status:<8} "
            f"{run.started_at:%Y-%m-%d %H:%M:%S} {run.fetched:>7} {run.pushed:>7} {run.unchanged:>9} "
            f"{run.skipped:>7} {run.failed:>6} {run.requests:>8}"
        )
    return EXIT_OK


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from sync_core.db import describe, upgrade

    settings = read_settings()
    upgrade(settings.database_url)
    print(f"database {describe(settings.database_url)} is at the latest schema")
    return EXIT_OK


def cmd_sandbox(args: argparse.Namespace) -> int:
    from catalog_sync.service.server import listen
    from sync_core.sandbox.server import config_from_arguments, serve

    try:
        config = config_from_arguments(args)
    except ValueError as exc:
        raise ConfigError(f"sandbox: {exc}") from None
    sock = listen(args.host, args.port)  # first: a taken port is a one-line error, not a banner then a crash
    base = f"http://{args.host}:{sock.getsockname()[1]}"
    print(
        f"sandbox on {base}\n  ANAR360_BASE={base}/anar360/api/360  ANAR360_TOKEN={config.anar360_token}\n"
        f"  SAZITO_BASE={base}/sazito/api/v1  SAZITO_KEY={config.sazito_key}\n"
        f"  FEVER_PROVIDER_URL={base}/fever/api/events",
        flush=True,
    )
    serve(config, sock)
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from catalog_sync.console import prepare_flow_run
    from catalog_sync.demo import run_demo

    prepare_flow_run(read_settings().log_file)
    return run_demo(
        products=args.products, variants=args.variants, change=args.change, database_url=args.database_url
    )


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, not {text}")
    return value


def fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {text}")
    return value


class Parser(argparse.ArgumentParser):
    """argparse, with its refusals in one line (the usage is one `--help` away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def commands(parser: argparse.ArgumentParser, dest: str, metavar: str) -> Any:
    """Sub-commands of ``parser``; naming none is refused by main() with the choices, like an unknown flag."""
    action = parser.add_subparsers(dest=dest, metavar=metavar)
    parser.set_defaults(handler=None, missing=(parser, metavar, action))
    return action


def add_wait(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wait",
        type=non_negative,
        metavar="SECONDS",
        help="when another run of the pipeline is going, wait this long for it to end (default RUN_LEASE_WAIT_S); "
        "then give up with exit 75",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="catalog-sync",
        description=(
            "Sync supplier prices and stock into a store, as Prefect flows. Settings come from the environment "
            "and .env (see .env.example). Exit codes: 0 done, 1 the run failed, 2 usage, settings or a provider "
            "unreachable or refusing the credentials (nothing run), 75 another run of the pipeline is going "
            "(nothing run), 130 interrupted (the run is recorded as cancelled)."
        ),
    )
    sub = commands(parser, "command", "COMMAND")

    demo = sub.add_parser(
        "demo", help="full then incremental sync against a built-in sandbox, with a summary"
    )
    demo.add_argument("--products", type=positive_int, default=500, help="sandbox products (default 500)")
    demo.add_argument("--variants", type=positive_int, default=3, help="variants per product (default 3)")
    demo.add_argument(
        "--change",
        type=positive_int,
        default=15,
        help="variants changed before the incremental sync (default 15)",
    )
    demo.add_argument(
        "--database-url",
        default=DEMO_DATABASE_URL,
        help=f"state store of the demo (default {DEMO_DATABASE_URL}; kept apart from DATABASE_URL so sandbox "
        "ids never mix with a real store's)",
    )
    demo.set_defaults(handler=cmd_demo)

    sandbox = sub.add_parser(
        "sandbox",
        help="serve the Anar360, Sazito and Fever simulators",
        description="Serve simulators of the providers' APIs as their contracts describe them (shared/contracts), "
        "with generated catalogues and the faults the knobs below ask for; prints the settings that point "
        "catalog-sync at them. Latency, faults, rate limit, 429 bursts, rejected variants and the envelope can "
        "also change while it runs: POST /_sandbox/faults with a JSON object of knobs; GET /_sandbox/stats "
        "counts what it received.",
    )
    sandbox.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    sandbox.add_argument("--port", type=int, default=8360, help="port to listen on (default 8360)")
    from sync_core.sandbox.server import add_config_arguments

    add_config_arguments(sandbox)
    sandbox.set_defaults(handler=cmd_sandbox)

    sync = commands(sub.add_parser("sync", help="run a sync now"), "what", "WHAT")
    products = sync.add_parser("products", help="push changed prices and stock (incremental unless --full)")
    products.add_argument("--full", action="store_true", help="list the whole catalogue, re-read the store")
    products.add_argument(
        "--since-ms", type=int, help="incremental window in ms back from now (overrides the cursor)"
    )
    products.add_argument("--dry-run", action="store_true", help="write nothing; show what would change")
    add_wait(products)
    products.set_defaults(handler=cmd_sync_products)
    catalogue = sync.add_parser("catalogue", help="re-read the store catalogue: links and current values")
    add_wait(catalogue)
    catalogue.set_defaults(handler=cmd_sync_catalogue)
    events = sync.add_parser("events", help="store the events feed (FEVER_PROVIDER_URL) for /search")
    events.add_argument(
        "--url", help="read this feed instead: http(s)://... or file:///path/to/answer.xml (a saved answer)"
    )
    add_wait(events)
    events.set_defaults(handler=cmd_sync_events)

    retry = sub.add_parser(
        "retry-failures", help="replay due failed writes; mark dead after FAILURE_MAX_ATTEMPTS"
    )
    retry.add_argument(
        "--max-batches", type=int, default=10, help="batches of 200 replays at most (default 10)"
    )
    add_wait(retry)
    retry.set_defaults(handler=cmd_retry_failures)

    health = sub.add_parser("health", help="database, last runs, circuits, failures (exit 1 when unhealthy)")
    health.add_argument("--json", action="store_true", help="print JSON")
    health.set_defaults(handler=cmd_health)

    serve = sub.add_parser("serve", help="HTTP service: /search, /health, /runs, /failures, /metrics, /docs")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
    serve.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        help="server processes sharing the port (default 1; about one per core for /search under load)",
    )
    serve.set_defaults(handler=cmd_serve)

    deploy = sub.add_parser(
        "deploy",
        help="set up the Prefect server in PREFECT_API_URL: work pool, rate limits, deployments, automations",
        description=(
            "Idempotent: creates what is missing, updates what differs, leaves the rest. Creates the process "
            "work pool 'catalog-sync', the global limits anar360-requests and sazito-requests (slots decay at "
            "RATE_LIMIT_PER_MIN), the alert block (NOTIFY_WEBHOOK_URL or NOTIFY_BLOCK), runs "
            "`prefect deploy --all` for prefect.yaml, then the automations."
        ),
    )
    deploy.add_argument(
        "--no-deploy", action="store_true", help="skip `prefect deploy --all` (deployments must exist)"
    )
    deploy.set_defaults(handler=cmd_deploy)

    runs = sub.add_parser("runs", help="recent sync runs")
    runs.add_argument("--limit", type=positive_int, default=20)
    runs.set_defaults(handler=cmd_runs)

    db = commands(sub.add_parser("db", help="database commands"), "db_command", "ACTION")
    db.add_parser("upgrade", help="apply migrations").set_defaults(handler=cmd_db_upgrade)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.handler is None:
        where, metavar, action = args.missing
        where.error(f"missing {metavar}: one of {', '.join(action.choices)}")
    if args.command == "sync" and args.what == "products" and args.full and args.since_ms is not None:
        print("catalog-sync: --since-ms applies to incremental syncs, not --full", file=sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.handler(args))
    except (ConfigError, PersistenceError, ConnectorError) as exc:
        print(f"catalog-sync: {first_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except SyncError as exc:
        print(f"catalog-sync: {first_line(exc)}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("catalog-sync: interrupted; a run in progress is recorded as cancelled", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
