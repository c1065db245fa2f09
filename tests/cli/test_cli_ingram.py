"""The Ingram pipeline's command line: tracking part numbers (bad lines reported, good ones kept), the options
of `sync ingram`, settings and credentials refused in one line before anything runs, and `monitor`."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlmodel import select

from catalog_sync.cli import main
from catalog_sync.monitor import monitor_line
from sync_core.db import session_scope
from sync_core.pipelines.ingram.tables import TrackedPart
from sync_core.sandbox.catalogue import SandboxConfig
from sync_core.sandbox.server import SandboxHandle, running_sandbox
from sync_core.tables import SyncRun
from tests.cli.test_cli import one_line_error
from tests.flows.conftest import ingram_env


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db_url: str) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("INGRAM_BASE", "INGRAM_CLIENT_ID", "INGRAM_CLIENT_SECRET", "INGRAM_CUSTOMER_NUMBER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("HTTP_RETRIES", "1")
    return tmp_path


def point_at(sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ingram_env(sandbox).items():
        monkeypatch.setenv(name, value)


def tracked(db_url: str) -> dict[str, str]:
    with session_scope(db_url) as session:
        return {p.ingram_part_number: p.origin for p in session.exec(select(TrackedPart))}


def test_a_bad_csv_line_is_one_line_exit_2_and_the_good_ones_are_tracked(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "parts.csv").write_text("ingram_part_number,qty\n012345,1\nAB CD,2\n3E0042,3\n")
    assert main(["ingram", "track", "--file", "parts.csv"]) == 2
    err = one_line_error(capsys)
    assert "parts.csv: 1 line(s) left out (line 3: 'AB CD' is not a part number" in err
    assert tracked(db_url) == {"012345": "parts.csv line 2", "3E0042": "parts.csv line 4"}

    assert main(["ingram", "track", "4A0036", "012345"]) == 0
    assert "tracking 2 part number(s): 1 new, 1 already tracked" in capsys.readouterr().out
    assert main(["ingram", "tracked"]) == 0
    assert [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()] == [
        "012345",
        "3E0042",
        "4A0036",
    ]

    assert main(["ingram", "untrack", "3E0042", "ZZ9999"]) == 2
    assert "not tracked: ZZ9999" in one_line_error(capsys)
    assert set(tracked(db_url)) == {"012345", "4A0036"}


def test_track_needs_part_numbers_or_a_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingram", "track"]) == 2
    assert "give part numbers or --file FILE" in one_line_error(capsys)
    assert main(["ingram", "track", "--file", "missing.csv"]) == 2
    assert "cannot read missing.csv" in one_line_error(capsys)


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--batch-size", "51"], "must be 1 to 50"),
        (["--batch-size", "0"], "must be 1 to 50"),
        (["--max-concurrent", "0"], "must be at least 1"),
        (["--shards", "x"], "invalid"),
    ],
)
def test_sync_options_are_checked(args: list[str], said: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["sync", "ingram", *args])
    assert exit_.value.code == 2
    assert said in one_line_error(capsys)


def test_its_retry_strategy_runs_through_retry_failures(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sync", "ingram", "--strategy", "retry"]) == 2
    assert "`catalog-sync retry-failures --pipeline ingram-catalogue`" in one_line_error(capsys)


def test_missing_and_misspelt_settings_are_one_line_before_any_run(
    monkeypatch: pytest.MonkeyPatch, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sync", "ingram"]) == 2
    assert "missing setting: INGRAM_BASE, INGRAM_CLIENT_SECRET, INGRAM_CLIENT_ID" in one_line_error(capsys)
    with running_sandbox(SandboxConfig(products=1, ingram_parts=5)) as sandbox:
        point_at(sandbox, monkeypatch)
        monkeypatch.setenv("INGRAM_DETAILS_MAXAGE_DAYS", "3")
        assert main(["sync", "ingram"]) == 2
        assert "unknown setting INGRAM_DETAILS_MAXAGE_DAYS (did you mean INGRAM_DETAILS_MAX_AGE_DAYS?)" in (
            one_line_error(capsys)
        )
        monkeypatch.delenv("INGRAM_DETAILS_MAXAGE_DAYS")
        monkeypatch.setenv("INGRAM_COUNTRY_CODE", "USA")
        assert main(["sync", "ingram"]) == 2
        assert "INGRAM_COUNTRY_CODE" in one_line_error(capsys)


def test_a_refused_client_secret_is_named_in_one_line_and_nothing_runs(
    monkeypatch: pytest.MonkeyPatch, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with running_sandbox(SandboxConfig(products=1, ingram_parts=5)) as sandbox:
        point_at(sandbox, monkeypatch)
        monkeypatch.setenv("INGRAM_CLIENT_SECRET", "not-the-secret")
        assert main(["sync", "ingram"]) == 2
        err = one_line_error(capsys)
        assert "refused the client credentials" in err and "INGRAM_CLIENT_SECRET" in err
        assert "not-the-secret" not in err
    with session_scope(db_url) as session:
        assert session.exec(select(SyncRun)).all() == []


def test_monitor_says_there_is_no_run_yet(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["monitor"]) == 2
    assert "no run yet" in one_line_error(capsys)
    assert main(["monitor", "42"]) == 2
    assert "no run 42" in one_line_error(capsys)


def _run(**fields: object) -> SimpleNamespace:
    base = dict(
        id=7,
        pipeline="ingram-catalogue",
        scope="full",
        status="running",
        pushed=120,
        unchanged=30,
        failed=2,
        error=None,
        progress=None,
    )
    return SimpleNamespace(**(base | fields))


def test_monitor_line_shows_batches_parts_failures_requests_429s_waits_and_the_eta() -> None:
    progress = {
        "pages": 6,
        "expected_pages": 20,
        "elapsed_s": 42.0,
        "eta_s": 98.0,
        "batches_done": 12,
        "batches_total": 20,
        "priced": 600,
        "details": 320,
        "requests": 340,
        "throttled": 2,
        "rate_wait_s": 12.34,
    }
    line = monitor_line(_run(progress=progress), {"requests": 300, "throttled": 1})
    assert line == (
        "run 7 ingram-catalogue full: running 0:42 · batches 12/20 60% · priced 600 · details 320 · "
        "written 120, unchanged 30, failures 2 · requests 340, 429s 2 · waited 12.3 s on rate limits · ETA 1:38"
    )


def test_monitor_line_of_a_run_without_progress_and_one_that_failed() -> None:
    assert monitor_line(_run(progress=None), {"requests": 3, "throttled": 0}) == (
        "run 7 ingram-catalogue full: running · pages 0 · written 120, unchanged 30, failures 2 · "
        "requests 3, 429s 0"
    )
    failed = monitor_line(_run(status="failed", error="AuthError: refused\nmore"), {})
    assert failed.endswith("· AuthError: refused")


def test_monitor_follows_a_finished_run_to_its_end(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    from sync_core.engine.runs import finish_run, start_run

    run_id = start_run(db_url, pipeline="ingram-catalogue", scope="full")
    finish_run(db_url, run_id=run_id, status="partial")
    assert main(["monitor", str(run_id), "--refresh", "0.1"]) == 0
    assert f"run {run_id} ingram-catalogue full: partial" in capsys.readouterr().out
    failed = start_run(db_url, pipeline="ingram-catalogue", scope="full")
    finish_run(db_url, run_id=failed, status="failed", error="boom")
    assert main(["monitor"]) == 1  # the latest run
