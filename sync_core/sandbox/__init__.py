"""Simulators of the Anar360, Sazito, Fever and Ingram Micro APIs (contracts/anar360.md, sazito.md, fever.md,
ingram.md).

Used by the demo, end-to-end tests and benchmarks: `running_sandbox(SandboxConfig(...))` serves them on a
free loopback port; `verify_store` checks the store against the value rules independently of the engine, and
`ingram_oracle` / `verify_ingram_table` say what the Ingram catalogue table must hold.
"""

from __future__ import annotations

from sync_core.sandbox.catalogue import SandboxConfig, StoreProduct, StoreVariant
from sync_core.sandbox.ingram_oracle import (
    IngramTableReport,
    compare_ingram_rows,
    ingram_oracle,
    verify_ingram_table,
)
from sync_core.sandbox.rules import VariantValues
from sync_core.sandbox.server import SandboxHandle, build_app, running_sandbox, serve
from sync_core.sandbox.state import SandboxState
from sync_core.sandbox.verify import VerifyReport, expected_writes, verify_store

__all__ = [
    "IngramTableReport",
    "SandboxConfig",
    "SandboxHandle",
    "SandboxState",
    "StoreProduct",
    "StoreVariant",
    "VariantValues",
    "VerifyReport",
    "build_app",
    "compare_ingram_rows",
    "expected_writes",
    "ingram_oracle",
    "running_sandbox",
    "serve",
    "verify_ingram_table",
    "verify_store",
]
