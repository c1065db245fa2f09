"""The life of every run, however it ends: lease and row on entry; status, cursor, lease, summary, report
and event on exit.

    try:
        run = open_pipeline_run(spec, strategy, connections={"target": "store-b"})
    except PipelineBusy as busy:
        return skipped(busy)          # the flow run ends Cancelled, with the reason
    with run:
        ...                           # tasks; run.result / run.extra / run.move_cursor_on_success(...)
    return run.summary

The exit decides the status from what ended the block: nothing → ``success`` (``partial`` when items failed),
an ``Exception`` → ``failed``, SIGTERM / Ctrl-C / a cancellation from the UI (Prefect delivers those as
``TerminationSignal`` and ``KeyboardInterrupt``, BaseExceptions) → ``cancelled``, any other BaseException →
``crashed``. Only ``success`` and ``partial`` move the cursor. A process that dies without reaching the exit
is found by its lapsed lease (sync_core.engine.lease).
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any

from prefect import get_run_logger
from prefect.client.schemas.objects import State
from prefect.exceptions import MissingContextError, TerminationSignal
from prefect.states import Cancelled

from flows.artifacts import publish_run
from sync_core.db import upgrade
from sync_core.engine.connections import pipeline_connections, run_key
from sync_core.engine.context import current_settings
from sync_core.engine.job import ITEM_COUNTERS, SyncCounts
from sync_core.engine.lease import LeasedRun, LeaseKeeper, close_leased_run, open_leased_run
from sync_core.engine.run_view import run_view
from sync_core.engine.runs import COUNTERS, get_run
from sync_core.engine.spec import Pipeline
from sync_core.errors import PipelineBusy
from sync_core.notify import send_alert
from sync_core.settings import Settings
from sync_core.tables import SyncRun
from tasks.runtime import current_flow_run_id, open_resources, release


def _logger() -> logging.Logger | logging.LoggerAdapter[Any]:
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger(__name__)


def open_pipeline_run(
    spec: Pipeline,
    scope: str,
    *,
    dry_run: bool = False,
    connections: dict[str, str] | None = None,
    params: dict[str, Any] | None = None,
    part: str | None = None,
) -> PipelineRun:
    """Migrate the store and open a run of ``spec`` on its connections (``connections``: role → name, the
    defaults otherwise) under the lease of that pipeline and those connections (waiting up to
    RUN_LEASE_WAIT_S for a run that holds it); raises PipelineBusy when it is still held, ConfigError /
    PersistenceError. A run of one ``part`` of the work (a shard: "2/4") has a lease and run row of its own,
    ``<key>#<part>``, and shares the pipeline's failures, cursors and journal."""
    settings, params = current_settings(), dict(params or {})
    if spec.check_params is not None:
        spec.check_params(params)
    given = {setting: params[name] for name, setting in spec.param_settings.items() if params.get(name)}
    settings = settings.model_copy(update=given) if given else settings
    chosen = pipeline_connections(settings, spec, connections)
    key = run_key(spec.name, chosen)
    upgrade(settings.database_url)
    leased = open_leased_run(
        settings.database_url,
        lease=f"{key}#{part}" if part else key,
        scope=scope,
        dry_run=dry_run,
        flow_run_id=current_flow_run_id(),
        ttl_s=settings.run_lease_ttl_s,
        wait_s=settings.run_lease_wait_s,
        on_wait=_logger().warning,
    )
    open_resources(settings, spec, run_id=leased.run_id, key=key, connections=chosen, params=params)
    return PipelineRun(settings, leased, scope=scope, dry_run=dry_run)


def skipped(busy: PipelineBusy) -> State[Any]:
    """The flow run's end when another run holds the lease: Cancelled, not Failed (nothing went wrong)."""
    _logger().warning("not run: %s", busy)
    return Cancelled(message=f"not run: {busy}")


def interruption(exc: BaseException) -> str:
    """What interrupted a run, in words."""
    if isinstance(exc, TerminationSignal):
        return f"interrupted by signal {exc.signal} (SIGTERM: stopped, or cancelled from the Prefect UI)"
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (Ctrl-C)"
    return f"crashed: {type(exc).__name__}: {exc}"


class PipelineRun:
    """An open run; use as a context manager around the run's work (see the module docstring)."""

    def __init__(self, settings: Settings, leased: LeasedRun, *, scope: str, dry_run: bool) -> None:
        self.settings, self.leased = settings, leased
        self.id, self.pipeline, self.scope, self.dry_run = leased.run_id, leased.lease, scope, dry_run
        self.result: SyncCounts | None = None  # item counts the flow gathered (a dry run records none)
        self.extra: dict[str, Any] = {}  # flow-specific summary entries
        self.summary: dict[str, Any] = {}
        self._cursor: tuple[str, str] | None = None
        self._held: tuple[str, ...] = ()
        self._keeper = LeaseKeeper(settings.database_url, leased)

    def move_cursor_on_success(self, key: str, value: str) -> None:
        """Move cursor ``key`` to ``value`` when the run ends success or partial (never on a dry run)."""
        self._cursor = (key, value)

    def hold(self, reasons: tuple[str, ...]) -> None:
        """End the run ``held`` (the guardrail tripped: ``reasons``, one line each) when nothing else stops it."""
        self._held = reasons

    def __enter__(self) -> PipelineRun:
        self._keeper.__enter__()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._keeper.__exit__()
        requests = release(self.id)
        status, error = self._outcome(exc)
        if self._keeper.lost and error is None:
            error = "lost its lease to another run while it ran"
        # A held run's writes wait in held_writes: its window was read, so its cursor moves too.
        moves = status in ("success", "partial", "held") and not self.dry_run
        try:
            row = close_leased_run(
                self.settings.database_url,
                self.leased,
                status=status,
                error=error,
                requests=requests,
                cursor=self._cursor if moves else None,
                summary=self.extra,
            )
        except Exception:
            if exc is None:
                raise
            # The row stays "running" until its lease lapses; then it is closed as crashed.
            _logger().exception("run %s: could not record how it ended (%s)", self.id, status)
            return
        self.summary = run_summary(row, self.result) | self.extra
        if status in ("cancelled", "crashed"):
            _logger().warning("run %s %s; the cursor did not move", self.id, error)
        publish_run(self.summary)
        if status == "held":
            self._alert_held(error or "")
        counts = ", ".join(f"{name} {self.summary[name]}" for name in COUNTERS)
        _logger().info("run %s of %s %s: %s", self.id, self.pipeline, status, counts)

    def _alert_held(self, error: str) -> None:
        """Tell the operators through the alert block (best effort: the run's row and log say it too)."""
        _logger().warning("run %s of %s %s", self.id, self.pipeline, error)
        subject = f"catalog-sync: run {self.id} of {self.pipeline} held by the guardrail"
        try:
            send_alert(self.settings, subject, error)
        except Exception as exc:
            _logger().warning("run %s: could not send the held alert (%s)", self.id, exc)

    def _outcome(self, exc: BaseException | None) -> tuple[str, str | None]:
        if exc is None and self._held:
            held = "; ".join(self._held)
            return "held", (
                f"held by the guardrail: {held}. Nothing of that was sent: `catalog-sync release {self.id}` "
                f"sends the held writes, `catalog-sync discard {self.id}` drops them"
            )
        if exc is None:
            failed = (self.result.failed if self.dry_run and self.result else 0) or _failed(self)
            return ("partial" if failed else "success"), None
        if isinstance(exc, Exception):
            return "failed", f"{type(exc).__name__}: {exc}"
        status = "cancelled" if isinstance(exc, TerminationSignal | KeyboardInterrupt) else "crashed"
        return status, interruption(exc)


def _failed(run: PipelineRun) -> int:
    row = get_run(run.settings.database_url, run_id=run.id)
    return row.failed if row is not None else 0


def run_summary(run: SyncRun, result: SyncCounts | None) -> dict[str, Any]:
    """The dict a flow returns and the CLI prints: the row's counters (a dry run's come from ``result``)."""
    summary = run_view(run)
    if result is not None:
        summary["reasons"] = dict(result.reasons)
        summary["created"] = result.created
        if run.dry_run:  # nothing was recorded: the counts are what the run would have done
            summary.update({name: getattr(result, name) for name in ITEM_COUNTERS}, diffs=result.diffs)
    return summary
