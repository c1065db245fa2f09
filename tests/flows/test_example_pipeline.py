"""The example pipeline of docs/adding-a-pipeline.md (tests/example_pipeline), declared and registered
outside the engine, runs on the engine's runner like the built-in ones: only changed rows are written, a
bad row is quarantined and the rest goes on, and its connection is named, not a default."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from flows.pipeline_run import sync_pipeline
from sync_core.db import get_engine, session_scope
from sync_core.engine.context import pinned
from sync_core.engine.failures import list_failures
from sync_core.engine.registry import pipelines, unregister
from sync_core.errors import ConfigError
from sync_core.settings import Settings, load_settings
from tests.example_pipeline.csv_prices import PIPELINE, ExampleBase, Price, install


@pytest.fixture(autouse=True)
def installed() -> Iterator[None]:
    """The example is registered for these tests only (the other tests see the built-in pipelines)."""
    install()
    yield
    unregister(PIPELINE.name)


@pytest.fixture
def prices_csv(tmp_path: Path) -> Path:
    path = tmp_path / "prices.csv"
    path.write_text("sku,name,price\nA1,Apple,1.20\nB2,Bread,2.50\nC3,Cheese,oops\nD4,Dates,4.00\n")
    return path


@pytest.fixture
def settings(db_url: str, prices_csv: Path, prefect_server: None) -> Iterator[Settings]:
    engine = get_engine(db_url)
    ExampleBase.metadata.drop_all(engine)
    ExampleBase.metadata.create_all(engine)
    conn = {"name": "prices", "provider": "csv", "base_url": prices_csv.as_uri()}
    with pinned(load_settings(database_url=db_url, connections=[conn], failure_retry_base_s=0)) as chosen:
        yield chosen
    ExampleBase.metadata.drop_all(engine)


def rows(url: str) -> dict[str, tuple[str, str]]:
    with session_scope(url) as session:
        return {p.sku: (p.name, str(p.price)) for p in session.exec(select(Price))}


def test_the_example_is_registered_without_an_engine_edit() -> None:
    assert pipelines()["csv-prices"] is PIPELINE


def test_the_example_pipeline_runs_on_the_runner(settings: Settings, prices_csv: Path) -> None:
    first = sync_pipeline("csv-prices", connections={"source": "prices"})
    assert isinstance(first, dict)
    assert (first["status"], first["pipeline"], first["fetched"], first["pushed"], first["failed"]) == (
        "partial",
        "csv-prices@source=prices",
        4,
        3,
        1,
    )
    assert rows(settings.database_url) == {
        "A1": ("Apple", "1.20"),
        "B2": ("Bread", "2.50"),
        "D4": ("Dates", "4.00"),
    }
    [failure] = list_failures(settings.database_url)
    assert (failure.pipeline, failure.context, failure.item_key, failure.reason) == (
        "csv-prices@source=prices",
        "map",
        "C3",
        "bad-row",
    )

    prices_csv.write_text("sku,name,price\nA1,Apple,1.30\nB2,Bread,2.50\nC3,Cheese,3.00\nD4,Dates,4.00\n")
    second = sync_pipeline("csv-prices", connections={"source": "prices"})
    assert isinstance(second, dict)
    assert (second["status"], second["pushed"], second["unchanged"], second["inserted"]) == (
        "success",
        2,
        2,
        1,
    )
    assert rows(settings.database_url)["A1"] == ("Apple", "1.30")
    assert {f.status for f in list_failures(settings.database_url)} == {"resolved"}


def test_a_pipeline_whose_source_has_no_default_connection_names_the_cause(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="csv has no default connection"):
        sync_pipeline("csv-prices")
