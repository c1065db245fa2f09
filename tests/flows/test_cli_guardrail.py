"""The guardrail as an operator meets it on the command line: a held run is exit 3 with one line naming the
threshold and the commands; `release` sends the held writes, `discard` drops them; a run that is not held is
one line, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync_core.sandbox.server import SandboxHandle
from sync_core.sandbox.verify import verify_store
from tests.conftest import _truncate
from tests.flows.test_cli_runs import run_cli
from tests.flows.test_guardrail import zero_every_stock

pytestmark = pytest.mark.e2e


@pytest.fixture
def db_url(_sqlite_url: str) -> str:
    """SQLite only: the store behaves alike on both (tests/flows/test_guardrail.py runs both)."""
    _truncate(_sqlite_url)
    return _sqlite_url


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_held_run_release_and_discard_from_the_command_line(
    sandbox: SandboxHandle, db_url: str, tmp_path: Path, prefect_server: None
) -> None:
    code, out, err = run_cli(sandbox, db_url, tmp_path, ["sync", "products", "--full"])
    assert code == 0, err
    zero_every_stock(sandbox)
    sandbox.state.reset_stats()
    code, out, err = run_cli(sandbox, db_url, tmp_path, ["sync", "products", "--full"])
    assert code == 3, (out, err)
    line = one_line(err)
    run_id = int(line.split("release ")[1].split("`")[0])
    assert "held by the guardrail" in line and "GUARD_MAX_STOCK_ZEROED_PERCENT" in line
    assert f"catalog-sync discard {run_id}" in line and "status       held" in out
    assert sandbox.state.stats()["variant_writes"] == 0

    code, out, err = run_cli(sandbox, db_url, tmp_path, ["release", str(run_id)])
    assert code == 0, err
    assert "released" in out and verify_store(sandbox.state).ok

    code, out, err = run_cli(sandbox, db_url, tmp_path, ["discard", str(run_id)])
    assert code == 2
    assert (
        one_line(err)
        == f"catalog-sync: run {run_id} is released, not held: there is nothing to release or discard"
    )
    code, out, err = run_cli(sandbox, db_url, tmp_path, ["release", "999999"])
    assert code == 2 and "there is no run 999999" in one_line(err)
