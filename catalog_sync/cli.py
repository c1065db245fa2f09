"""The `catalog-sync` command. Exit codes: 0 success, 1 the run failed, 2 usage, configuration or
reachability error (said in one line, before any run starts), 3 the guardrail held the run's suspicious writes
(`catalog-sync release RUN_ID` or `discard RUN_ID`), 75 another run of the pipeline holds its
lease (nothing was done), 130 interrupted (the run is recorded as cancelled)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from catalog_sync.drift_command import add_drift_command
from catalog_sync.explain_command import add_explain_command
from catalog_sync.guard_commands import add_guard_commands
from catalog_sync.monitor import add_monitor_command
from catalog_sync.runner import EXIT_FAILED, EXIT_OK, first_line, read_settings
from catalog_sync.sync_commands import add_pipeline_commands, add_retry_command, add_sync_commands, add_wait
from sync_core.errors import ConfigError, ConnectorError, PersistenceError, SyncError

EXIT_USAGE, EXIT_INTERRUPTED = 2, 130
DEMO_DATABASE_URL = "sqlite:///var/demo.db"


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
    """Serve the HTTP service; settings are checked now (operations routes re-read them per request).

    The workers count their read caches in a directory of this service's own (prometheus_client's multiprocess
    mode, ``catalog_sync.service.read_cache_counters``), made here and removed when the service stops. The
    variable naming it is set before anything imports prometheus_client, which reads it then: in this process
    (which serves itself when there is one worker) and in the workers, which inherit it."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="catalog-sync-metrics-", ignore_cleanup_errors=True) as directory:
        previous = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
        try:
            return _serve(args)
        finally:
            if previous is None:
                del os.environ["PROMETHEUS_MULTIPROC_DIR"]
            else:
                os.environ["PROMETHEUS_MULTIPROC_DIR"] = previous


def _serve(args: argparse.Namespace) -> int:
    from catalog_sync.service import create_app
    from catalog_sync.service.loops import start_serve_loops
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
    loops = start_serve_loops(settings) if not args.no_loops else None
    if loops is not None and loops.names:
        print(f"running the loops of {', '.join(loops.names)} (webhook inboxes → runs)", flush=True)
    try:
        if args.workers > 1:
            serve_workers(sockets)
        else:
            serve(create_app(), sockets[0])
    finally:
        if loops is not None:
            loops.stop()
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
    from sync_core.sandbox.server import banner, config_from_arguments, serve
    from sync_core.sandbox.state import SandboxState

    try:
        config = config_from_arguments(args)
    except ValueError as exc:
        raise ConfigError(f"sandbox: {exc}") from None
    sock = listen(args.host, args.port)  # first: a taken port is a one-line error, not a banner then a crash
    base = f"http://{args.host}:{sock.getsockname()[1]}"
    state = SandboxState(config)
    print(banner(base, config, state), flush=True)
    serve(config, sock, state)
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    import importlib
    import inspect

    from catalog_sync.console import prepare_flow_run
    from catalog_sync.demo import run_demo
    from sync_core.engine.registry import pipeline

    if args.pipeline is None and args.serve:
        raise ConfigError("--serve needs --pipeline stores (the demo with a dashboard)")
    prepare_flow_run(read_settings().log_file)
    if args.pipeline is None:
        return run_demo(
            products=args.products, variants=args.variants, change=args.change, database_url=args.database_url
        )
    spec = pipeline(args.pipeline)
    if spec.demo is None:
        raise ConfigError(f"{spec.command or spec.name} has no demo (demos: {', '.join(_demos())})")
    module, _, function = spec.demo.partition(":")
    demo = getattr(importlib.import_module(module), function)
    options: dict[str, object] = {
        "products": args.products,
        "change": args.change,
        "database_url": args.database_url,
    }
    if args.serve:
        if "serve" not in inspect.signature(demo).parameters:
            raise ConfigError(f"the {spec.command or spec.name} demo has no dashboard to serve (--serve)")
        options["serve"] = True
    return int(demo(**options))


def _demos() -> list[str]:
    from sync_core.engine.registry import with_capability

    return [spec.command or spec.name for spec in with_capability("demo")]


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
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


def listing(names: Sequence[str]) -> str:
    """``a, b and c``."""
    return " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


def build_parser() -> argparse.ArgumentParser:
    from deployments.limits import limit_names
    from sync_core.sandbox.server import SANDBOX_HELP, add_config_arguments

    parser = Parser(
        prog="catalog-sync",
        description=(
            "Sync supplier prices and stock into a store, as Prefect flows. Settings come from the environment "
            "and .env (see .env.example). Exit codes: 0 done, 1 the run failed, 2 usage, settings or a provider "
            "unreachable or refusing the credentials (nothing run), 3 the guardrail held the run's suspicious "
            "writes (`release RUN_ID` or `discard RUN_ID`), 75 another run of the pipeline is going "
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
    demo.add_argument(
        "--pipeline",
        metavar="NAME",
        help=f"the demo of another pipeline ({', '.join(_demos())}); --products is then its item count",
    )
    demo.add_argument(
        "--serve",
        action="store_true",
        help="then keep the sandbox up and serve the pipeline's dashboard until Ctrl-C (--pipeline stores)",
    )
    demo.set_defaults(handler=cmd_demo)

    sandbox = sub.add_parser(
        "sandbox",
        help=SANDBOX_HELP,
        description="Serve simulators of the providers' APIs as their contracts describe them (shared/contracts), "
        "with generated catalogues and the faults the knobs below ask for; prints the settings that point "
        "catalog-sync at them. Latency, faults, rate limit, 429 bursts, rejected variants and the envelope can "
        "also change while it runs: POST /_sandbox/faults with a JSON object of knobs; GET /_sandbox/stats "
        "counts what it received.",
    )
    sandbox.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    sandbox.add_argument("--port", type=int, default=8360, help="port to listen on (default 8360)")
    add_config_arguments(sandbox)
    sandbox.set_defaults(handler=cmd_sandbox)

    add_sync_commands(commands(sub.add_parser("sync", help="run a sync now"), "what", "WHAT"))
    add_retry_command(sub)
    add_pipeline_commands(sub)
    add_monitor_command(sub)
    add_explain_command(sub)
    add_drift_command(sub)

    health = sub.add_parser("health", help="database, last runs, circuits, failures (exit 1 when unhealthy)")
    health.add_argument("--json", action="store_true", help="print JSON")
    health.set_defaults(handler=cmd_health)

    serve = sub.add_parser(
        "serve",
        help="HTTP service: /search, /products, /stores, webhooks, /pipelines/{name}/runs, /items/{pipeline}/{key}, "
        "/health, /runs, /failures, /metrics, /docs",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
    serve.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        help="server processes sharing the port (default 1; about one per core for /search under load)",
    )
    serve.add_argument(
        "--no-loops",
        action="store_true",
        help="do not run the pipelines' loops here (the webhook inbox drain): another serve runs them",
    )
    serve.set_defaults(handler=cmd_serve)

    deploy = sub.add_parser(
        "deploy",
        help="set up the Prefect server in PREFECT_API_URL: work pool, rate limits, deployments, automations",
        description=(
            "Idempotent: creates what is missing, updates what differs, leaves the rest. Creates the process "
            f"work pool 'catalog-sync', the global limits {listing(limit_names())} (slots decay at "
            "RATE_LIMIT_PER_MIN), the alert block (NOTIFY_WEBHOOK_URL or NOTIFY_BLOCK), runs "
            "`prefect deploy --all` for prefect.yaml, then the automations."
        ),
    )
    deploy.add_argument(
        "--no-deploy", action="store_true", help="skip `prefect deploy --all` (deployments must exist)"
    )
    deploy.set_defaults(handler=cmd_deploy)

    add_guard_commands(sub, add_wait)

    runs = sub.add_parser("runs", help="recent sync runs")
    runs.add_argument("--limit", type=positive_int, default=20)
    runs.set_defaults(handler=cmd_runs)

    db = commands(sub.add_parser("db", help="database commands"), "db_command", "ACTION")
    db.add_parser("upgrade", help="apply migrations").set_defaults(handler=cmd_db_upgrade)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    try:
        parser = build_parser()  # the `sync` sub-commands come from the registry of pipelines
    except ConfigError as exc:  # e.g. two pipelines registered under one name
        print(f"catalog-sync: {first_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.handler is None:
        where, metavar, action = args.missing
        named = dict.fromkeys(action.choices.values())  # each sub-command once, under its first name
        where.error(f"missing {metavar}: one of {', '.join(p.prog.rsplit(' ', 1)[-1] for p in named)}")
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
