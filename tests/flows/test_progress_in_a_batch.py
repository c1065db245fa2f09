"""Progress moves within a batch: its pages count as done as their share of the writes lands, not all at once
when the batch ends (a long batch would otherwise leave the artifact and the bar still)."""

from __future__ import annotations

import pytest

from flows.sync_products import sync_products
from sync_core.engine.progress import Snapshot, listening
from sync_core.sandbox.catalogue import SandboxConfig
from sync_core.sandbox.server import SandboxHandle

pytestmark = pytest.mark.e2e


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    # 3 pages of 25, in one batch; every call 40 ms, one at a time: the batch's writes take a second or so.
    return SandboxConfig(products=60, variants=2, seed=8, latency_ms=40, in_sync_fraction=0.0)


def test_a_batch_moves_progress_page_by_page_as_its_writes_land(
    sync_env: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNC_PAGES_PER_BATCH", "3")
    monkeypatch.setenv("HTTP_CONCURRENCY", "1")
    seen: list[Snapshot] = []
    with listening(seen.append):
        summary = sync_products(scope="full")
    assert summary["status"] == "success" and summary["pushed"] > 0
    pages = [s.pages for s in seen if s.name == "anar360-sazito"]
    assert pages[-1] == 3 and seen[-1].complete
    assert any(0 < p < 3 for p in pages), pages  # not one jump from 0 to 3 when the batch ended
