"""The command line: exit codes and one-line reasons for user mistakes, never a traceback."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from catalog_sync.cli import main
from sync_core.sandbox.catalogue import SandboxConfig
from sync_core.sandbox.server import running_sandbox


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db_url: str) -> Path:
    """No .env, no provider settings; the state store is the test database (SQLite and PostgreSQL)."""
    monkeypatch.chdir(tmp_path)
    for name in ("ANAR360_BASE", "ANAR360_TOKEN", "SAZITO_BASE", "SAZITO_KEY", "FEVER_PROVIDER_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("HTTP_RETRIES", "1")
    monkeypatch.setenv("HTTP_RETRY_BACKOFF_MS", "1")
    return tmp_path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


def test_missing_token_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sync", "products"]) == 2
    assert "ANAR360_BASE, ANAR360_TOKEN, SAZITO_BASE, SAZITO_KEY" in one_line_error(capsys)


def test_bad_database_url_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://nope")
    assert main(["runs"]) == 2
    assert "DATABASE_URL" in one_line_error(capsys)


def test_unreachable_database_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql+psycopg://nobody:secretpw@127.0.0.1:{free_port()}/x")
    assert main(["db", "upgrade"]) == 2
    err = one_line_error(capsys)
    assert "cannot reach the database" in err and "secretpw" not in err


def test_unreachable_base_url_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    base = f"http://127.0.0.1:{free_port()}/api/360"
    monkeypatch.setenv("ANAR360_BASE", base)
    monkeypatch.setenv("ANAR360_TOKEN", "tok-123456")
    monkeypatch.setenv("SAZITO_BASE", "http://127.0.0.1:9/api/v1")
    monkeypatch.setenv("SAZITO_KEY", "key-123456")
    assert main(["sync", "products"]) == 2
    err = one_line_error(capsys)
    assert "anar360" in err and "127.0.0.1" in err and "tok-123456" not in err


def test_refused_token_is_a_usage_error_before_any_write(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with running_sandbox(SandboxConfig(products=3)) as sandbox:
        monkeypatch.setenv("ANAR360_BASE", sandbox.anar360_base)
        monkeypatch.setenv("ANAR360_TOKEN", "wrong-token")
        monkeypatch.setenv("SAZITO_BASE", sandbox.sazito_base)
        monkeypatch.setenv("SAZITO_KEY", sandbox.sazito_key)
        assert main(["sync", "products", "--full"]) == 2
        assert sandbox.state.stats()["write_calls"] == 0
    err = one_line_error(capsys)
    assert "refused the token" in err and "wrong-token" not in err


def test_full_with_since_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sync", "products", "--full", "--since-ms", "1000"]) == 2
    assert "--since-ms" in one_line_error(capsys)


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["frobnicate"])
    assert caught.value.code == 2


def test_health_json_on_an_empty_store(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade"]) == 0
    capsys.readouterr()
    assert main(["health", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["healthy"] is True and report["database"] == "ok" and report["failures"]["pending"] == 0


def test_health_says_unhealthy_when_the_database_is_down(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql+psycopg://u@127.0.0.1:{free_port()}/x")
    assert main(["health"]) == 1
    assert "unreachable" in capsys.readouterr().out


def test_runs_lists_nothing_on_a_new_store(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs"]) == 0
    assert "pipeline" in capsys.readouterr().out


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("demo", "sandbox", "sync", "retry-failures", "health", "runs", "db", "deploy", "serve"):
        assert command in out


@pytest.mark.parametrize(
    "argv",
    [
        ["sandbox", "--fault-rate", "2"],
        ["sandbox", "--envelope", "xml"],
        ["demo", "--products", "0"],
        ["runs", "--limit", "-1"],
    ],
)
def test_bad_knobs_are_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own refusal
        code = int(exc.code or 0)
    assert code == 2
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["sync", "events"], "missing setting: FEVER_PROVIDER_URL"),
        (["sync", "events", "--url", "ftp://feeds.test/x.xml"], "invalid setting FEVER_PROVIDER_URL"),
        (["sync", "events", "--url", "file:///no/such/feed.xml"], "no such feed file: /no/such/feed.xml"),
    ],
)
def test_sync_events_mistakes_are_usage_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert message in one_line_error(capsys)
