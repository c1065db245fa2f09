"""`catalog-sync monitor [RUN_ID] [--refresh N]`: one run's progress, refreshed in place until it ends.

Reads the run's row in the state store (its counters and the progress its runner keeps there, see
``flows.artifacts.progress_row``) and its audit rows, so it watches a run in any process or on any worker
that shares the database.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from sync_core.errors import ConfigError

ENDED_OK = ("success", "partial")


def _refresh(text: str) -> float:
    value = float(text)
    if not 0.1 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"must be 0.1 to 3600 seconds, not {text}")
    return value


def add_monitor_command(sub: Any) -> None:
    monitor = sub.add_parser(
        "monitor",
        help="watch a run live (the latest by default): batches, parts, failures, requests, 429s, ETA",
        description="Print a run's progress, refreshed in place on a terminal (a line per refresh otherwise), "
        "until it ends: batches done of total, items, failures, requests, 429 answers, time waited on rate "
        "limits and an ETA. Exit 0 when the run ends success or partial, 1 otherwise.",
    )
    monitor.add_argument(
        "run_id", nargs="?", type=int, metavar="RUN_ID", help="a run id (`catalog-sync runs`)"
    )
    monitor.add_argument(
        "--refresh", type=_refresh, default=2.0, metavar="N", help="seconds between refreshes (default 2)"
    )
    monitor.set_defaults(handler=cmd_monitor)


def _clock(seconds: float) -> str:
    from sync_core.engine.progress import clock_text

    return clock_text(seconds)


def monitor_line(run: Any, requests: dict[str, int]) -> str:
    """One line of a run's state (``run``: its sync_runs row; ``requests``: its audit rows' counts, "requests"
    and "throttled")."""
    progress: dict[str, Any] = dict(run.progress or {})
    parts = [f"run {run.id} {run.pipeline} {run.scope}: {run.status}"]
    if progress.get("elapsed_s") is not None:
        parts[0] += f" {_clock(progress['elapsed_s'])}"
    done, total = progress.get("batches_done"), progress.get("batches_total")
    noun = "batches"
    if done is None:
        done, total, noun = progress.get("pages", 0), progress.get("expected_pages"), "pages"
    if total:
        parts.append(f"{noun} {done:,}/{total:,} {int(100 * min(done, total) / total)}%")
    else:
        parts.append(f"{noun} {done:,}")
    for key, label in (("priced", "priced"), ("details", "details")):
        if key in progress:
            parts.append(f"{label} {progress[key]:,}")
    parts.append(f"written {run.pushed:,}, unchanged {run.unchanged:,}, failures {run.failed:,}")
    sent = max(progress.get("requests", 0), requests.get("requests", 0))
    throttled = max(progress.get("throttled", 0), requests.get("throttled", 0))
    parts.append(f"requests {sent:,}, 429s {throttled:,}")
    if progress.get("rate_wait_s"):
        parts.append(f"waited {progress['rate_wait_s']:,.1f} s on rate limits")
    if run.status == "running" and progress.get("eta_s") is not None:
        parts.append(f"ETA {_clock(progress['eta_s'])}")
    if run.status not in ("running",) and run.error:
        parts.append(run.error.splitlines()[0][:200])
    return " · ".join(parts)


def request_counts(url: str, run_id: int) -> dict[str, int]:
    """The run's audited requests and its 429 answers so far."""
    import sqlalchemy as sa
    from sqlmodel import col

    from sync_core.db import session_scope
    from sync_core.tables import ExternalRequest

    with session_scope(url) as session:
        query = sa.select(
            sa.func.count(), sa.func.sum(sa.case((col(ExternalRequest.status) == 429, 1), else_=0))
        ).where(col(ExternalRequest.run_id) == run_id)
        count, throttled = session.execute(query).one()
    return {"requests": int(count or 0), "throttled": int(throttled or 0)}


def cmd_monitor(args: argparse.Namespace) -> int:
    from catalog_sync.runner import read_settings
    from sync_core.db import upgrade
    from sync_core.engine.runs import get_run, recent_runs

    url = read_settings().database_url
    upgrade(url)
    if args.run_id is None:
        latest = recent_runs(url, limit=1)
        if not latest:
            raise ConfigError("no run yet: start one (`catalog-sync sync ...`), then monitor it")
        run_id: int = latest[0].id or 0
    else:
        run_id = args.run_id
    tty = sys.stdout.isatty()
    while True:
        run = get_run(url, run_id=run_id)
        if run is None:
            raise ConfigError(f"no run {run_id} (see `catalog-sync runs`)")
        line = monitor_line(run, request_counts(url, run_id))
        if tty:
            sys.stdout.write(f"\r\x1b[2K{line}")
        else:
            sys.stdout.write(line + "\n")
        sys.stdout.flush()
        if run.status != "running":
            if tty:
                sys.stdout.write("\n")
            return 0 if run.status in ENDED_OK else 1
        time.sleep(args.refresh)
