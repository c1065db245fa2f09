"""The command line: exit codes and one-line reasons for user mistakes, never a traceback."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["frobnicate"], "catalog-sync: argument COMMAND: invalid choice: 'frobnicate'"),
        (["--bogus"], "catalog-sync: unrecognized arguments: --bogus (see catalog-sync --help)"),
        ([], "catalog-sync: missing COMMAND: one of demo, sandbox, sync,"),
        (["sync"], "catalog-sync sync: missing WHAT: one of products, catalogue, events"),
        (["sync", "products", "--bogus"], "catalog-sync: unrecognized arguments: --bogus"),
    ],
)
def test_command_line_mistakes_are_one_line_usage_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    assert one_line_error(capsys).startswith(message)


def test_sandbox_help_says_what_each_knob_does(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["sandbox", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--fault-rate FLOAT fraction of API calls answered 500/502/503" in out
    assert "--anar360-stuck-page INT from this Anar360 page on" in out and "/_sandbox/faults" in out


def test_sandbox_on_a_taken_port_says_so_in_one_line_before_any_banner(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        assert main(["sandbox", "--port", str(taken.getsockname()[1]), "--products", "3"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # no banner, no credentials
    assert captured.err.strip().startswith("catalog-sync: cannot listen on 127.0.0.1:")
    assert captured.err.strip().endswith("Address already in use") and "\n" not in captured.err.strip()


def test_unreachable_store_is_named_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    with running_sandbox(SandboxConfig(products=3)) as sandbox:
        monkeypatch.setenv("ANAR360_BASE", sandbox.anar360_base)
        monkeypatch.setenv("ANAR360_TOKEN", sandbox.anar360_token)
        monkeypatch.setenv("SAZITO_BASE", f"http://127.0.0.1:{port}/api/v1")
        monkeypatch.setenv("SAZITO_KEY", "key-123456")
        monkeypatch.setenv("CIRCUIT_FAILURE_THRESHOLD", "1")
        assert main(["sync", "products"]) == 2
        # The second attempt found the circuit open: the message still names the failure, not the circuit.
        assert one_line_error(capsys).startswith(
            f"catalog-sync: sazito: cannot reach http://127.0.0.1:{port} (connection refused) (1 failure in a row"
        )
        # The circuit opened for that address only: the corrected URL is called at once (and its key refused).
        monkeypatch.setenv("SAZITO_BASE", sandbox.sazito_base)
        assert main(["sync", "products", "--dry-run"]) == 2
        err = one_line_error(capsys)
        assert err.startswith(
            "catalog-sync: sazito refused the key: PUT /accounting/bulk-update-stock answered"
        )
        assert "key-123456" not in err and sandbox.state.stats()["variant_writes"] == 0


def test_an_unreachable_feed_is_named_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    monkeypatch.setenv("FEVER_PROVIDER_URL", f"http://feeder:s3cret-pw@127.0.0.1:{port}/api/events")
    assert main(["sync", "events"]) == 2
    err = one_line_error(capsys)
    assert (
        err
        == f"catalog-sync: fever: cannot reach http://127.0.0.1:{port} (connection refused) after 2 attempts"
    )


def test_a_feed_url_with_credentials_is_refused_as_a_parameter(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sync", "events", "--url", "https://feeder:s3cret-pw@feeds.test/events.xml"]) == 2
    err = one_line_error(capsys)
    assert err.startswith("catalog-sync: --url must not carry credentials") and "s3cret-pw" not in err


def test_health_with_nothing_configured_is_not_healthy(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade"]) == 0
    capsys.readouterr()
    assert main(["health", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["healthy"] is False and report["database"] == "ok" and report["failures"]["pending"] == 0
    assert report["configured"] == [] and report["problems"][0].startswith("no pipeline is configured")
    assert "FEVER_PROVIDER_URL" in report["problems"][0] and "SAZITO_KEY" in report["problems"][0]


def test_health_of_a_configured_pipeline_that_never_ran_is_not_healthy(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FEVER_PROVIDER_URL", "https://feed.test/api/events")
    assert main(["health"]) == 1
    out = capsys.readouterr().out
    assert "healthy      False" in out and "problem      fever-events has never run" in out


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


def test_a_malformed_database_url_is_named_without_its_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://bob:hunter2@db.test:port/catalog")
    assert main(["runs"]) == 2
    err = one_line_error(capsys)
    assert err.startswith(
        "catalog-sync: invalid DATABASE_URL 'postgresql+psycopg://bob:***@db.test:port/catalog'"
    )
    assert "hunter2" not in err


def test_a_pipeline_is_also_reachable_by_its_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sync", "anar360-sazito"]) == 2
    assert "ANAR360_BASE, ANAR360_TOKEN, SAZITO_BASE, SAZITO_KEY" in one_line_error(capsys)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["sync", "products", "--connection", "store-b"], "expected ROLE=NAME (e.g. target=store-b)"),
        (["sync", "products", "--connection", "target=a", "--connection", "target=b"], "target is given two"),
        (["sync", "events", "--strategy", "full"], "argument --strategy: invalid choice: 'full'"),
        (["sync", "products", "--connection", "shelf=store-b"], "products has no role 'shelf'"),
        (["sync", "events", "--connection", "source=feed-b"], "no connection named 'feed-b'"),
        (["sync", "products", "--full", "--strategy", "incremental"], "--full and --strategy incremental"),
        (["sync", "products", "--strategy", "full", "--since-ms", "5"], "--since-ms applies to incremental"),
    ],
)
def test_a_connection_or_strategy_the_run_cannot_use_is_a_one_line_usage_error(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own refusal
        code = int(exc.code or 0)
    assert code == 2
    assert message in one_line_error(capsys)


def test_a_connection_of_connections_is_checked_before_the_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    with running_sandbox(SandboxConfig(products=3)) as sandbox:
        monkeypatch.setenv("ANAR360_BASE", sandbox.anar360_base)
        monkeypatch.setenv("ANAR360_TOKEN", sandbox.anar360_token)
        monkeypatch.setenv("STORE_B_KEY", "key-123456")
        monkeypatch.setenv(
            "CONNECTIONS",
            json.dumps(
                [
                    {
                        "name": "store-b",
                        "provider": "sazito",
                        "base_url": f"http://127.0.0.1:{port}/api/v1",
                        "secret_env": "STORE_B_KEY",
                    }
                ]
            ),
        )
        # No SAZITO_* settings: the target runs on store-b, whose address does not answer.
        assert main(["sync", "products", "--connection", "target=store-b"]) == 2
    err = one_line_error(capsys)
    assert (
        err.startswith(f"catalog-sync: store-b: cannot reach http://127.0.0.1:{port}")
        and "key-123456" not in err
    )


def test_sandbox_banner_names_the_settings_that_point_at_it() -> None:
    from sync_core.sandbox.server import banner

    assert banner("http://h:1", SandboxConfig()).splitlines() == [
        "sandbox on http://h:1",
        "  ANAR360_BASE=http://h:1/anar360/api/360  ANAR360_TOKEN=sandbox-token",
        "  SAZITO_BASE=http://h:1/sazito/api/v1  SAZITO_KEY=sandbox-key",
        "  FEVER_PROVIDER_URL=http://h:1/fever/api/events",
        "  INGRAM_BASE=http://h:1/ingram  INGRAM_CLIENT_ID=sandbox-client  INGRAM_CLIENT_SECRET=sandbox-client-secret"
        "  INGRAM_CUSTOMER_NUMBER=20-222222  INGRAM_COUNTRY_CODE=US",
        "  PLOOMES_BASE=http://h:1/ploomes  PLOOMES_USER_KEY=sandbox-user-key  PLOOMES_WEBHOOK_KEY=sandbox-webhook-key",
    ]


class _Rows:
    """A connector with no default connection: each of its connections comes from CONNECTIONS."""

    provider = "rows"
    base_setting = None
    secret_setting = None
    rate_setting = None
    needs: tuple[str, ...] = ()
    checked: list[str] = []

    def __init__(self, settings: object, connection: Any, **wiring: object) -> None:
        self.connection = connection

    def check(self, *, reuse_s: float = 0.0) -> None:
        self.checked.append(self.connection.base_url)

    def close(self) -> None:
        pass


@pytest.fixture
def rows_pipeline() -> Iterator[str]:
    """A pipeline registered from outside sync_core.pipelines (as a plug-in or the tests' example is)."""
    from sync_core.engine.registry import register, unregister
    from sync_core.engine.spec import Pipeline

    spec = register(
        Pipeline(
            name="rows-demo",
            title="rows into a table (a pipeline the command line has never heard of)",
            connectors={"source": _Rows},
            strategies=("full", "by-key"),
            job=lambda ctx: None,  # type: ignore[arg-type,return-value]
        )
    )
    yield spec.name
    unregister(spec.name)


def test_a_registered_pipeline_gets_its_sync_command_and_runs_through_sync_pipeline(
    rows_pipeline: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import catalog_sync.sync_commands
    from flows.pipeline_run import sync_pipeline

    with pytest.raises(SystemExit):
        main(["sync", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "rows-demo rows into a table (a pipeline the command line has never heard of)" in out

    assert main(["sync", rows_pipeline]) == 2  # no default connection: it says which to give
    assert "give --connection source=NAME" in one_line_error(capsys)

    calls: list[tuple[float, object, dict[str, object]]] = []
    monkeypatch.setattr(
        catalog_sync.sync_commands,
        "run_flow",
        lambda settings, flow, **params: calls.append((settings.run_lease_wait_s, flow, params)) or 0,
    )
    monkeypatch.setenv(
        "CONNECTIONS", json.dumps([{"name": "rows-a", "provider": "rows", "base_url": "file:///a.csv"}])
    )
    argv = ["sync", rows_pipeline, "--connection", "source=rows-a", "--strategy", "by-key", "--dry-run"]
    assert main([*argv, "--wait", "3"]) == 0
    assert _Rows.checked[-1] == "file:///a.csv"  # the pre-run check of the chosen connection
    assert calls == [
        (
            3.0,  # --wait: the run's RUN_LEASE_WAIT_S
            sync_pipeline,
            {
                "pipeline": rows_pipeline,
                "strategy": "by-key",
                "dry_run": True,
                "connections": {"source": "rows-a"},
            },
        )
    ]
