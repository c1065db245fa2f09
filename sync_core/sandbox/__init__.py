"""Simulators of the Anar360 and Sazito APIs (contracts/anar360.md, contracts/sazito.md).

Used by the demo, end-to-end tests and benchmarks: `running_sandbox(SandboxConfig(...))` serves both on a
free loopback port; `verify_store` checks the store against the value rules independently of the engine.
"""

from __future__ import annotations

from sync_core.sandbox.catalogue import SandboxConfig, StoreProduct, StoreVariant
from sync_core.sandbox.rules import VariantValues
from sync_core.sandbox.server import SandboxHandle, build_app, running_sandbox, serve
from sync_core.sandbox.state import SandboxState
from sync_core.sandbox.verify import VerifyReport, expected_writes, verify_store

__all__ = [
    "SandboxConfig",
    "SandboxHandle",
    "SandboxState",
    "StoreProduct",
    "StoreVariant",
    "VariantValues",
    "VerifyReport",
    "build_app",
    "expected_writes",
    "running_sandbox",
    "serve",
    "verify_store",
]
