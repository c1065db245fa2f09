"""The store inventory: sync-all-stores over three sandbox stores (Shopify, WooCommerce, Sazito), checked against
their oracles, a second run after 1 % of each store changed, and Shopify's read against its cost-bucket bound.

    .venv/bin/python -m bench.stores [--variants 5000] [--database sqlite|postgres] [--prefect-db ...]
        [--concurrency 3] [--restore-rate 2000] [--bucket 2000] [--changes 0.01] [--woo-rate 50]
        [--pacing shared|local] [--rate-limit-per-min N]

One sandbox (in this process) serves the three stores, ``--variants`` sellable variants each (Sazito: products of
two variants, every one linked, plus the sandbox's few merchant products); each store is added as an
integration, then `sync-all-stores` runs as its own process (STORES_CONCURRENCY=``--concurrency``) against one
Prefect server started first (its start-up is not measured), twice:

first    every store read in full; each store's table must equal its oracle.
second   after ``--changes`` of each store's variants changed, half in stock and half in price (WooCommerce:
         `change`, which moves date_modified; Shopify: `change` of stock at a location, which moves no
         updatedAt, and of price; Sazito: store variants' stock or price, under the sandbox's lock): per store
         the run's created / updated / unchanged / removed (its sync log entry) against the oracle rows that
         differ from before ("differ") and those plus the rows whose modification time the store moved
         ("to_write": a row's source_updated_at is part of what a run writes); "exact" when the run created
         and removed nothing and updated exactly to_write. Then the oracle again.

Shopify's bound: the simulator's bucket starts full (``--bucket`` points; the run waits for it to be full)
and restores ``--restore-rate`` points a second, so a read spending a total actual cost C cannot take less
than max(0, C - bucket) / restore-rate seconds. Printed: the store's run duration (its run row) and the span
from the first to the last GraphQL call the simulator received, each over the bound; THROTTLED answers;
requested and actual cost; the calls' pace against the connection's request budget.

Paces: WOO_RATE_PER_S=``--woo-rate`` (the sandbox has no limit); SHOPIFY_RATE_LIMIT_PER_MIN as configured
(default 6000 a minute: a Shopify connection's request cap, its cost bucket being what paces it;
``--shopify-rate-limit-per-min`` sets it); USE_PREFECT_RATE_LIMITS true (``--pacing shared``, as with a
server) or false (``local``).

Exit 1 when sync-all-stores fails, a store's run did not succeed or a table differs from its oracle.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.harness import ROOT, prefect_server, state_store

PLATFORMS = ("shopify", "woocommerce", "sazito")
NAMES = {"shopify": "bench-shopify", "woocommerce": "bench-woo", "sazito": "bench-sazito"}
SAZITO_VARIANTS = 2  # variants per Sazito product
COMPARED = ("product_id", "sku", "title", "price", "compare_at_price", "stock", "managed")


def child() -> int:
    """`sync-all-stores` here, as the command line runs a flow (settings from the environment)."""
    from catalog_sync.runner import read_settings, run_flow
    from flows.sync_stores import sync_all_stores

    return run_flow(read_settings(), sync_all_stores)


def run_child(env: dict[str, str], log: Path) -> tuple[int, float, int, float]:
    """The child run as its own process: (exit code, wall s, peak RSS MB, CPU s)."""
    started = time.perf_counter()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.stores", "--child"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    return (
        os.waitstatus_to_exitcode(status),
        wall,
        usage.ru_maxrss // 1024,
        usage.ru_utime + usage.ru_stime,
    )


@contextmanager
def call_times(shopify: Any) -> Iterator[list[float]]:
    """Monotonic times of the GraphQL calls the Shopify simulator receives (it counts each as ``calls``)."""
    seen: list[float] = []
    original = shopify.note

    def note(counter: str, amount: int = 1) -> None:
        if counter == "calls":
            seen.append(time.monotonic())
        original(counter, amount)

    shopify.note = note
    try:
        yield seen
    finally:
        shopify.note = original


def snapshot(state: Any) -> dict[str, dict[str, dict[str, Any]]]:
    """platform → variant id → oracle row."""
    from sync_core.sandbox.store_oracles import store_oracle

    return {
        p: {str(row["variant_id"]): {k: row.get(k) for k in COMPARED} for row in store_oracle(state, p)}
        for p in PLATFORMS
    }


def differing(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> set[str]:
    """Variant ids whose oracle row is new, gone or holds another value."""
    return {k for k in set(before) | set(after) if before.get(k) != after.get(k)}


def change_stores(state: Any, fraction: float, seed: int) -> tuple[dict[str, int], dict[str, set[str]]]:
    """Change ``fraction`` of each store's variants (half stock, half price). Returns how many variants each
    store's changes touched, and the variant ids whose modification time the store moved (a row's
    ``source_updated_at`` is part of what a run writes, even when no value changed)."""
    count = {p: max(2, round(fraction * len(rows))) for p, rows in snapshot(state).items()}
    touched: dict[str, int] = {}
    redated: dict[str, set[str]] = {}
    woo, half = state.woo, count["woocommerce"] // 2
    ids = woo.change(count=half, fields=("price",), seed=seed)
    ids += woo.change(count=count["woocommerce"] - half, fields=("stock",), seed=seed + 1)
    touched["woocommerce"], redated["woocommerce"] = len(ids), {str(i) for i in ids}  # date_modified moves
    shop, half = state.shopify, count["shopify"] // 2
    stock = shop.change(count=half, fields=("stock",), seed=seed + 2)  # a level's time moves, not updatedAt
    price = shop.change(count=count["shopify"] - half, fields=("price",), seed=seed + 3)  # updatedAt moves
    touched["shopify"], redated["shopify"] = len(stock) + len(price), set(price)
    rng = random.Random(seed + 4)
    with state.lock:
        catalogue = state.catalogue
        live = sorted(vid for p in catalogue.store_products.values() for vid in p.variant_ids)
        managed = [vid for vid in live if catalogue.store_variants[vid].is_stock_managed]
        stocked = rng.sample(managed, min(len(managed), count["sazito"] // 2))
        rest = sorted(set(live) - set(stocked))
        priced = rng.sample(rest, min(len(rest), count["sazito"] - len(stocked)))
        for vid in stocked:
            variant = catalogue.store_variants[vid]
            variant.stock_number = (variant.stock_number or 0) + rng.randrange(1, 20)
        for vid in priced:
            catalogue.store_variants[vid].price += 1000 * rng.randrange(1, 50)
    touched["sazito"], redated["sazito"] = len(stocked) + len(priced), set()  # Sazito has no such time
    return touched, redated


def seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def bucket_now(shopify: Any) -> float:
    with shopify.lock:
        shopify.bucket.restore()
        return float(shopify.bucket.available)


def run_round(
    label: str,
    state: Any,
    db_url: str,
    env: dict[str, str],
    work: Path,
    args: argparse.Namespace,
    changed: dict[str, tuple[int, int]] | None,
) -> bool:
    """One sync-all-stores run and its figures; whether every store succeeded and equals its oracle."""
    from sync_core.pipelines.stores.views import sync_log
    from sync_core.sandbox.store_oracles import compare_inventory, store_oracle

    shopify = state.shopify
    time.sleep(max(0.0, (shopify.bucket.maximum - bucket_now(shopify)) / shopify.bucket.restore_rate))
    full_at_start = bucket_now(shopify)
    state.reset_stats()
    with call_times(shopify) as calls:
        code, wall, rss, cpu = run_child(env, work / f"{label}.log")
    print(
        f"\n{label} run: sync-all-stores exit {code}, process wall {wall:.1f} s (imports and Prefect included), "
        f"cpu {cpu:.1f} s, peak RSS {rss} MB"
    )
    entries = {p: (sync_log(db_url, NAMES[p], limit=1) or [{}])[0] for p in PLATFORMS}
    starts = [e["started_at"] for e in entries.values() if e.get("started_at")]
    ends = [e["finished_at"] for e in entries.values() if e.get("finished_at")]
    span = seconds(min(starts), max(ends)) if starts and ends else None
    print(
        f"  stores' runs, first start to last end: {span:.1f} s"
        if span is not None
        else "  stores' runs: none recorded"
    )
    header = (
        f"  {'store':<14} {'platform':<12} {'status':<8} {'scope':<12} {'dur_s':>6} {'items':>6} "
        f"{'created':>7} {'updated':>7} {'unchanged':>9} {'removed':>7} {'differ':>6} {'to_write':>8} {'exact':>5}  oracle"
    )
    print(header)
    ok = code == 0
    for platform in PLATFORMS:
        e = entries[platform]
        expected = store_oracle(state, platform)
        report = compare_inventory(db_url, NAMES[platform], expected)
        clean = not any(report.values())
        verdict = (
            "CLEAN"
            if clean
            else "DIFFERS "
            + ", ".join(f"{k} {len(v)}" for k, v in report.items() if v)
            + f" (e.g. {next(iter(v for v in report.values() if v))[:2]})"
        )
        ok = ok and clean and e.get("status") == "success"
        differ, to_write, exact = "-", "-", "-"
        if changed is not None:
            differ, to_write = map(str, changed[platform])
            written = (e.get("created"), e.get("updated"), e.get("removed"))
            exact = "yes" if written == (0, changed[platform][1], 0) else "no"
        duration = e.get("duration_s")
        print(
            f"  {NAMES[platform]:<14} {platform:<12} {e.get('status', '-'):<8} {e.get('scope', '-'):<12} "
            f"{duration if duration is not None else float('nan'):>6.1f} {len(expected):>6} "
            f"{_n(e.get('created')):>7} {_n(e.get('updated')):>7} {_n(e.get('unchanged')):>9} "
            f"{_n(e.get('removed')):>7} {differ:>6} {to_write:>8} {exact:>5}  {verdict}"
        )
        if e.get("error"):
            print(f"    error: {e['error']}")
    durations = [e["duration_s"] for e in entries.values() if e.get("duration_s") is not None]
    print(
        f"  sum of the stores' run durations: {sum(durations):.1f} s (STORES_CONCURRENCY={args.concurrency})"
    )
    budget = int(env.get("SHOPIFY_RATE_LIMIT_PER_MIN") or 6000)
    shopify_figures(entries["shopify"], shopify.stats(), calls, full_at_start, shopify, budget)
    return ok


def _n(value: Any) -> str:
    return "-" if value is None else str(value)


def shopify_figures(
    entry: dict[str, Any],
    stats: dict[str, Any],
    calls: list[float],
    start: float,
    shopify: Any,
    per_min: int,
) -> None:
    rate, maximum = shopify.bucket.restore_rate, shopify.bucket.maximum
    actual, requested = stats["actual_cost"], stats["requested_cost"]
    bound = max(0.0, actual - start) / rate
    duration = entry.get("duration_s")
    span = calls[-1] - calls[0] if len(calls) >= 2 else None

    def ratio(value: float | None) -> str:
        if value is None:
            return "-"
        return f"{value / bound:.2f} x bound" if bound > 0 else "(bound 0)"

    print(f"  shopify: bucket {maximum:g} points (held {start:.0f} at the start), restore {rate:g} points/s")
    print(f"    bound          {bound:.1f} s = max(0, actual cost {actual:,} - {start:.0f}) / {rate:g}")
    if duration is not None:
        print(f"    run duration   {duration:.1f} s ({ratio(duration)}; its run row)")
    if span is not None:
        print(f"    calls span     {span:.1f} s ({ratio(span)}; first to last of {len(calls)} GraphQL calls)")
    print(
        f"    throttled      {stats['throttled']} THROTTLED answers ({stats['throttled_429']} as 429), "
        f"{stats['max_cost_refusals']} MAX_COST_EXCEEDED"
    )
    if span:
        print(
            f"    request pace   {len(calls) / span:.2f} calls/s; the connection's request cap "
            f"SHOPIFY_RATE_LIMIT_PER_MIN={per_min} ({per_min / 60:g}/s) alone needs {len(calls) / (per_min / 60):.1f} s "
            "for these calls"
        )
    share = f" (actual {actual / requested:.0%} of requested)" if requested else ""
    print(
        f"    cost           requested {requested:,}, actual {actual:,}{share}; {stats['answered']} answered"
    )


def add_stores(db_url: str, sandbox: Any, env: dict[str, str]) -> None:
    from sync_core.db import upgrade
    from sync_core.pipelines.stores import integrations
    from sync_core.settings import load_settings

    upgrade(db_url)
    settings = load_settings(database_url=db_url)
    for platform in PLATFORMS:
        url, credential = sandbox.stores[platform]
        variable = f"BENCH_STORE_{platform.upper()}_KEY"
        os.environ[variable] = env[variable] = credential
        integrations.add(
            settings,
            integrations.NewIntegration(
                name=NAMES[platform], platform=platform, store_url=url, credentials_env=variable
            ),
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--variants", type=int, default=5000, help="sellable variants of each store")
    parser.add_argument(
        "--database", choices=("sqlite", "postgres"), default="postgres", help="the state store"
    )
    parser.add_argument("--prefect-db", choices=("sqlite", "postgres"), default="postgres")
    parser.add_argument("--concurrency", type=int, default=3, help="STORES_CONCURRENCY")
    parser.add_argument(
        "--restore-rate",
        type=int,
        default=2000,
        help="Shopify points restored a second (2000: the Enterprise tier; Plus 1000, Standard 100)",
    )
    parser.add_argument("--bucket", type=int, default=2000, help="Shopify bucket (maximumAvailable)")
    parser.add_argument("--changes", type=float, default=0.01, help="share of each store changed")
    parser.add_argument("--woo-rate", type=float, default=50.0, help="WOO_RATE_PER_S")
    parser.add_argument(
        "--shopify-rate-limit-per-min",
        type=int,
        help="SHOPIFY_RATE_LIMIT_PER_MIN, a Shopify connection's request cap (unset: the default 6000)",
    )
    parser.add_argument(
        "--pacing",
        choices=("shared", "local"),
        default="shared",
        help="USE_PREFECT_RATE_LIMITS true (shared, as with a server) or false (local)",
    )
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args(argv)
    if args.child:
        return child()

    from sync_core.sandbox.catalogue import SandboxConfig
    from sync_core.sandbox.server import running_sandbox

    config = SandboxConfig(
        products=max(1, args.variants // SAZITO_VARIANTS),
        variants=SAZITO_VARIANTS,
        unlinked_fraction=0.0,
        seed=args.seed,
        woo_variants=args.variants,
        shopify_variants=args.variants,
        shopify_bucket_max=args.bucket,
        shopify_restore_rate=args.restore_rate,
    )
    work = Path(tempfile.mkdtemp(prefix="bench-stores-"))
    with ExitStack() as stack:
        api = stack.enter_context(prefect_server(args.prefect_db))
        started = time.perf_counter()
        sandbox = stack.enter_context(running_sandbox(config))
        print(f"sandbox up in {time.perf_counter() - started:.1f} s at {sandbox.url}")
        db_url = stack.enter_context(state_store(args.database, work))
        env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "PREFECT_API_URL": api,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "LOG_FILE": "",
            "STORES_CONCURRENCY": str(args.concurrency),
            "WOO_RATE_PER_S": f"{args.woo_rate:g}",
            "USE_PREFECT_RATE_LIMITS": "true" if args.pacing == "shared" else "false",
        }
        if args.shopify_rate_limit_per_min:
            env["SHOPIFY_RATE_LIMIT_PER_MIN"] = str(args.shopify_rate_limit_per_min)
        add_stores(db_url, sandbox, env)
        sizes = {p: len(rows) for p, rows in snapshot(sandbox.state).items()}
        print(
            f"stores: {', '.join(f'{NAMES[p]} ({p}) {sizes[p]:,} variants' for p in PLATFORMS)}; "
            f"state store {args.database}, Prefect server {args.prefect_db}"
        )
        print(
            f"paces: WOO_RATE_PER_S={env['WOO_RATE_PER_S']} (the sandbox has no limit), "
            f"SHOPIFY_RATE_LIMIT_PER_MIN={env.get('SHOPIFY_RATE_LIMIT_PER_MIN', '6000 (default)')}, "
            f"USE_PREFECT_RATE_LIMITS={env['USE_PREFECT_RATE_LIMITS']}, STORES_CONCURRENCY={args.concurrency}; "
            f"Shopify bucket {args.bucket} points, restore {args.restore_rate} points/s"
        )
        ok = run_round("first", sandbox.state, db_url, env, work, args, None)
        before = snapshot(sandbox.state)
        touched, redated = change_stores(sandbox.state, args.changes, args.seed)
        after = snapshot(sandbox.state)
        differ = {p: differing(before[p], after[p]) for p in PLATFORMS}
        changed = {p: (len(differ[p]), len(differ[p] | redated[p])) for p in PLATFORMS}
        print(f"\nchanged {args.changes:.0%} of each store (half stock, half price):")
        for p in PLATFORMS:
            print(
                f"  {p:<12} {touched[p]} variants changed; {changed[p][0]} oracle rows now differ; "
                f"{changed[p][1]} differ or had their modification time moved (the rows a run must write)"
            )
        ok = run_round("second", sandbox.state, db_url, env, work, args, changed) and ok
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"\npeak RSS of this process (the sandbox serving the three stores): {own} MB; logs in {work}")
    print("result: every store synced and equal to its oracle" if ok else "result: FAILED (see above)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
