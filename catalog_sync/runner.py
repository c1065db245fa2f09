"""Running a pipeline from the command line: the pre-run checks, the flow in this process, its summary on
stdout and a one-line verdict on stderr."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from sync_core.errors import SyncError

if TYPE_CHECKING:
    from sync_core.engine.spec import Pipeline
    from sync_core.settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_HELD, EXIT_BUSY = 0, 1, 3, 75
HEARTBEAT_SETTINGS = ("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "PREFECT_RUNNER_HEARTBEAT_FREQUENCY")


def read_settings(**overrides: object) -> Settings:
    from sync_core.settings import load_settings

    return load_settings(**overrides)


def preflight(
    spec: Pipeline,
    roles: Sequence[str] | None = None,
    choices: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
    params: Mapping[str, Any] | None = None,
) -> Settings:
    """Settings (with ``overrides``), database, and the check of every connection the run uses (``roles``:
    all of the pipeline's when None; ``choices``: role → connection name, else the default ones): reachable,
    credentials accepted where a harmless call exists; then the pipeline's ``preflight`` of the run's
    ``params``. Before any flow starts, a mistake is one line, in a second (ConfigError, ConnectorError,
    PersistenceError)."""
    from sync_core.db import upgrade
    from sync_core.engine.connections import pipeline_connections

    loaded = read_settings(**(overrides or {}))
    if spec.connection_of is not None:  # its connections are rows of its own tables
        upgrade(loaded.database_url)
    connections = pipeline_connections(loaded, spec, choices, roles)
    upgrade(loaded.database_url)
    connectors = {role: spec.connectors[role](loaded, conn) for role, conn in connections.items()}
    try:
        for connector in connectors.values():
            connector.check()
        if spec.preflight is not None:  # the run's own parameters, against the source (a category)
            spec.preflight(connectors, dict(params or {}))
    finally:
        for connector in connectors.values():
            connector.close()
    return loaded


def print_summary(summary: dict[str, Any], out: Any = None) -> None:
    """Aligned `name  value` lines of a run summary (its times and Prefect id are in `runs` and the UI), on
    ``out`` (stdout as it is when called)."""
    out = out or sys.stdout
    skip = {"diffs", "reasons", "replay", "started_at", "finished_at", "flow_run_id"}
    for name, value in summary.items():
        if name not in skip and value is not None:
            if isinstance(value, dict):  # e.g. the guardrail's numbers: "stock_zeroed 0, price_drops 0"
                value = ", ".join(f"{key} {item}" for key, item in value.items())
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


def _without_heartbeats() -> AbstractContextManager[Any]:
    """Prefect joins its flow-heartbeat thread as a run ends, waiting out the thread's one-second sleep: half a
    second, on average, of every command-line run. A run started here is in this process, and its run lease
    (renewed while it lives) is what tells a crash; so heartbeats are off here, unless
    PREFECT_FLOWS_HEARTBEAT_FREQUENCY asks for them. Runs of deployments keep Prefect's default."""
    if any(name in os.environ for name in HEARTBEAT_SETTINGS):
        return nullcontext()
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    return temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None})


def run_flow(settings: Settings, flow: Callable[..., Any], **params: Any) -> int:
    """Run a flow here with ``settings`` pinned (the preflight's: ``--wait`` is their RUN_LEASE_WAIT_S); its
    progress goes to stdout (a progress bar to stderr when it is a terminal), its verdict to stderr in one
    line (see console.py). A flow that ran several pipelines returns a summary each."""
    from prefect.exceptions import CancelledRun

    from catalog_sync.console import prepare_flow_run, showing_progress
    from sync_core.engine.context import pinned

    prepare_flow_run(settings.log_file)
    log = f" (full log: {settings.log_file})" if settings.log_file else ""
    try:
        with pinned(settings), _without_heartbeats(), showing_progress():  # the bar ends before the verdict
            returned = flow(**params)
    except CancelledRun as exc:  # the flow returns Cancelled only when another run holds the lease
        print(f"catalog-sync: {first_line(exc)}; try again later, or pass --wait SECONDS", file=sys.stderr)
        return EXIT_BUSY
    except Exception as exc:  # the run is recorded as failed; say why in one line
        why = first_line(exc) if isinstance(exc, SyncError) else f"{type(exc).__name__}: {first_line(exc)}"
        print(f"catalog-sync: run failed: {why}{log}", file=sys.stderr)
        return EXIT_FAILED
    summaries = returned if isinstance(returned, list) else [returned]
    done = [summary for summary in summaries if isinstance(summary, dict)]
    for n, summary in enumerate(done):
        if n:
            print()
        print_summary(summary)
    errors = [str(summary.get("error")) for summary in done if summary.get("status") == "failed"]
    if errors:
        print(f"catalog-sync: run failed: {'; '.join(errors)}{log}", file=sys.stderr)
        return EXIT_FAILED
    held = [str(summary.get("error")) for summary in done if summary.get("status") == "held"]
    if held:
        print(f"catalog-sync: run {'; '.join(held)}", file=sys.stderr)
        return EXIT_HELD
    # One pipeline of several found another run holding its lease (Cancelled, as one alone raises above).
    busy = [
        first_line(Exception(getattr(state, "message", None) or "another run is going"))
        for state in summaries
        if not isinstance(state, dict)
    ]
    if busy:
        print(f"catalog-sync: {'; '.join(busy)}; try again later, or pass --wait SECONDS", file=sys.stderr)
        return EXIT_BUSY
    return EXIT_OK
