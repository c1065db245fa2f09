"""Simulators of the Anar360, Sazito, Fever, Ingram Micro and Ploomes APIs (contracts/anar360.md, sazito.md,
fever.md, ingram.md, ploomes.md).

Used by the demo, end-to-end tests and benchmarks: `running_sandbox(SandboxConfig(...))` serves them on a
free loopback port; `verify_store` checks the store against the value rules independently of the engine, and
`ingram_oracle` / `verify_ingram_table` and `ploomes_oracle` / `verify_ploomes_table` say what the Ingram
catalogue and Ploomes products tables must hold (a `TableReport` each).
"""

from __future__ import annotations

from sync_core.sandbox.catalogue import SandboxConfig, StoreProduct, StoreVariant
from sync_core.sandbox.ingram_oracle import compare_ingram_rows, ingram_oracle, verify_ingram_table
from sync_core.sandbox.ploomes_oracle import compare_ploomes_rows, ploomes_oracle, verify_ploomes_table
from sync_core.sandbox.rules import VariantValues
from sync_core.sandbox.server import SandboxHandle, build_app, running_sandbox, serve
from sync_core.sandbox.state import SandboxState
from sync_core.sandbox.table_report import TableReport
from sync_core.sandbox.verify import VerifyReport, expected_writes, verify_store

__all__ = [
    "SandboxConfig",
    "SandboxHandle",
    "SandboxState",
    "StoreProduct",
    "StoreVariant",
    "TableReport",
    "VariantValues",
    "VerifyReport",
    "build_app",
    "compare_ingram_rows",
    "compare_ploomes_rows",
    "expected_writes",
    "ingram_oracle",
    "ploomes_oracle",
    "running_sandbox",
    "serve",
    "verify_ingram_table",
    "verify_ploomes_table",
    "verify_store",
]
