"""Running a pipeline from the command line: the pre-run checks, the flow in this process, its summary on
stdout and a one-line verdict on stderr."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from sync_core.errors import SyncError

EXIT_OK, EXIT_FAILED, EXIT_BUSY = 0, 1, 75


def read_settings(**overrides: object) -> Any:
    from sync_core.settings import load_settings

    return load_settings(**overrides)


def preflight(pipeline: str, roles: Sequence[str], **overrides: object) -> Any:
    """Settings, database, and the check of every connection the run uses (reachable, credentials
    accepted where a harmless call exists), before any flow starts: a mistake is one line, in a second."""
    from sync_core.db import upgrade
    from sync_core.engine.registry import PIPELINES

    loaded = read_settings(**overrides)
    connectors = [PIPELINES[pipeline].connectors[role] for role in roles]
    loaded.require(*[name for cls in connectors for name in cls.needs])
    upgrade(loaded.database_url)
    for cls in connectors:
        with cls(loaded) as connector:
            connector.check()
    return loaded


def print_summary(summary: dict[str, Any], out: Any = sys.stdout) -> None:
    """Aligned `name  value` lines of a run summary."""
    skip = {"diffs", "reasons", "replay"}
    for name, value in summary.items():
        if name not in skip and value is not None:
            print(f"  {name:<12} {value}", file=out)
    for group in ("reasons", "replay"):
        for reason, n in sorted((summary.get(group) or {}).items()):
            print(f"  {group[:-1] if group == 'reasons' else group:<12} {reason}: {n}", file=out)
    for diff in summary.get("diffs") or []:
        print(
            f"  would write  {diff['kind']} of {diff['target']} ({diff['source']}): {diff['value']}", file=out
        )


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def run_flow(settings: Any, args: argparse.Namespace, flow: Callable[..., Any], **params: Any) -> int:
    """Run a flow here; its progress goes to stdout, its verdict to stderr in one line (see console.py)."""
    from prefect.exceptions import CancelledRun

    from catalog_sync.console import prepare_flow_run

    if getattr(args, "wait", None) is not None:  # read by the flow's lease, like every setting
        os.environ["RUN_LEASE_WAIT_S"] = f"{args.wait:g}"
    prepare_flow_run(settings.log_file)
    log = f" (full log: {settings.log_file})" if settings.log_file else ""
    try:
        summary = flow(**params)
    except CancelledRun as exc:  # the flow returns Cancelled only when another run holds the lease
        print(f"catalog-sync: {first_line(exc)}; try again later, or pass --wait SECONDS", file=sys.stderr)
        return EXIT_BUSY
    except Exception as exc:  # the run is recorded as failed; say why in one line
        why = first_line(exc) if isinstance(exc, SyncError) else f"{type(exc).__name__}: {first_line(exc)}"
        print(f"catalog-sync: run failed: {why}{log}", file=sys.stderr)
        return EXIT_FAILED
    print_summary(summary)
    if summary.get("status") == "failed":
        print(f"catalog-sync: run failed: {summary.get('error')}{log}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
