from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest

from sync_core.sandbox import SandboxConfig, SandboxHandle, SandboxState, running_sandbox
from tests.sandbox.helpers import IngramCaller

SMALL = {"products": 40, "variants": 3, "seed": 7}


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., SandboxHandle]]:
    """Start sandboxes with SMALL defaults overridden by keyword; all stop at the end of the test."""
    with ExitStack() as stack:

        def make(**overrides: Any) -> SandboxHandle:
            return stack.enter_context(running_sandbox(SandboxConfig(**{**SMALL, **overrides})))

        yield make


@pytest.fixture
def sandbox(make_sandbox: Callable[..., SandboxHandle]) -> SandboxHandle:
    return make_sandbox()


@pytest.fixture
def anar(sandbox: SandboxHandle) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {sandbox.anar360_token}"}
    with httpx.Client(base_url=sandbox.anar360_base, headers=headers, timeout=5) as client:
        yield client


@pytest.fixture
def sazito(sandbox: SandboxHandle) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=sandbox.sazito_base, headers={"X-API-KEY": sandbox.sazito_key}, timeout=5
    ) as client:
        yield client


@pytest.fixture
def admin(sandbox: SandboxHandle) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url + "/_sandbox", timeout=5) as client:
        yield client


@pytest.fixture(scope="module")
def shared_sandbox() -> Iterator[SandboxHandle]:
    """One sandbox per module, for tests that only read (stopping a server costs ~0.2 s)."""
    with running_sandbox(SandboxConfig(**SMALL)) as handle:
        yield handle


@pytest.fixture
def anar_ro(shared_sandbox: SandboxHandle) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {shared_sandbox.anar360_token}"}
    with httpx.Client(base_url=shared_sandbox.anar360_base, headers=headers, timeout=5) as client:
        yield client


@pytest.fixture
def sazito_ro(shared_sandbox: SandboxHandle) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=shared_sandbox.sazito_base, headers={"X-API-KEY": shared_sandbox.sazito_key}, timeout=5
    ) as client:
        yield client


INGRAM_SMALL = {"products": 3, "variants": 1, "ingram_parts": 120, "seed": 5}


@pytest.fixture
def make_ingram() -> Callable[..., IngramCaller]:
    """In-process sandboxes (no server) with INGRAM_SMALL defaults overridden by keyword."""

    def make(**overrides: Any) -> IngramCaller:
        return IngramCaller(SandboxState(SandboxConfig(**{**INGRAM_SMALL, **overrides})))

    return make


@pytest.fixture
def ingram(make_ingram: Callable[..., IngramCaller]) -> IngramCaller:
    return make_ingram()
