"""The secrets scan (issue 15): every pipeline runs end to end against a sandbox whose accepted credentials
are recognisable fakes, through its good path, a refused credential (itself a recognisable fake) and a
5xx/429 fault; then every row of every table of the state store, every log line captured (Python logging
and Prefect's run logs), every Prefect artifact, every flow and task run's state message and parameters,
every error raised and the CLI's output are searched for those secrets, in every form they travel in
(as is, URL-encoded, base64, HTTP Basic's base64 of ``user:password``). Zero hits. The sandbox itself is
not searched: it legitimately knows them."""

from __future__ import annotations

import base64
import logging
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

from catalog_sync.cli import main
from sync_core.db import get_engine
from sync_core.sandbox.catalogue import SandboxConfig
from sync_core.sandbox.server import SandboxHandle, running_sandbox
from tests.flows.conftest import ingram_env, sandbox_env

pytestmark = pytest.mark.e2e

ANAR360 = "SECRET-anar360-7f3a9c"
SAZITO = "SECRET-sazito-4be01d"
INGRAM = "SECRET-ingram-9c2e71"
PLOOMES_USER = "SECRET-ploomes-user-51d7aa"
PLOOMES_WEBHOOK = "SECRET-ploomes-webhook-0e93f4"
FEVER_PASSWORD = "SECRET-fever-pass-6a1c08"
SHOPIFY = "shpat_SECRET-shopify-d24b7e"
WOO_KEY = "ck_SECRET-woo-key-8812fa"
WOO_SECRET = "cs_SECRET-woo-secret-3307cc"
STORE_SAZITO = SAZITO  # the sandbox's Sazito store accepts the same key
WRONG = {
    "anar360": "SECRET-wrong-anar360-a0b1c2",
    "sazito": "SECRET-wrong-sazito-d3e4f5",
    "ingram": "SECRET-wrong-ingram-061728",
    "ploomes": "SECRET-wrong-ploomes-394a5b",
    "webhook": "SECRET-wrong-webhook-6c7d8e",
    "shopify": "shpat_SECRET-wrong-shopify-9fa0b1",
    "woo": "ck_SECRET-wrong-woo-c2d3e4:cs_SECRET-wrong-woo-f5a6b7",
    "store-sazito": "SECRET-wrong-store-sazito-18293a",
}


def forms(secret: str) -> set[str]:
    """``secret`` as it may travel: as is, URL-encoded, base64 (with and without padding)."""
    encoded = base64.b64encode(secret.encode()).decode()
    return {secret, quote(secret, safe=""), quote_plus(secret), encoded, encoded.rstrip("=")}


def basic(user: str, password: str) -> set[str]:
    """The forms of HTTP Basic's ``user:password``."""
    return forms(f"{user}:{password}")


class Captured(logging.Handler):
    """Every log record of this process but the sandbox's, with the pipeline that was running."""

    def __init__(self, scan: Scan) -> None:
        super().__init__(logging.DEBUG)
        self.scan = scan
        self.seen: set[int] = set()
        self.levels: dict[logging.Logger, int] = {}
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if id(record) in self.seen or record.name.startswith(("uvicorn", "sync_core.sandbox")):
            return
        self.seen.add(id(record))
        try:
            text = self.format(record)  # with the traceback of exc_info, if any
        except Exception as exc:  # noqa: BLE001
            text = f"{record.msg!r} {record.args!r} ({exc!r})"
        self.scan.add("logs", f"{record.name}:{record.lineno} {record.levelname}", text)
        self.scan.logged += 1

    def attach(self) -> None:
        """On the root logger and on every logger that does not propagate to it (Prefect configures its
        logging on first use, which replaces handlers: so again before every run)."""
        loggers = [logging.getLogger(), logging.getLogger("prefect")]
        loggers += [
            logger
            for name, logger in logging.root.manager.loggerDict.items()
            if isinstance(logger, logging.Logger) and not logger.propagate and not name.startswith("uvicorn")
        ]
        for logger in loggers:
            if self not in logger.handlers:
                logger.addHandler(self)
            self.levels.setdefault(logger, logger.level)
            logger.setLevel(logging.DEBUG)

    def detach(self) -> None:
        for logger in [logging.getLogger(), *logging.root.manager.loggerDict.values()]:
            if isinstance(logger, logging.Logger) and self in logger.handlers:
                logger.removeHandler(self)
        for logger, level in self.levels.items():
            logger.setLevel(level)


@dataclass
class Scan:
    """What was captured, as (pipeline, place, where, text), and the needles searched for."""

    needles: dict[str, str] = field(default_factory=dict)  # form -> the secret it is a form of
    texts: list[tuple[str, str, str, str]] = field(default_factory=list)
    pipeline: str = "setup"
    took: list[tuple[str, str, float]] = field(default_factory=list)
    logged: int = 0
    handler: Captured | None = None

    def secret(self, *values: str) -> None:
        for value in values:
            for form in forms(value):
                self.needles.setdefault(form, value)

    def add(self, place: str, where: str, text: Any, pipeline: str | None = None) -> None:
        self.texts.append((pipeline or self.pipeline, place, where, str(text)))

    def error(self, where: str, exc: BaseException) -> None:
        text = "".join(traceback.format_exception(exc))
        self.add("errors", where, f"{exc!s}\n{exc!r}\n{text}")

    def run(self, where: str, call: Callable[[], Any]) -> Any:
        """``call()``; what it returns or raises is captured (a failure is expected on the error paths)."""
        started = time.monotonic()
        if self.handler is not None:
            self.handler.attach()
        try:
            result: Any = call()
        except (Exception, SystemExit) as exc:  # every error is searched, none is expected or unexpected
            self.error(where, exc)
            result = exc
        else:
            self.add("errors", where, repr(result))
        self.took.append((self.pipeline, where, time.monotonic() - started))
        return result

    def hits(self) -> list[tuple[str, str, str, str, str]]:
        """(pipeline, place, where, the secret, an excerpt) of every needle found."""
        found = []
        for pipeline, place, where, text in self.texts:
            for needle, secret in self.needles.items():
                at = text.find(needle)
                if at >= 0:
                    excerpt = text[max(0, at - 80) : at + len(needle) + 40].replace("\n", " ")
                    found.append((pipeline, place, where, secret, excerpt))
        return found


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(
        products=6,
        variants=1,
        seed=13,
        merchant_products=1,
        anar360_token=ANAR360,
        sazito_key=SAZITO,
        fever_base_plans=6,
        fever_plans_per_base=1,
        fever_zones_per_plan=2,
        ingram_parts=30,
        ingram_client_secret=INGRAM,
        ploomes_products=20,
        ploomes_user_key=PLOOMES_USER,
        ploomes_webhook_key=PLOOMES_WEBHOOK,
        woo_variants=6,
        shopify_variants=6,
    )


@pytest.fixture
def sandbox(sandbox_config: SandboxConfig) -> Iterator[SandboxHandle]:
    with running_sandbox(sandbox_config) as handle:
        handle.state.shopify.token = SHOPIFY  # no config knob: the shop's access token, set once started
        handle.state.woo.configure(consumer_key=WOO_KEY, consumer_secret=WOO_SECRET)
        yield handle


@pytest.fixture
def env(
    sandbox: SandboxHandle, db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, prefect_server: None
) -> SandboxHandle:
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    values = sandbox_env(sandbox, db_url) | ingram_env(sandbox)
    values |= {name.upper(): v for name, v in sandbox.settings().items() if name.startswith("ploomes_")}
    feed = httpx.URL(sandbox.settings()["fever_provider_url"]).copy_with(
        username="feeduser", password=FEVER_PASSWORD
    )
    values |= {
        "FEVER_PROVIDER_URL": str(feed),
        "PLOOMES_RATE_PER_S": "1000",
        "WOO_RATE_PER_S": "1000",
        "HTTP_RETRIES": "1",  # a fault run's retries cost time and find nothing more to leak
        "HTTP_RETRY_MAX_WAIT_S": "0.2",
        "CIRCUIT_FAILURE_THRESHOLD": "1000",  # each fault run fails on its own, not on an open circuit
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return sandbox


def add_store(monkeypatch: pytest.MonkeyPatch, name: str, platform: str, url: str, credential: str) -> None:
    from sync_core.pipelines.stores import integrations
    from sync_core.settings import load_settings

    variable = f"STORE_{name.upper().replace('-', '_')}_KEY"
    monkeypatch.setenv(variable, credential)
    integrations.add(
        load_settings(),
        integrations.NewIntegration(name=name, platform=platform, store_url=url, credentials_env=variable),
    )


def run_anar360_sazito(scan: Scan, sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.sync_products import sync_products

    scan.pipeline = "anar360-sazito"
    scan.run("sync-products full", lambda: sync_products(scope="full"))
    sandbox.state.configure(fault_rate=1.0)  # every call 5xx: retries, then the run fails with the bodies
    scan.run("sync-products 5xx", lambda: sync_products(scope="full"))
    sandbox.state.configure(fault_rate=0.0, burst_429_every=3, burst_429_length=1)
    scan.run("sync-products 429", lambda: sync_products(scope="full"))
    sandbox.state.configure(burst_429_every=0, burst_429_length=0)
    with monkeypatch.context() as wrong:
        wrong.setenv("SAZITO_KEY", WRONG["sazito"])
        scan.run("sync-products wrong SAZITO_KEY", lambda: sync_products(scope="full"))
    with monkeypatch.context() as wrong:
        wrong.setenv("ANAR360_TOKEN", WRONG["anar360"])
        scan.run("sync-products wrong ANAR360_TOKEN", lambda: sync_products(scope="full"))


def run_fever(scan: Scan, sandbox: SandboxHandle) -> None:
    from flows.sync_events import sync_events

    scan.pipeline = "fever-events"
    scan.run("sync-events", sync_events)
    sandbox.state.configure(fault_rate=1.0)
    scan.run("sync-events 5xx", sync_events)
    sandbox.state.configure(fault_rate=0.0)


def run_ingram(scan: Scan, sandbox: SandboxHandle, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.sync_ingram import sync_ingram
    from sync_core.pipelines.ingram.tracking import track

    scan.pipeline = "ingram-catalogue"
    parts = sandbox.state.ingram_parts[:12] + sandbox.state.ingram.unknown_parts(2)
    track(db_url, {part: "secrets-scan" for part in parts})
    scan.run("sync-ingram", lambda: sync_ingram(batch_size=10, force=True))
    sandbox.state.configure(ingram_maintenance_s=30.0)  # every call 503
    scan.run("sync-ingram 503", lambda: sync_ingram(batch_size=10, force=True))
    sandbox.state.configure(ingram_maintenance_s=0.0)
    with monkeypatch.context() as wrong:
        wrong.setenv("INGRAM_CLIENT_SECRET", WRONG["ingram"])
        scan.run("sync-ingram wrong INGRAM_CLIENT_SECRET", lambda: sync_ingram(batch_size=10, force=True))


def run_ploomes(scan: Scan, sandbox: SandboxHandle, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from catalog_sync.service import create_app
    from flows.sync_ploomes import sync_ploomes
    from sync_core.pipelines.ploomes.drain import drain_once
    from sync_core.sandbox.ploomes_webhooks import send_webhooks
    from sync_core.settings import load_settings

    scan.pipeline = "ploomes-products"
    scan.run("sync-ploomes batch", lambda: sync_ploomes(strategy="batch"))
    sandbox.state.configure(fault_rate=1.0)
    scan.run("sync-ploomes 5xx", lambda: sync_ploomes(strategy="batch"))
    sandbox.state.configure(fault_rate=0.0)
    with monkeypatch.context() as wrong:
        wrong.setenv("PLOOMES_USER_KEY", WRONG["ploomes"])
        scan.run("sync-ploomes wrong PLOOMES_USER_KEY", lambda: sync_ploomes(strategy="batch"))
    transport = httpx.ASGITransport(app=create_app(load_settings))
    ids = sandbox.state.ploomes.ids[:3]
    hook = "http://t/webhooks/ploomes"
    for label, options in (
        ("webhook deliveries", {"key": PLOOMES_WEBHOOK}),
        ("webhook wrong key", {"key": WRONG["webhook"]}),
    ):
        scan.run(
            label,
            lambda o=options: send_webhooks(  # type: ignore[misc]
                sandbox.state, "Update", ids=ids, url=hook, transport=transport, **o
            ),
        )
    scan.run("webhook drain", lambda: drain_once(db_url, coalesce_s=0))


def run_stores(scan: Scan, sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.sync_stores import sync_all_stores, sync_store

    scan.pipeline = "store-inventory"
    stores = sandbox.stores
    add_store(monkeypatch, "sho-shop", "shopify", stores["shopify"][0], SHOPIFY)
    add_store(monkeypatch, "woo-shop", "woocommerce", stores["woocommerce"][0], f"{WOO_KEY}:{WOO_SECRET}")
    add_store(monkeypatch, "saz-shop", "sazito", stores["sazito"][0], STORE_SAZITO)
    scan.run("sync-all-stores", sync_all_stores)
    # The host drops the Authorization header: the key and secret go as query parameters (in the URL).
    sandbox.state.woo.configure(drop_authorization=True)
    scan.run("sync-store woo query auth", lambda: sync_store(store="woo-shop", strategy="full"))
    sandbox.state.woo.configure(drop_authorization=False, down=True)
    sandbox.state.shopify.configure(down=True)
    scan.run("sync-all-stores 5xx", sync_all_stores)
    sandbox.state.woo.configure(down=False, rate_limit_per_s=2.0)
    sandbox.state.shopify.configure(down=False)
    scan.run("sync-store woo 429", lambda: sync_store(store="woo-shop", strategy="full"))
    sandbox.state.woo.configure(rate_limit_per_s=0.0)
    add_store(monkeypatch, "bad-sho", "shopify", stores["shopify"][0], WRONG["shopify"])
    add_store(monkeypatch, "bad-woo", "woocommerce", stores["woocommerce"][0], WRONG["woo"])
    add_store(monkeypatch, "bad-saz", "sazito", stores["sazito"][0], WRONG["store-sazito"])
    scan.run("sync-all-stores wrong credentials", sync_all_stores)


def run_cli(scan: Scan, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI's one-line errors for refused credentials (the stores' wrong ones are still registered)."""
    scan.pipeline = "cli"
    capsys.readouterr()
    commands = (
        (["sync", "products", "--full"], {"SAZITO_KEY": WRONG["sazito"]}),
        (["sync", "products"], {"ANAR360_TOKEN": WRONG["anar360"]}),
        (["sync", "ingram"], {"INGRAM_CLIENT_SECRET": WRONG["ingram"]}),
        (["sync", "ploomes"], {"PLOOMES_USER_KEY": WRONG["ploomes"]}),
        (["sync", "stores", "--store", "bad-woo"], {}),
        (["sync", "stores", "--store", "bad-sho"], {}),
        (["sync", "events"], {}),
    )
    for argv, variables in commands:
        with monkeypatch.context() as wrong:
            for name, value in variables.items():
                wrong.setenv(name, value)
            code = scan.run(" ".join(["catalog-sync", *argv]), lambda a=argv: main(a))  # type: ignore[misc]
        out = capsys.readouterr()
        scan.add("cli", f"catalog-sync {' '.join(argv)} (exit {code}) stdout", out.out)
        scan.add("cli", f"catalog-sync {' '.join(argv)} (exit {code}) stderr", out.err)


def capture_tables(scan: Scan, db_url: str) -> int:
    rows = 0
    with get_engine(db_url).connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            for row in conn.execute(sa.select(table)).mappings():
                rows += 1
                key = ",".join(str(row[c.name]) for c in table.primary_key.columns)
                for column, value in row.items():
                    if value is not None:
                        scan.add("tables", f"{table.name}[{key}].{column}", value, "state store")
    return rows


def capture_prefect(scan: Scan) -> dict[str, int]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.sorting import LogSort

    counts = {"flow runs": 0, "task runs": 0, "logs": 0, "artifacts": 0}
    with get_client(sync_client=True) as client:
        for run in client.read_flow_runs(limit=200):
            counts["flow runs"] += 1
            where = f"flow run {run.name} ({run.id})"
            scan.add("run-states", f"{where} parameters", run.parameters, "prefect")
            if run.state is not None:
                scan.add("run-states", f"{where} state", f"{run.state.message} {run.state.data!r}", "prefect")
        for task in client.read_task_runs(limit=200):
            counts["task runs"] += 1
            if task.state is not None:
                scan.add("run-states", f"task run {task.name} ({task.id})", task.state.message, "prefect")
        offset = 0
        while True:
            logs = client.read_logs(limit=200, offset=offset, sort=LogSort.TIMESTAMP_ASC)
            for log in logs:
                scan.add("prefect-logs", f"{log.name} flow run {log.flow_run_id}", log.message, "prefect")
            counts["logs"] += len(logs)
            offset += len(logs)
            if len(logs) < 200:
                break
        for artifact in client.read_artifacts(limit=200):
            counts["artifacts"] += 1
            where = f"artifact {artifact.key or artifact.id}"
            scan.add(
                "artifacts", where, f"{artifact.description} {artifact.data} {artifact.metadata_}", "prefect"
            )
    return counts


def summary_table(scan: Scan, hits: list[tuple[str, str, str, str, str]]) -> str:
    searched: dict[tuple[str, str], int] = {}
    for pipeline, place, _, _ in scan.texts:
        searched[(pipeline, place)] = searched.get((pipeline, place), 0) + 1
    found: dict[tuple[str, str], int] = {}
    for pipeline, place, *_ in hits:
        found[(pipeline, place)] = found.get((pipeline, place), 0) + 1
    owners = sorted({pipeline for pipeline, _ in searched})
    places = sorted({place for _, place in searched})
    lines = ["secrets scan: texts searched / hits", f"{'':18}" + "".join(f"{p:>16}" for p in places)]
    for owner in owners:
        cells = [
            f"{searched.get((owner, p), 0)}/{found.get((owner, p), 0)}" if (owner, p) in searched else "-"
            for p in places
        ]
        lines.append(f"{owner:18}" + "".join(f"{c:>16}" for c in cells))
    lines.append(
        f"{len(scan.needles)} needles ({len(set(scan.needles.values()))} secrets in all their forms)"
    )
    return "\n".join(lines)


# On PostgreSQL only (what production runs on): on SQLite the same scan takes over two minutes of CI, since the
# Prefect test server's own SQLite file serialises the many short runs, and stores the same rows.
@pytest.mark.parametrize("db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_no_secret_of_any_pipeline_is_stored_logged_shown_or_raised(
    env: SandboxHandle,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    quick_task_retries: None,
) -> None:
    started = time.monotonic()
    scan = Scan()
    scan.secret(ANAR360, SAZITO, INGRAM, PLOOMES_USER, PLOOMES_WEBHOOK, FEVER_PASSWORD, SHOPIFY)
    scan.secret(WOO_KEY, WOO_SECRET, f"{WOO_KEY}:{WOO_SECRET}", f"feeduser:{FEVER_PASSWORD}", *WRONG.values())
    scan.secret(*(part for value in WRONG.values() for part in value.split(":")))
    scan.handler = Captured(scan)
    try:
        run_anar360_sazito(scan, env, monkeypatch)
        run_fever(scan, env)
        run_ingram(scan, env, db_url, monkeypatch)
        run_ploomes(scan, env, db_url, monkeypatch)
        run_stores(scan, env, monkeypatch)
        run_cli(scan, monkeypatch, capsys)
    finally:
        scan.handler.detach()
    scan.secret(*env.state.ingram.tokens_issued)  # the OAuth access tokens the sandbox issued
    ran = time.monotonic() - started
    rows = capture_tables(scan, db_url)
    counts = capture_prefect(scan)
    files = [path for path in tmp_path.rglob("*") if path.is_file()]  # the CLI's log file, anything written
    for path in files:
        scan.add("files", str(path.relative_to(tmp_path)), path.read_text("utf-8", "replace"), "cli")

    for pipeline, where, seconds in scan.took:
        print(f"{seconds:5.1f}s [{pipeline}] {where}")
    # The runs really went through their good and their failure paths (else the scan proves nothing).
    outcomes = {where: text for _, place, where, text in scan.texts if place == "errors"}
    assert env.state.ingram.tokens_issued, outcomes
    assert "'status': 'success'" in outcomes["sync-products full"], outcomes
    assert "refused" in outcomes["sync-products wrong SAZITO_KEY"], outcomes
    assert "'status': 'success'" in outcomes["sync-all-stores"], outcomes
    assert "3 of 6 stores did not sync" in outcomes["sync-all-stores wrong credentials"], outcomes
    assert env.state.woo.stats()["query_auth"] > 0  # the key and secret went in the URL
    assert rows > 100 and scan.logged > 100 and counts["logs"] > 0 and counts["flow runs"] >= 20, counts

    hits = scan.hits()
    print()
    print(summary_table(scan, hits))
    print(f"{rows} rows, {scan.logged} log records, {counts}, {len(files)} files; runs took {ran:.1f}s")
    assert not hits, "secrets found:\n" + "\n".join(
        f"  [{pipeline}] {place} {where}: {secret!r} in …{excerpt}…"
        for pipeline, place, where, secret, excerpt in hits
    )
