"""bench/search_load.py still runs end to end (figures come from bench/, never from a test): a tiny run."""

from __future__ import annotations

import re

import pytest

from bench.search_load import main, request_paths


def test_search_load_prints_its_figures(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--events", "300", "--workers", "2", "--mix", "varied", "--loadgen", "python"]
    assert main([*argv, "--connections", "4", "--duration", "1", "--warmup", "0"]) == 0
    out = capsys.readouterr().out
    assert "config        db=sqlite events=300 workers=2 mix=varied" in out
    figures = dict(
        re.findall(r"^(requests/s|latency p50|latency p99|latency max|errors)\s+([\d.]+)", out, re.M)
    )
    assert set(figures) == {"requests/s", "latency p50", "latency p99", "latency max", "errors"}, out
    assert float(figures["requests/s"]) > 0 and figures["errors"] == "0", out
    assert float(figures["latency p50"]) <= float(figures["latency p99"]) <= float(figures["latency max"])


def test_mixes_are_what_they_say() -> None:
    assert len(set(request_paths("hot", count=100))) == 1
    varied = request_paths("varied", count=2000)
    assert 300 < len(set(varied)) < 2000  # day-aligned windows repeat, as clients' do
    assert any("starts_at" not in p for p in varied) and any("ends_at" not in p for p in varied)
    assert len(set(request_paths("uncached", count=2000))) > 1900  # every window distinct
