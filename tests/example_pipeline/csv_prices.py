"""csv-prices: a CSV file of prices (sku,name,price) into a table — the example of docs/adding-a-pipeline.md.

Everything a pipeline needs is here: a connector (the source), a table and its target, a job (start, fetch,
prepare, map, summary) and the declaration, registered by ``install()``. No engine file knows it exists.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from sync_core.engine.connections import Connection
from sync_core.engine.job import Mapped, RunContext, Start, SyncCounts
from sync_core.engine.registry import register
from sync_core.engine.spec import SOURCE, Pipeline
from sync_core.errors import ConfigError
from sync_core.models import PageRequest, RejectedRecord, SourcePage, Write
from sync_core.settings import Settings
from sync_core.targets.table import TableTarget

PAGE_ROWS = 2


class ExampleBase(SQLModel, registry=registry()):
    """The example's tables have their own registry: they are not tables of the state store."""


class Price(ExampleBase, table=True):
    """The example's table."""

    __tablename__ = "example_prices"

    sku: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=80)
    price: Decimal = Field(sa_column=sa.Column(sa.Numeric(12, 2), nullable=False))
    fingerprint: str = Field(max_length=64)
    first_seen_at: datetime = Field(sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False))
    last_seen_at: datetime = Field(sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False))
    last_changed_at: datetime = Field(sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False))


class CsvFile:
    """The source connector: a CSV file named by its connection's ``file://`` URL, read in pages."""

    provider = "csv"
    base_setting = None  # no default connection: each file is a connection of CONNECTIONS
    secret_setting = None
    rate_setting = None
    needs: tuple[str, ...] = ()

    def __init__(self, settings: Settings, connection: Connection, **wiring: Any) -> None:
        self.path = Path(unquote(urlsplit(connection.base_url).path))

    def check(self, *, reuse_s: float = 0.0) -> None:
        if not self.path.is_file():
            raise ConfigError(f"csv: no file at {self.path}")

    def fetch_page(self, request: PageRequest) -> SourcePage:
        with self.path.open(newline="") as f:
            rows = list(csv.DictReader(f))
        start = (request.number - 1) * request.size
        chunk = rows[start : start + request.size]
        records, rejects = [], []
        for line, row in enumerate(chunk, start=start + 2):
            try:
                records.append((row["sku"].strip(), row["name"].strip(), Decimal(row["price"])))
            except (KeyError, AttributeError, InvalidOperation):
                rejects.append(RejectedRecord(row.get("sku"), "bad-row", f"line {line}: {row}", dict(row)))
        more = start + request.size < len(rows)
        following = PageRequest(number=request.number + 1, size=request.size) if more else None
        return SourcePage(request, records, rejects, following, total=len(rows))

    def close(self) -> None:
        pass


class PricesJob:
    map_context = "map"
    journal_noun = None

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.target = TableTarget(ctx.settings.database_url, Price, content=("name", "price"), key="sku")

    def start(self, strategy: str) -> Start:
        self.ctx.connector(SOURCE).check()
        return Start(PageRequest(number=1, size=PAGE_ROWS))

    def fetch(self, request: PageRequest) -> list[SourcePage]:
        return [self.ctx.connector(SOURCE).fetch_page(request)]

    def prepare(self, pages: Sequence[SourcePage], *, dry_run: bool) -> None:
        return None

    def map(self, pages: Sequence[SourcePage], prepared: None) -> Mapped:
        rows = [r for page in pages for r in page.records]
        desired = [
            Write("row", sku, sku, {"sku": sku, "name": name, "price": str(price)})
            for sku, name, price in rows
        ]
        return Mapped(desired=desired, clean=[sku for sku, _, _ in rows], mapped=len(rows))

    def summary(self, total: SyncCounts) -> dict[str, Any]:
        return {"inserted": total.inserted}

    def close(self) -> None:
        pass


PIPELINE = Pipeline(
    name="csv-prices",
    title="a CSV file of prices into a table (the example pipeline)",
    connectors={SOURCE: CsvFile},
    strategies=("full",),
    job=PricesJob,
)


def install() -> Pipeline:
    """Register the example (a plug-in would do this when it is imported or set up)."""
    return register(PIPELINE)
