"""What a run started from the command line shows of its progress when stdout and stderr are not terminals
(tests, cron, a pipe): plain lines on stdout, never a ``\\r``; stderr keeps the verdict alone."""

from __future__ import annotations

import pytest

import catalog_sync.console
from catalog_sync.runner import EXIT_FAILED, EXIT_OK, run_flow
from sync_core.engine.progress import Progress
from sync_core.settings import Settings


@pytest.fixture
def quiet_settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    """No Prefect set-up (these flows are plain functions) and no log file."""
    monkeypatch.setattr(catalog_sync.console, "prepare_flow_run", lambda log_file: None)
    return Settings(_env_file=None, log_file="")  # type: ignore[call-arg]


def test_a_run_not_on_a_terminal_shows_plain_progress_lines(
    quiet_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    def flow() -> dict[str, object]:
        progress = Progress("anar360-sazito")
        for _ in range(3):
            progress.advance(10, expected_pages=30)
        progress.finish()
        return {"run_id": 7, "status": "success"}

    assert run_flow(quiet_settings, flow) == EXIT_OK
    out, err = capsys.readouterr()
    assert "\r" not in out + err and err == ""
    lines = out.splitlines()
    assert lines[0].startswith("progress anar360-sazito: 10/30 pages 33% · ")  # the first at once
    assert (
        lines[1].startswith("progress anar360-sazito: 30/30 pages 100% · ") and " · done in 0:0" in lines[1]
    )
    assert lines[2:] == ["  run_id       7", "  status       success"]


def test_a_run_that_fails_keeps_its_verdict_the_only_line_on_stderr(
    quiet_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    def flow() -> None:
        Progress("anar360-sazito").advance(10, expected_pages=30)
        raise RuntimeError("boom")

    assert run_flow(quiet_settings, flow) == EXIT_FAILED
    out, err = capsys.readouterr()
    assert "\r" not in out + err
    assert out.startswith("progress anar360-sazito: 10/30 pages 33% · ")
    assert err.splitlines() == ["catalog-sync: run failed: RuntimeError: boom"]
