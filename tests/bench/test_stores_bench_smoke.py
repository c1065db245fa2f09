"""bench/stores.py still runs end to end (its figures come from running it, never from a test): three sandbox
stores of 60 variants, sync-all-stores twice against a Prefect server of its own, each table checked against
its oracle and the second run writing only what changed."""

from __future__ import annotations

import re
import subprocess
import sys

from bench.harness import PG_ADMIN_URL, ROOT


def prefect_db() -> str:
    """The Prefect server's database: PostgreSQL when there is one (about 20 s in all); on its SQLite file the
    server's locks make sync-all-stores several times slower (about 60-100 s on a 2-core machine)."""
    import sqlalchemy as sa

    engine = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            return "postgres"
    except sa.exc.SQLAlchemyError:
        return "sqlite"
    finally:
        engine.dispose()


def test_sync_all_stores_twice_ends_equal_to_the_oracles_and_prints_its_table() -> None:
    argv = [
        "--variants",
        "60",
        "--database",
        "sqlite",
        "--prefect-db",
        prefect_db(),
        "--restore-rate",
        "1000",
    ]
    done = subprocess.run(
        [sys.executable, "-m", "bench.stores", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert out.count("store          platform     status   scope") == 2, out
    rows = re.findall(
        r"^  (bench-\w+)\s+(\w+)\s+(\w+)\s+(full|incremental)\s.*\s(CLEAN|DIFFERS.*)$", out, re.M
    )
    assert len(rows) == 6, out
    assert all(status == "success" and oracle == "CLEAN" for _, _, status, _, oracle in rows), out
    second = rows[3:]
    assert {(name, scope) for name, _, _, scope, _ in second} == {
        ("bench-shopify", "incremental"),
        ("bench-woo", "incremental"),
        ("bench-sazito", "full"),  # Sazito reports no modification times
    }, out
    # created 0, updated == the rows to write, removed 0 in every store
    assert len(re.findall(r"\s+yes  CLEAN$", out, re.M)) == 3, out
    assert re.search(r"bound\s+[\d.]+ s = max\(0, actual cost [\d,]+ - \d+\) / 1000", out), out
    assert re.search(r"throttled\s+0 THROTTLED answers", out), out
    assert "result: every store synced and equal to its oracle" in out, out
