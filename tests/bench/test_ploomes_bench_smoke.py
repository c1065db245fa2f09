"""bench/ploomes.py and bench/products_search.py still run end to end (their figures come from running them,
never from a test): a few hundred products, each table checked against the oracle, a short load."""

from __future__ import annotations

import re

import pytest

from bench import ploomes, products_search


def test_batch_incremental_and_webhooks_end_equal_to_the_oracle(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--products", "650", "--rate", "200", "--deliveries", "2", "--pacing", "local"]
    assert ploomes.main([*argv, "--db", "sqlite", "--prefect-db", "sqlite"]) == 0
    out = capsys.readouterr().out
    assert "batch (local pacing): 650 products, 3 pages of 300" in out
    assert out.count("table vs oracle  equal") == 3, out  # the batch, the incremental, the webhooks
    assert re.search(r"incremental after 1 % changed \(6 products\): scope incremental", out), out
    assert re.search(r"rows written     6 \(unchanged 0\)", out), out
    assert re.search(r"latency          p50 [\d.]+ s, p95 [\d.]+ s", out), out
    runs = int(re.search(r"runs made        (\d+)", out)[1])  # type: ignore[index]
    assert 1 <= runs <= 5, out


def test_products_search_prints_its_figures(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--products", "300", "--workers", "1", "--loadgen", "python", "--connections", "4"]
    assert products_search.main([*argv, "--duration", "1", "--warmup", "0"]) == 0
    out = capsys.readouterr().out
    figures = dict(re.findall(r"^(requests/s|errors)\s+([\d.]+)", out, re.M))
    assert float(figures["requests/s"]) > 0 and figures["errors"] == "0", out
