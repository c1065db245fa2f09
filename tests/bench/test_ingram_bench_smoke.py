"""bench/ingram.py still runs end to end (its figures come from running it, never from a test): 20 parts, one
process, a first and a later run against a Prefect server of its own, both checked against the oracle."""

from __future__ import annotations

import pytest

from bench.ingram import HEADER, Rates, main


def test_one_process_first_and_later_runs_match_the_oracle(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--parts", "20", "--unknown", "2", "--cases", "1w", "--changes", "3"]
    argv += ["--first-rates", "6000,6000", "--later-rates", "6000,6000", "--db", "sqlite"]
    assert main([*argv, "--prefect-db", "sqlite"]) == 0
    out = capsys.readouterr().out
    assert HEADER in out
    first, later = (line.split() for line in out.splitlines() if line.startswith("1w "))
    # case, run, rates, exit, wall, span, pna, details, token, 429s, pna/min, det/min, bound, ..., pushed, unchanged, oracle
    assert first[:4] == ["1w", "first", "6000,6000", "0"] and later[:4] == ["1w", "later", "6000,6000", "0"]
    assert (first[6], first[7]) == ("1", "20")  # 22 parts: one P&A call; details for the 20 known
    assert (later[6], later[7]) == ("1", "0")  # details cached
    assert first[-3:] == ["20", "0", "yes"] and later[-1] == "yes"
    assert int(later[-3]) <= 3  # only the changed parts are written


def test_rates_are_pna_then_details() -> None:
    assert Rates.parse("60,600") == Rates(60, 600)
    with pytest.raises(Exception, match="P&A,details"):
        Rates.parse("60")
