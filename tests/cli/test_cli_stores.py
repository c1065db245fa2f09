"""`catalog-sync stores ...` and `catalog-sync alerts`: a wrong platform, a missing credentials variable, a
duplicate name and a bad threshold are one line (exit 2) with nothing stored; list, show, enable, disable and
remove do what they say; `stores sync NAME` syncs one store (in a subprocess, against the session's Prefect
server)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from catalog_sync.cli import main
from sync_core.db import session_scope
from sync_core.engine.runs import get_cursor, set_cursor
from sync_core.pipelines.stores.tables import InventoryItem, StoreIntegration
from sync_core.sandbox.catalogue import SandboxConfig
from sync_core.sandbox.server import SandboxHandle, running_sandbox
from tests.cli.test_cli import one_line_error
from tests.flows.conftest import prefect_server  # noqa: F401  (the session's Prefect test server)

BIN = Path(sys.executable).parent


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db_url: str) -> Iterator[SandboxHandle]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("HTTP_RETRIES", "1")
    with running_sandbox(SandboxConfig(products=10, variants=2, seed=4, woo_variants=20)) as handle:
        monkeypatch.setenv("SHOP_KEY", handle.stores["sazito"][1])
        yield handle


def stored(db_url: str) -> list[str]:
    with session_scope(db_url) as session:
        return [row.name for row in session.exec(select(StoreIntegration))]


def add(sandbox: SandboxHandle, *extra: str, name: str = "main-shop") -> int:
    url = sandbox.stores["sazito"][0]
    return main(["stores", "add", name, "--platform", "sazito", "--url", url, *extra])


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--platform", "magento"], "unknown platform 'magento': use shopify, woocommerce, sazito"),
        (["--credentials-env", "NOT_SET_ANYWHERE"], "environment variable NOT_SET_ANYWHERE is not set"),
        (["--credentials-env", "SHOP_KEY", "--threshold", "-3"], "threshold must be a whole number from 0"),
        (["--credentials-env", "SHOP_KEY", "--threshold", "many"], "threshold must be a whole number from 0"),
        (["--credentials-env", "SHOP_KEY", "--url", "ftp://shop"], "store URL must be http(s)://host"),
        (["--credentials-env", "lower case!"], "--credentials-env must name an environment variable"),
    ],
)
def test_a_bad_integration_is_one_line_and_nothing_is_stored(
    sandbox: SandboxHandle,
    db_url: str,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    url = sandbox.stores["sazito"][0]
    args = ["stores", "add", "shop", "--platform", "sazito", "--url", url]
    if "--credentials-env" not in extra:
        args += ["--credentials-env", "SHOP_KEY"]
    assert main([*args, *extra]) == 2
    assert message in one_line_error(capsys)
    assert stored(db_url) == []


def test_a_duplicate_name_is_refused_and_the_first_is_kept(
    sandbox: SandboxHandle, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert add(sandbox, "--credentials-env", "SHOP_KEY") == 0
    assert "added store main-shop (sazito" in capsys.readouterr().out
    assert add(sandbox, "--credentials-env", "SHOP_KEY", "--threshold", "9") == 2
    assert "a store integration named 'main-shop' already exists" in one_line_error(capsys)
    assert stored(db_url) == ["main-shop"]
    assert (
        main(
            [
                "stores",
                "add",
                "sazito",
                "--platform",
                "sazito",
                "--url",
                "https://x.example",
                "--credentials-env",
                "SHOP_KEY",
            ]
        )
        == 2
    )
    assert "taken by the engine's own connections" in one_line_error(capsys)


def test_list_show_enable_disable_remove(
    sandbox: SandboxHandle, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert add(sandbox, "--credentials-env", "SHOP_KEY", "--threshold", "4") == 0
    capsys.readouterr()
    assert main(["stores", "list"]) == 0
    out = capsys.readouterr().out
    assert "main-shop" in out and "sazito" in out and "never" in out
    assert main(["stores", "show", "main-shop", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["credentials"] == "environment variable SHOP_KEY" and shown["low_stock_threshold"] == 4
    assert sandbox.stores["sazito"][1] not in json.dumps(shown)  # never the secret
    assert main(["stores", "disable", "main-shop"]) == 0
    assert main(["stores", "sync", "main-shop"]) == 2
    assert "store 'main-shop' is disabled" in one_line_error(capsys)
    assert main(["stores", "enable", "main-shop"]) == 0
    assert main(["stores", "show", "nope"]) == 2
    assert "no store integration named 'nope' (known: main-shop)" in one_line_error(capsys)
    set_cursor(
        db_url, pipeline="store-inventory@source=main-shop", key="updated", value="2026-11-20T00:00:00+00:00"
    )
    assert main(["stores", "remove", "main-shop"]) == 0
    assert stored(db_url) == []
    # Added again under the name, it starts afresh: a full read (its cursor went with it).
    assert get_cursor(db_url, pipeline="store-inventory@source=main-shop", key="updated") is None
    assert main(["alerts", "--open"]) == 0
    assert "no open low-stock alert" in capsys.readouterr().out


def test_stores_sync_runs_one_store_and_a_refused_key_is_one_line(
    sandbox: SandboxHandle,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    prefect_server: None,  # noqa: F811
) -> None:
    from prefect.settings import PREFECT_API_URL

    url, credential = sandbox.stores["woocommerce"]
    monkeypatch.setenv("WOO_KEY", credential)
    monkeypatch.setenv("WOO_RATE_PER_S", "1000")
    assert (
        main(
            [
                "stores",
                "add",
                "woo",
                "--platform",
                "woocommerce",
                "--url",
                url,
                "--credentials-env",
                "WOO_KEY",
            ]
        )
        == 0
    )
    monkeypatch.setenv("BAD_KEY", "ck_wrong:cs_wrong")
    assert (
        main(
            [
                "stores",
                "add",
                "bad",
                "--platform",
                "woocommerce",
                "--url",
                url,
                "--credentials-env",
                "BAD_KEY",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["stores", "sync", "bad"]) == 2  # the pre-run check, before any run
    err = one_line_error(capsys)
    assert "bad" in err and "cs_wrong" not in err
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value()), "LOG_FILE": ""}
    done = subprocess.run(
        [str(BIN / "catalog-sync"), "stores", "sync", "woo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "created      20" in done.stdout, done.stdout
    with session_scope(db_url) as session:
        assert len(session.exec(select(InventoryItem)).all()) == 20
