"""Every table of the state store, in one module (SQLModel). Migrations live in sync_core/migrations."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def _ts(nullable: bool = False, index: bool = False) -> Any:
    return Field(
        default=None, sa_column=sa.Column(sa.DateTime(timezone=True), nullable=nullable, index=index)
    )


class SyncRun(SQLModel, table=True):
    """One execution of a pipeline (a flow run), with its counters."""

    __tablename__ = "sync_runs"

    id: int | None = Field(default=None, primary_key=True)
    pipeline: str = Field(max_length=64, index=True)
    scope: str = Field(max_length=16)  # full | incremental | retry | catalogue | feed
    # running | success | partial | failed | cancelled (interrupted: SIGTERM, Ctrl-C, cancelled from the UI)
    # | crashed (its process died: found when its lease lapsed)
    status: str = Field(max_length=16, index=True)
    started_at: datetime = Field(sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False, index=True))
    finished_at: datetime | None = _ts(nullable=True)
    fetched: int = 0
    mapped: int = 0
    pushed: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    requests: int = 0
    dry_run: bool = False
    flow_run_id: str | None = Field(default=None, max_length=64)
    error: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    # While it runs: how far it is (pages, items, ETA) and what its job adds (sync_core.engine.progress),
    # for `catalog-sync monitor` in another process.
    progress: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(sa.JSON, nullable=True))
    # What its job added to its summary when it ended (e.g. created, updated, removed), for the run's page.
    summary: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(sa.JSON, nullable=True))


class SyncCursor(SQLModel, table=True):
    """Where a pipeline left off (e.g. the start of its last complete incremental window)."""

    __tablename__ = "sync_cursors"
    __table_args__ = (sa.UniqueConstraint("pipeline", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    pipeline: str = Field(max_length=64)
    key: str = Field(max_length=64)
    value: str = Field(max_length=255)
    moved_at: datetime = Field(sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False))


class Failure(SQLModel, table=True):
    """An item that could not be synced: quarantined record or refused write, replayed later."""

    __tablename__ = "failures"
    __table_args__ = (
        sa.UniqueConstraint("pipeline", "context", "item_key"),
        sa.Index("ix_failures_due", "status", "next_retry_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    pipeline: str = Field(max_length=64)
    context: str = Field(max_length=64)  # e.g. "map", "push:price", "push:stock", "link"
    item_key: str = Field(max_length=128)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    error_class: str = Field(max_length=64)
    reason: str = Field(max_length=64)
    last_error: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    attempts: int = 1
    status: str = Field(default="pending", max_length=16)  # pending | resolved | dead
    first_failed_at: datetime = Field(sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False))
    last_failed_at: datetime = Field(sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False))
    next_retry_at: datetime | None = _ts(nullable=True)
    resolved_at: datetime | None = _ts(nullable=True)


class ExternalRequest(SQLModel, table=True):
    """Audit row for one outbound HTTP attempt."""

    __tablename__ = "external_requests"

    id: int | None = Field(default=None, primary_key=True)
    run_id: int | None = Field(default=None, index=True)
    provider: str = Field(max_length=32, index=True)
    method: str = Field(max_length=8)
    url: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    status: int | None = None
    duration_ms: int = 0
    attempt: int = 1
    outcome: str = Field(max_length=16)  # success | fail | retry | circuit_open | timeout
    correlation_id: str = Field(max_length=64, index=True)
    context: str | None = Field(default=None, max_length=128)
    error: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    request_body: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    response_body: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    started_at: datetime = Field(sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False, index=True))


class JournalEntry(SQLModel, table=True):
    """A semantic event of a run: products fetched, price updated, skipped with reason, circuit opened..."""

    __tablename__ = "integration_events"

    id: int | None = Field(default=None, primary_key=True)
    run_id: int | None = Field(default=None, index=True)
    pipeline: str = Field(max_length=64)
    kind: str = Field(max_length=64, index=True)
    item_key: str | None = Field(default=None, max_length=128)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    created_at: datetime = Field(sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False, index=True))


class ItemLink(SQLModel, table=True):
    """Supplier item ↔ target item, and how the link was made (stored, sku, title, created)."""

    __tablename__ = "item_links"
    __table_args__ = (sa.UniqueConstraint("source", "target", "source_key"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=32)
    target: str = Field(max_length=32)
    source_key: str = Field(max_length=128)
    target_key: str = Field(max_length=128, index=True)
    target_product_key: str | None = Field(default=None, max_length=128)
    method: str = Field(max_length=16)  # sku | title | created | operator
    linked_at: datetime = Field(sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False))
    seen_at: datetime = Field(sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False))


class LedgerEntry(SQLModel, table=True):
    """Per target item and aspect: fingerprint of the value the target is known to hold.

    ``origin`` says how we know: "written" (our write succeeded) or "observed" (read in the catalogue).
    """

    __tablename__ = "ledger"
    __table_args__ = (sa.UniqueConstraint("target", "target_key", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    target: str = Field(max_length=32)
    target_key: str = Field(max_length=128)
    kind: str = Field(max_length=32)
    fingerprint: str = Field(max_length=64)
    value: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    origin: str = Field(max_length=16)
    run_id: int | None = None
    updated_at: datetime = Field(sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False))


class CircuitBreakerRow(SQLModel, table=True):
    """Persisted circuit-breaker state per provider and address, shared by every process."""

    __tablename__ = "circuit_breakers"

    provider: str = Field(primary_key=True, max_length=32)
    address: str = Field(primary_key=True, max_length=255)  # scheme://host:port the circuit protects
    state: str = Field(max_length=16)
    failures: int = 0
    window_started_at: float | None = None
    opened_at: float | None = None
    last_error: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    updated_at: datetime = Field(sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False))


class RunLease(SQLModel, table=True):
    """The right to run one pipeline: held by one run at a time, renewed while its process lives.

    A lease whose ``expires_at`` has passed belongs to a process that died; the next run takes it over.
    """

    __tablename__ = "run_leases"

    name: str = Field(primary_key=True, max_length=128)
    token: str = Field(max_length=64)
    run_id: int | None = None
    holder: str = Field(max_length=255)  # host, pid and Prefect flow run of the holding process
    acquired_at: datetime = Field(sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False))
    expires_at: datetime = Field(sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False))


class CatalogueTitle(SQLModel, table=True):
    """Target variants by normalised title + attribute values, for the opt-in title matching."""

    __tablename__ = "catalogue_titles"
    __table_args__ = (sa.UniqueConstraint("target", "title_key"),)

    id: int | None = Field(default=None, primary_key=True)
    target: str = Field(max_length=32)
    title_key: str = Field(max_length=512)
    target_key: str = Field(max_length=128)
    target_product_key: str | None = Field(default=None, max_length=128)
    seen_at: datetime = Field(sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False))


class Event(SQLModel, table=True):
    """One plan of an online base plan of an events feed. Kept when it leaves the feed (still searchable).

    ``id`` is derived from (base_plan_id, plan_id), so it is stable across syncs; ``fingerprint`` is the digest
    of the content, so a sync writes only the events whose content changed. Feed times are naive and read
    as UTC.
    """

    __tablename__ = "events"
    __table_args__ = (
        sa.UniqueConstraint("base_plan_id", "plan_id"),
        # /search: starts_at >= :from AND ends_at <= :to ORDER BY starts_at, from the index alone.
        sa.Index("ix_events_starts_at_ends_at", "starts_at", "ends_at"),
    )

    id: uuid.UUID = Field(primary_key=True)
    base_plan_id: str = Field(max_length=64)
    plan_id: str = Field(max_length=64)
    title: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    organizer_company_id: str | None = Field(default=None, max_length=64)
    starts_at: datetime = Field(sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False))
    ends_at: datetime = Field(sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False))
    sell_from: datetime = Field(sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False))
    sell_to: datetime = Field(sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False))
    sold_out: bool = False
    min_price: Decimal = Field(sa_column=sa.Column(sa.Numeric(12, 2), nullable=False))
    max_price: Decimal = Field(sa_column=sa.Column(sa.Numeric(12, 2), nullable=False))
    zones: list[dict[str, Any]] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    fingerprint: str = Field(max_length=64)
    first_seen_at: datetime = Field(sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False))
    last_seen_at: datetime = Field(sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False))
    last_changed_at: datetime = Field(sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False))


class HeldWrite(SQLModel, table=True):
    """A write the guardrail kept back (sync_core.engine.guard): deferred while its run reads on, then sent
    when the run's totals pass, or held with its run for an operator to release or discard.

    ``before`` is the value the ledger said the target held when the write was planned.
    """

    __tablename__ = "held_writes"

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(index=True)
    pipeline: str = Field(max_length=128)
    target: str = Field(max_length=32)
    target_key: str = Field(max_length=128)
    kind: str = Field(max_length=32)
    source_key: str = Field(max_length=128)
    value: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    before: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(sa.JSON, nullable=True))
    reason: str = Field(max_length=32)  # stock-zeroed | price-drop
    status: str = Field(max_length=16)  # deferred|held|sent|released|discarded|superseded|failed|dropped
    created_at: datetime = Field(sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False))


class SourceSnapshot(SQLModel, table=True):
    """Per pipeline and source item: the values the source last gave, when, and the target items they map to
    (what `catalog-sync explain` shows)."""

    __tablename__ = "source_snapshots"
    __table_args__ = (sa.UniqueConstraint("pipeline", "source_key"),)

    id: int | None = Field(default=None, primary_key=True)
    pipeline: str = Field(max_length=128)
    source_key: str = Field(max_length=128)
    values: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    target_keys: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    run_id: int | None = None
    read_at: datetime = Field(sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False))
