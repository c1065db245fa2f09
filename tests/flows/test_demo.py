"""`catalog-sync demo` end to end (what `make demo` runs), on a small catalogue."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog_sync.cli import main

pytestmark = pytest.mark.e2e


def test_demo_prints_both_summaries_and_a_correct_store(
    prefect_server: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    assert main(["demo", "--products", "30", "--variants", "2", "--change", "4", "--database-url", url]) == 0
    out = capsys.readouterr().out
    assert "== full sync ==" in out and "== incremental sync after 4 variants changed ==" in out
    assert ", 0 wrong" in out and "0 of them no-ops" in out


def test_the_ploomes_demo_runs_each_strategy_and_ends_equal_to_the_oracle(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from flows.demo_ploomes import run_demo  # what `demo --pipeline ploomes` calls (the command line: above)

    assert run_demo(products=400, change=5, database_url=f"sqlite:///{tmp_path / 'demo.db'}") == 0
    out = capsys.readouterr().out
    assert "== first run (auto: no successful sync yet, so batch) ==" in out
    assert "== second run after 5 products changed (auto: incremental) ==" in out
    assert "== batch: 2 deleted products marked inactive ==" in out
    assert "table check: 400 rows as the oracle says, 0 wrong, 0 missing" in out


def test_the_stores_demo_syncs_three_platforms_equal_to_their_stores_and_names_the_dashboard(
    prefect_server: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from flows.demo_stores import run_demo  # what `demo --pipeline stores` calls

    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    assert run_demo(products=60, change=6, database_url=url) == 0
    out = capsys.readouterr().out
    assert "== first sync (full reads) ==" in out
    for name in ("demo-shopify", "demo-woocommerce", "demo-sazito"):
        assert f"inventory check {name}: equal to the store" in out
    assert "demo-shopify       success  incremental" in out
    assert "http://127.0.0.1:8080/dashboard" in out
