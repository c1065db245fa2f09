"""The pipelines the fault matrix drives, each as the command line runs it against the sandbox (through the
fault proxy), with the oracle that says whether its target is right and the count of values written more
than once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import select

from sync_core.db import session_scope
from sync_core.sandbox.server import SandboxHandle
from sync_core.tables import SyncRun


def _get(prefix: str) -> Callable[[str, str], bool]:
    return lambda method, path: method == "GET" and prefix in path


def _writes(prefix: str) -> Callable[[str, str], bool]:
    return lambda method, path: method in ("POST", "PUT", "PATCH") and prefix in path


def pushed_total(db_url: str, pipeline: str) -> int:
    """Values the runs of ``pipeline`` (any connection) recorded as written."""
    with session_scope(db_url) as session:
        query = select(sa.func.coalesce(sa.func.sum(SyncRun.pushed), 0)).where(
            sa.or_(SyncRun.pipeline == pipeline, SyncRun.pipeline.startswith(f"{pipeline}@"))  # type: ignore[attr-defined]
        )
        return int(session.exec(query).one())


def table_rows(db_url: str, model: Any, **where: Any) -> list[Any]:
    with session_scope(db_url) as session:
        query = select(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return list(session.exec(query))


@dataclass(frozen=True)
class Subject:
    """One pipeline in the matrix.

    ``argv``: its run on the command line; ``reads`` / ``writes``: the requests a read / write fault may spoil
    (``writes`` None: its target is a table here, not an API); ``setup``: what it needs before a first run
    (tracked parts, a store integration), given the environment's settings; ``wrong``: how far its target is
    from the oracle (None: right); ``twice``: values written more than once (beyond the first write of each).
    ``invalid_builtin``: the source always serves records the pipeline must quarantine (no proxy needed).
    """

    name: str
    argv: tuple[str, ...]
    reads: Callable[[str, str], bool]
    wrong: Callable[[SandboxHandle, str], str | None]
    twice: Callable[[SandboxHandle, str], int]
    writes: Callable[[str, str], bool] | None = None
    setup: Callable[[SandboxHandle, str, str], None] | None = None
    invalid_builtin: str | None = None
    read_skip: int = 1  # reads let through before a read fault (so it lands in the middle of the run)
    records: Callable[[str, str], bool] | None = None  # the reads an "invalid" fault spoils (else ``reads``)
    records_skip: int | None = None  # (else ``read_skip``)
    reauthenticates: bool = False  # a 401 makes it fetch a new access token and go on (OAuth)


# ----- anar360-sazito: a remote target (Sazito) behind the ledger ------------------------------------------
def _products_wrong(sandbox: SandboxHandle, db_url: str) -> str | None:
    from sync_core.sandbox.verify import verify_store

    report = verify_store(sandbox.state)
    return None if report.ok else f"{len(report.wrong)} store variants differ from the oracle"


def _products_twice(sandbox: SandboxHandle, db_url: str) -> int:
    return int(sandbox.state.stats()["noop_writes"])  # writes that set a value the variant already held


PRODUCTS = Subject(
    "anar360-sazito",
    ("sync", "products", "--full"),
    reads=_get("/anar360"),
    read_skip=2,  # the pre-run check, page 1: the fault meets page 2 of 3
    writes=_writes("/sazito"),
    wrong=_products_wrong,
    twice=_products_twice,
)


# ----- fever-events: one XML download into the events table ------------------------------------------------
def _events_wrong(sandbox: SandboxHandle, db_url: str) -> str | None:
    from sync_core.sandbox.fever_oracle import expected_events
    from sync_core.tables import Event

    config = sandbox.state.config.fever_feed()
    expected = expected_events(config, sandbox.state.fever_fetches)
    held = {(e.base_plan_id, e.plan_id) for e in table_rows(db_url, Event)}
    missing, extra = set(expected) - held, held - set(expected)
    return f"{len(missing)} events missing, {len(extra)} extra" if missing or extra else None


def _table_twice(pipeline: str, model: Any, **where: Any) -> Callable[[SandboxHandle, str], int]:
    def twice(sandbox: SandboxHandle, db_url: str) -> int:
        return pushed_total(db_url, pipeline) - len(table_rows(db_url, model, **where))

    return twice


def _events_twice(sandbox: SandboxHandle, db_url: str) -> int:
    """The feed changes between downloads (the sandbox's fetch number drives it): a second run that read it
    rightly writes the events that changed since the first's download; beyond those, a row written twice."""
    from sync_core.sandbox.fever_oracle import expected_events

    config, last = sandbox.state.config.fever_feed(), sandbox.state.fever_fetches
    final = expected_events(config, last)
    with session_scope(db_url) as session:
        query = select(SyncRun).where(SyncRun.pipeline == "fever-events")
        stored = [run for run in session.exec(query) if run.status in ("success", "partial") and run.pushed]
    if len(stored) < 2 or last < 2:
        needed = len(final)
    else:
        before = expected_events(config, last - 1)
        needed = len(before) + sum(1 for key, value in final.items() if before.get(key) != value)
    return pushed_total(db_url, "fever-events") - needed


EVENTS = Subject(
    "fever-events",
    ("sync", "events"),
    reads=_get("/fever"),
    wrong=_events_wrong,
    twice=_events_twice,
    invalid_builtin="the feed always holds a plan with an impossible date",
    read_skip=0,  # one download: the fault meets it
)


# ----- ingram-catalogue: tracked parts priced into ingram_products ----------------------------------------
def _ingram_setup(sandbox: SandboxHandle, db_url: str, _: str) -> None:
    from sync_core.pipelines.ingram.tracking import track

    track(db_url, {part: "fault-matrix" for part in sandbox.state.ingram_parts[:24]})


def _ingram_wrong(sandbox: SandboxHandle, db_url: str) -> str | None:
    from sync_core.pipelines.ingram.tables import IngramProduct
    from sync_core.sandbox.ingram_oracle import verify_ingram_table

    rows = [row.model_dump() for row in table_rows(db_url, IngramProduct)]
    report = verify_ingram_table(sandbox.state, rows, sandbox.state.ingram_parts[:24], details=True)
    return None if report.ok else str(report.to_json())[:300]


def _ingram_twice(sandbox: SandboxHandle, db_url: str) -> int:
    from sync_core.pipelines.ingram.tables import IngramProduct

    return _table_twice("ingram-catalogue", IngramProduct)(sandbox, db_url)


INGRAM = Subject(
    "ingram-catalogue",
    ("sync", "ingram", "--force"),
    reads=lambda method, path: "/ingram" in path and "token" not in path,
    wrong=_ingram_wrong,
    twice=_ingram_twice,
    setup=_ingram_setup,
    records=lambda method, path: "priceandavailability" in path,  # the parts' records (details: free-form)
    records_skip=0,
    reauthenticates=True,
)


# ----- ploomes-products ------------------------------------------------------------------------------------
def _ploomes_wrong(sandbox: SandboxHandle, db_url: str) -> str | None:
    from sync_core.pipelines.ploomes.tables import PloomesProduct
    from sync_core.sandbox.ploomes_oracle import verify_ploomes_table

    rows = [row.model_dump() for row in table_rows(db_url, PloomesProduct)]
    report = verify_ploomes_table(sandbox.state, rows)
    return None if report.ok else str(report.to_json())[:300]


def _ploomes_twice(sandbox: SandboxHandle, db_url: str) -> int:
    from sync_core.pipelines.ploomes.tables import PloomesProduct

    return _table_twice("ploomes-products", PloomesProduct)(sandbox, db_url)


PLOOMES = Subject(
    "ploomes-products",
    ("sync", "ploomes", "--strategy", "batch"),
    reads=lambda method, path: method == "GET" and "/ploomes/Products?" in path,  # after groups and families
    read_skip=0,
    wrong=_ploomes_wrong,
    twice=_ploomes_twice,
)


# ----- store-inventory: a Shopify and a WooCommerce store read into inventory_items -------------------------
def _store_setup(platform: str, name: str) -> Callable[[SandboxHandle, str, str], None]:
    def setup(sandbox: SandboxHandle, db_url: str, proxy_url: str) -> None:
        import os

        from sync_core.pipelines.stores import integrations
        from sync_core.settings import load_settings

        url, credential = sandbox.stores[platform]
        variable = f"STORE_{name.upper().replace('-', '_')}_KEY"
        os.environ[variable] = credential  # the matrix restores the environment after each case
        integrations.add(
            load_settings(),
            integrations.NewIntegration(
                name=name,
                platform=platform,
                store_url=url.replace(sandbox.url, proxy_url),
                credentials_env=variable,
            ),
        )

    return setup


def _store_wrong(platform: str, name: str) -> Callable[[SandboxHandle, str], str | None]:
    def wrong(sandbox: SandboxHandle, db_url: str) -> str | None:
        from sync_core.sandbox.store_oracles import compare_inventory, store_oracle

        found = compare_inventory(db_url, name, store_oracle(sandbox.state, platform))
        return None if not any(found.values()) else ", ".join(f"{k} {len(v)}" for k, v in found.items() if v)

    return wrong


def _store_twice(name: str) -> Callable[[SandboxHandle, str], int]:
    def twice(sandbox: SandboxHandle, db_url: str) -> int:
        from sync_core.pipelines.stores.tables import InventoryItem

        return _table_twice("store-inventory", InventoryItem, integration=name)(sandbox, db_url)

    return twice


SHOPIFY = Subject(
    "store-inventory (shopify)",
    ("sync", "stores", "--store", "sho"),
    reads=lambda method, path: "/shopify" in path and "graphql" in path,
    read_skip=2,  # the pre-run check and the run's first query: the fault meets the variants page
    wrong=_store_wrong("shopify", "sho"),
    twice=_store_twice("sho"),
    setup=_store_setup("shopify", "sho"),
)
WOOCOMMERCE = Subject(
    "store-inventory (woocommerce)",
    ("sync", "stores", "--store", "woo"),
    reads=_get("/woocommerce"),
    read_skip=3,  # the pre-run check's two reads and the run's own check: the fault meets products page 1
    wrong=_store_wrong("woocommerce", "woo"),
    twice=_store_twice("woo"),
    setup=_store_setup("woocommerce", "woo"),
)

SUBJECTS = (PRODUCTS, EVENTS, INGRAM, PLOOMES, SHOPIFY, WOOCOMMERCE)
