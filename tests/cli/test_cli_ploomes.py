"""The Ploomes pipeline's command line: a refused User-Key, an unreachable base, a bad category and bad ids
are one line (exit 2) and nothing is written; `sync ploomes --ids` runs real-time; `ploomes webhook
register` registers the callback for Create, Update and Delete with PLOOMES_WEBHOOK_KEY."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from catalog_sync.cli import main
from sync_core.db import session_scope
from sync_core.pipelines.ploomes.tables import PloomesProduct
from sync_core.sandbox.catalogue import SandboxConfig
from sync_core.sandbox.server import SandboxHandle, running_sandbox
from sync_core.tables import SyncRun
from tests.cli.test_cli import one_line_error
from tests.flows.conftest import prefect_server  # noqa: F401  (the session's Prefect test server)

BIN = Path(sys.executable).parent


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db_url: str) -> Iterator[SandboxHandle]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("HTTP_RETRIES", "1")
    monkeypatch.setenv("PLOOMES_RATE_PER_S", "1000")
    with running_sandbox(SandboxConfig(products=1, ploomes_products=40, seed=4)) as handle:
        for name, value in handle.settings().items():
            if name.startswith("ploomes_"):
                monkeypatch.setenv(name.upper(), value)
        yield handle


def nothing_written(db_url: str) -> None:
    with session_scope(db_url) as session:
        assert session.exec(select(SyncRun)).all() == []
        assert session.exec(select(PloomesProduct)).all() == []


def test_a_refused_user_key_is_one_line_naming_the_setting_and_nothing_runs(
    sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PLOOMES_USER_KEY", "not-the-user-key")
    assert main(["sync", "ploomes"]) == 2
    err = one_line_error(capsys)
    assert "refused the User-Key" in err and "PLOOMES_USER_KEY" in err and "not-the-user-key" not in err
    nothing_written(db_url)


def test_an_unreachable_base_is_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("HTTP_RETRIES", "0")
    monkeypatch.setenv("PLOOMES_BASE", "http://127.0.0.1:9/ploomes")
    monkeypatch.setenv("PLOOMES_USER_KEY", "some-user-key")
    assert main(["sync", "ploomes"]) == 2
    assert "ploomes: cannot reach http://127.0.0.1:9 (connection refused)" in one_line_error(capsys)
    nothing_written(db_url)


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--ids", "1,x"], "must be Ploomes product ids such as 1,2,3"),
        (["--strategy", "now"], "invalid choice: 'now'"),
        (["--strategy", "real-time"], "give at least one"),
        (["--strategy", "batch", "--ids", "3"], "not by id"),
        (["--ids", "1", "--category", "Atlas"], "not both"),
    ],
)
def test_bad_options_are_one_line(
    sandbox: SandboxHandle, db_url: str, args: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        code = main(["sync", "ploomes", *args])
    except SystemExit as exit_:  # argparse's own refusals
        code = int(exit_.code or 0)
    assert code == 2
    assert said in one_line_error(capsys).splitlines()[-1]


@pytest.mark.usefixtures("prefect_server")
def test_a_category_ploomes_does_not_have_is_one_line_and_ids_run_real_time(
    sandbox: SandboxHandle, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sync", "ploomes", "--strategy", "batch", "--category", "Atlass"]) == 2
    err = one_line_error(capsys)
    assert "Ploomes has no product group (category) 'Atlass' (did you mean 'Atlas'?)" in err, err
    nothing_written(db_url)  # refused before any run
    ids = sandbox.state.ploomes.ids[:2]
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value()), "LOG_FILE": ""}
    done = subprocess.run(
        [str(BIN / "catalog-sync"), "sync", "ploomes", "--ids", ",".join(map(str, ids))],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "scope        real-time" in done.stdout, done.stdout
    with session_scope(db_url) as session:
        assert sorted(p.ploomes_id for p in session.exec(select(PloomesProduct))) == sorted(ids)
        assert [r.scope for r in session.exec(select(SyncRun)) if r.status == "success"] == ["real-time"]


def test_webhook_register_registers_each_action_with_the_validation_key(
    sandbox: SandboxHandle, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "https://sync.example.com/webhooks/ploomes"
    assert main(["ploomes", "webhook", "register", "--url", url]) == 0
    assert "registered https://sync.example.com/webhooks/ploomes for product create, update, delete" in (
        capsys.readouterr().out
    )
    hooks = sandbox.state.ploomes.webhooks
    assert sorted(h["ActionId"] for h in hooks) == [1, 2, 3]
    assert {(h["CallbackUrl"], h["ValidationKey"]) for h in hooks} == {(url, "sandbox-webhook-key")}
    assert main(["ploomes", "webhook", "register", "--url", "ftp://x"]) == 2
    assert "--url must be the http(s) address" in one_line_error(capsys)
    monkeypatch.delenv("PLOOMES_WEBHOOK_KEY")
    assert main(["ploomes", "webhook", "register", "--url", url]) == 2
    assert "PLOOMES_WEBHOOK_KEY is not set" in one_line_error(capsys)
