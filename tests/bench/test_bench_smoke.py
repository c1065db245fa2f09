"""The benchmark runner still runs (figures come from bench/, never from a test): a tiny plain-script run."""

from __future__ import annotations

import pytest

from bench.run import HEADER, main


def test_runner_measures_the_plain_contender(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--products", "20", "--variants", "2", "--contenders", "plain"]) == 0
    out = capsys.readouterr().out
    assert HEADER in out
    row = next(line for line in out.splitlines() if line.startswith("plain"))
    fields = row.split()
    assert fields[1] == "0" and fields[8] == "yes"  # exit code 0, store correct
    assert int(fields[4]) > 0 and int(fields[5]) > 0  # requests and writes were counted


def test_unknown_contender_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--contenders", "nope"])
    assert caught.value.code == 2
