"""Ploomes CRM products: a batch sync against the rate limit's bound, an incremental run after 1 % change, and
how fast webhook deliveries reach the table.

    .venv/bin/python -m bench.ploomes [--products 12000] [--rate 2] [--deliveries 20] [--db sqlite|postgres]
        [--cases batch,webhooks]

batch      for each ``--pacing`` (shared: the Prefect limit ploomes-requests, as with a server; local: the
           process's own token bucket), on an empty state store,
           `catalog-sync sync ploomes --strategy batch` as its own process against a sandbox of
           ``--products`` products (pages of 300, the server's cap), paced at PLOOMES_RATE_PER_S=``--rate``. No
           run can take less than bound = product pages / rate. Printed: the process's wall time (imports and
           Prefect included), the run's own duration (its run row), the span from the first to the last Ploomes
           call the sandbox saw, the requests by path, the ratios to the bound, and whether the table equals
           the sandbox's oracle. Then 1 % of the products change and `sync ploomes` (auto: incremental) runs:
           its requests, rows written, and the oracle again.
webhooks   `catalog-sync serve` with its inbox drain, against the same sandbox and a Prefect server: one at a
           time, ``--deliveries`` products are changed and their webhook sent (the sandbox's webhooks/send);
           the latency is from the send to the row's new version being committed (polled every 20 ms). Then
           100 deliveries sent at once (8 in flight): the runs they made, and the time until the inbox is empty
           and the table equals the oracle.

Every run goes against one Prefect server started first (its start-up is not measured).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from bench.harness import BIN, free_port, prefect_server, run_process, sandbox_process, state_store, wait_http

PAGE = 300
POLL_S = 0.02


def rows(db_url: str) -> list[dict[str, Any]]:
    from sqlmodel import select

    from sync_core.db import session_scope
    from sync_core.pipelines.ploomes.tables import PloomesProduct

    with session_scope(db_url) as session:
        return [row.model_dump() for row in session.exec(select(PloomesProduct))]


def oracle_ok(sandbox: str, db_url: str) -> str:
    from sync_core.sandbox.ploomes_oracle import compare_ploomes_rows

    answer = httpx.get(f"{sandbox}/_sandbox/ploomes/oracle", timeout=60).json()
    expected = {int(row["ploomes_id"]): row for row in answer["rows"]}
    report = compare_ploomes_rows(expected, rows(db_url))
    return "equal" if report.ok else f"DIFFERS {report.to_json()}"


def stats(sandbox: str) -> dict[str, Any]:
    found: dict[str, Any] = httpx.get(f"{sandbox}/_sandbox/stats", timeout=30).json()["ploomes"]
    return found


def reset(sandbox: str) -> None:
    httpx.post(f"{sandbox}/_sandbox/reset-stats", timeout=30).raise_for_status()


def env_for(sandbox: str, db_url: str, api: str, rate: float) -> dict[str, str]:
    return {
        **os.environ,
        "PLOOMES_BASE": f"{sandbox}/ploomes",
        "PLOOMES_USER_KEY": "sandbox-user-key",
        "PLOOMES_WEBHOOK_KEY": "sandbox-webhook-key",
        "PLOOMES_RATE_PER_S": str(rate),
        "DATABASE_URL": db_url,
        "PREFECT_API_URL": api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "LOG_FILE": "",
    }


def last_run(db_url: str) -> dict[str, Any]:
    from sqlmodel import col, select

    from sync_core.db import session_scope
    from sync_core.tables import SyncRun

    with session_scope(db_url) as session:
        row = session.exec(select(SyncRun).order_by(col(SyncRun.id).desc()).limit(1)).one()
        return row.model_dump()


@contextmanager
def span_watch(sandbox: str) -> Iterator[list[float]]:
    """(first, last) monotonic times at which the sandbox's Ploomes request count moved, sampled each 0.1 s."""
    seen: list[float] = []
    stop = threading.Event()

    def watch() -> None:
        count = 0
        while not stop.wait(0.1):
            now = stats(sandbox).get("requests_total", 0)
            if now != count:
                count = now
                seen[:] = [seen[0] if seen else time.monotonic(), time.monotonic()]

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join()


def bench_batch(
    sandbox: str, db_url: str, api: str, args: argparse.Namespace, work: Path, pacing: str
) -> None:
    env = env_for(sandbox, db_url, api, args.rate) | {
        "USE_PREFECT_RATE_LIMITS": "true" if pacing == "shared" else "false"
    }
    pages = -(-args.products // PAGE)
    bound = pages / args.rate
    reset(sandbox)
    with span_watch(sandbox) as span:
        code, wall, rss, cpu = run_process(
            [str(BIN / "catalog-sync"), "sync", "ploomes", "--strategy", "batch"], env, work / "batch.log"
        )
    if code != 0:
        raise SystemExit(f"bench: sync ploomes exited {code}; see {work / 'batch.log'}")
    run = last_run(db_url)
    duration = (run["finished_at"] - run["started_at"]).total_seconds()
    seen = stats(sandbox)
    calls = span[1] - span[0] if len(span) == 2 else float("nan")
    print(
        f"batch ({pacing} pacing): {args.products} products, {pages} pages of {PAGE}, "
        f"PLOOMES_RATE_PER_S={args.rate:g}"
    )
    print(f"  bound            {bound:.1f} s (pages / rate)")
    print(f"  process wall     {wall:.1f} s  ({wall / bound:.2f} x bound; cpu {cpu:.1f} s, rss {rss} MB)")
    print(f"  run duration     {duration:.1f} s  ({duration / bound:.2f} x bound; the run's row)")
    print(f"  calls span       {calls:.1f} s  ({calls / bound:.2f} x bound; first to last Ploomes call)")
    print(f"  requests         {seen['requests']} (429s: {seen.get('throttled_429', 0)})")
    print(f"  rows written     {run['pushed']} (unchanged {run['unchanged']})")
    print(f"  table vs oracle  {oracle_ok(sandbox, db_url)}")

    count = httpx.post(
        f"{sandbox}/_sandbox/ploomes/change", json={"fraction": 0.01, "seed": 11}, timeout=60
    ).json()["count"]
    reset(sandbox)
    code, wall, _, _ = run_process([str(BIN / "catalog-sync"), "sync", "ploomes"], env, work / "incr.log")
    if code != 0:
        raise SystemExit(f"bench: sync ploomes (incremental) exited {code}; see {work / 'incr.log'}")
    run = last_run(db_url)
    seen = stats(sandbox)
    print(f"incremental after 1 % changed ({count} products): scope {run['scope']}, wall {wall:.1f} s")
    print(f"  requests         {seen['requests']} (product pages: {len(seen['product_queries'])})")
    print(f"  rows written     {run['pushed']} (unchanged {run['unchanged']})")
    print(f"  table vs oracle  {oracle_ok(sandbox, db_url)}")


def version_of(engine: sa.Engine, product_id: int) -> int | None:
    with engine.connect() as conn:
        found = conn.execute(
            sa.text("SELECT version FROM ploomes_products WHERE ploomes_id = :i"), {"i": product_id}
        ).scalar()
    return int(found) if found is not None else None


def pending(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.text("SELECT count(*) FROM ploomes_webhook_inbox WHERE applied_at IS NULL")
            ).scalar()
            or 0
        )


def run_count(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM sync_runs")).scalar() or 0)


def bench_webhooks(sandbox: str, db_url: str, api: str, args: argparse.Namespace, work: Path) -> None:
    env = env_for(sandbox, db_url, api, args.rate)
    port = free_port()
    log = (work / "serve.log").open("wb")
    import subprocess

    serve = subprocess.Popen(
        [str(BIN / "catalog-sync"), "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    receiver = f"http://127.0.0.1:{port}/webhooks/ploomes"
    engine = sa.create_engine(db_url)
    try:
        wait_http(f"http://127.0.0.1:{port}/health", 60, "catalog-sync serve")
        ids: list[int] = httpx.get(f"{sandbox}/_sandbox/ploomes/products", timeout=30).json()["live"]
        warm = ids[-1]  # the drain's first run also imports the flows: not measured
        send(sandbox, receiver, [warm])
        wait_for(lambda: pending(engine) == 0, 120, "the warm-up delivery")
        latencies = []
        for product_id in ids[: args.deliveries]:
            before = version_of(engine, product_id) or 0
            started = time.perf_counter()
            send(sandbox, receiver, [product_id])
            wait_for(
                lambda p=product_id, b=before: (version_of(engine, p) or 0) > b, 60, f"product {product_id}"
            )
            latencies.append(time.perf_counter() - started)
        latencies.sort()
        p95 = latencies[max(0, round(0.95 * len(latencies)) - 1)]
        print(f"webhooks: one delivery at a time, {len(latencies)} products (send → row's new version)")
        print(
            f"  latency          p50 {statistics.median(latencies):.2f} s, p95 {p95:.2f} s, "
            f"max {latencies[-1]:.2f} s"
        )
        runs_before = run_count(engine)
        started = time.perf_counter()
        burst = ids[args.deliveries : args.deliveries + 100]
        sent = send(sandbox, receiver, burst, concurrency=8)
        sending = time.perf_counter() - started
        wait_for(lambda: pending(engine) == 0, 300, "the burst")
        drained = time.perf_counter() - started
        print(f"webhooks: 100 deliveries sent in {sending:.2f} s ({sent})")
        print(f"  runs made        {run_count(engine) - runs_before}")
        print(f"  inbox empty      after {drained:.1f} s")
        print(f"  table vs oracle  {oracle_ok(sandbox, db_url)}")
    finally:
        serve.terminate()
        serve.wait(timeout=30)
        engine.dispose()
        log.close()


def send(sandbox: str, url: str, ids: list[int], *, concurrency: int = 1) -> dict[str, Any]:
    answer = httpx.post(
        f"{sandbox}/_sandbox/ploomes/webhooks/send",
        json={"url": url, "ids": ids, "action": "Update", "change": True, "concurrency": concurrency},
        timeout=120,
    )
    answer.raise_for_status()
    counts: dict[str, Any] = answer.json().get("counts", {})
    return counts


def wait_for(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: {what} not applied within {timeout:.0f} s")
        time.sleep(POLL_S)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--products", type=int, default=12_000)
    parser.add_argument("--rate", type=float, default=2.0, help="PLOOMES_RATE_PER_S")
    parser.add_argument("--deliveries", type=int, default=20, help="webhooks sent one at a time")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="postgres", help="the state store")
    parser.add_argument("--prefect-db", choices=("sqlite", "postgres"), default="postgres")
    parser.add_argument("--cases", default="batch,webhooks")
    parser.add_argument(
        "--pacing",
        default="shared,local",
        help="batch runs: shared (the Prefect limit ploomes-requests, as with a server) and/or local (each "
        "process's own token bucket: USE_PREFECT_RATE_LIMITS=false)",
    )
    args = parser.parse_args(argv)
    cases = args.cases.split(",")
    work = Path(tempfile.mkdtemp(prefix="bench-ploomes-"))
    with ExitStack() as stack:
        api = stack.enter_context(prefect_server(args.prefect_db))
        knobs = {"products": 1, "ploomes-products": args.products, "seed": 3}
        sandbox, _ = stack.enter_context(sandbox_process(knobs))
        if "batch" in cases:
            for pacing in args.pacing.split(","):
                # Each on an empty state store; the sandbox's 1 % change carries over (the oracle follows).
                (work / pacing).mkdir(exist_ok=True)
                with state_store(args.db, work / pacing) as fresh:
                    bench_batch(sandbox, fresh, api, args, work, pacing)
        db_url = stack.enter_context(state_store(args.db, work))
        if "webhooks" in cases:
            # The table the deliveries update, filled fast (not measured).
            code, _, _, _ = run_process(
                [str(BIN / "catalog-sync"), "sync", "ploomes", "--strategy", "batch"],
                env_for(sandbox, db_url, api, 1000),
                work / "fill.log",
            )
            if code != 0:
                raise SystemExit(f"bench: filling the table failed; see {work / 'fill.log'}")
            bench_webhooks(sandbox, db_url, api, args, work)
    print(f"(logs in {work})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
