from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable

import httpx
import pytest

from sync_core.sandbox import (
    SandboxConfig,
    SandboxHandle,
    SandboxState,
    expected_writes,
    running_sandbox,
    verify_store,
)
from sync_core.sandbox.catalogue import now_ms
from tests.sandbox.helpers import linked_ids


def _make_correct(state: SandboxState) -> None:
    for vid, expected, _ in verify_store(state).wrong:
        variant = state.catalogue.store_variants[vid]
        variant.price, variant.discount_price, variant.is_stock_managed, variant.stock_number = expected


def _wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def test_mutate_changes_distinct_variants_and_bumps_updated_at(
    sandbox: SandboxHandle, admin: httpx.Client
) -> None:
    state = sandbox.state
    _make_correct(state)
    before = now_ms()
    body = admin.post("/mutate", json={"variants": 6, "seed": 3}).json()
    changed = body["changed"]
    assert body["count"] == len(set(changed)) == 6
    report = verify_store(state)
    assert len(report.wrong) == 6 and expected_writes(state) >= 6
    cat = state.catalogue
    for vid in changed:
        pos, _ = cat.variant_index[vid]
        assert cat.updated_ms[pos] >= before
        assert cat.supplier_products[pos]["updatedAt"].endswith("Z")
    assert state.stats()["mutations"] == 6


def test_mutate_is_seeded(make_sandbox) -> None:
    a, b = make_sandbox(), make_sandbox()
    assert a.state.mutate(5, seed=9) == b.state.mutate(5, seed=9)
    assert len(a.state.mutate(10**6)) == len(linked_ids(a))  # capped at the eligible variants


def test_reset_stats(sandbox: SandboxHandle, admin: httpx.Client, anar: httpx.Client) -> None:
    anar.get("/auth/validate")
    assert admin.get("/stats").json()["requests_total"] == 1
    admin.post("/reset-stats")
    stats = admin.get("/stats").json()
    assert stats["requests_total"] == 0 and stats["statuses"] == {} and stats["variant_writes"] == 0


def _put_stock(handle: SandboxHandle, vid: int, stock: int, timeout: float = 5) -> httpx.Response:
    return httpx.put(
        f"{handle.sazito_base}/accounting/bulk-update-stock",
        timeout=timeout,
        headers={"X-API-KEY": handle.sazito_key},
        json={"variants": [{"id": vid, "stock": stock}]},
    )


def test_held_write_is_applied_once_released(make_sandbox) -> None:
    sb = make_sandbox()
    a, b = linked_ids(sb)[:2]
    sb.state.hold_writes(1)
    assert _put_stock(sb, a, 7).status_code == 200
    answers: list[httpx.Response] = []
    worker = threading.Thread(target=lambda: answers.append(_put_stock(sb, b, 8)))
    worker.start()
    _wait_for(lambda: sb.state.stats()["waiting_writes"] == 1)
    assert sb.state.catalogue.store_variants[b].stock_number != 8
    httpx.post(sb.url + "/_sandbox/release-writes")
    worker.join(5)
    assert answers[0].status_code == 200 and sb.state.catalogue.store_variants[b].stock_number == 8
    assert sb.state.stats()["write_calls"] == 2


def test_held_write_of_a_killed_client_is_never_applied(make_sandbox) -> None:
    sb = make_sandbox()
    vid = linked_ids(sb)[0]
    before = sb.state.catalogue.store_variants[vid].values()
    httpx.post(sb.url + "/_sandbox/faults", json={"hold_writes_after": 0})
    url = sb.sazito_base + "/accounting/bulk-update-price"
    body = {"variants": [{"id": vid, "price": 1234, "discount_price": None}]}
    headers = {"X-API-KEY": sb.sazito_key}
    script = f"import httpx; httpx.put({url!r}, headers={headers!r}, json={body!r}, timeout=30)"
    client = subprocess.Popen([sys.executable, "-c", script])
    try:
        _wait_for(lambda: sb.state.stats()["waiting_writes"] == 1, timeout=10)
    finally:
        client.kill()
        client.wait()
    _wait_for(lambda: sb.state.stats()["abandoned_writes"] == 1)
    sb.state.release_writes()
    time.sleep(0.1)
    assert sb.state.catalogue.store_variants[vid].values() == before
    stats = sb.state.stats()
    assert (stats["write_calls"], stats["variant_writes"], stats["waiting_writes"]) == (0, 0, 0)


def test_hold_counts_only_applied_calls(make_sandbox) -> None:
    sb = make_sandbox()
    vid = linked_ids(sb)[0]
    sb.state.hold_writes_after = 1  # the property is the same knob as hold_writes(1)
    assert sb.state.knobs()["hold_writes_after"] == 1
    headers = {"X-API-KEY": sb.sazito_key}
    assert (
        httpx.put(
            f"{sb.sazito_base}/accounting/update-price/{vid}",
            headers=headers,
            json={"price": 5, "discount_price": 9},
        ).status_code
        == 422
    )  # not applied, not counted
    assert _put_stock(sb, vid, 4).status_code == 200
    with pytest.raises(httpx.ReadTimeout):
        _put_stock(sb, vid, 5, timeout=0.3)
    _wait_for(lambda: sb.state.stats()["abandoned_writes"] == 1)
    assert sb.state.catalogue.store_variants[vid].stock_number == 4


def test_config_validation() -> None:
    with pytest.raises(ValueError):
        SandboxConfig(envelope="weird")
    state = SandboxState(SandboxConfig(products=3))
    with pytest.raises(ValueError):
        state.configure(hold_writes_after=-1)
    with pytest.raises(ValueError):
        state.configure(products=5)


def test_stopping_the_sandbox_does_not_wait_for_held_writes() -> None:
    answers: list[object] = []
    started = time.monotonic()
    with running_sandbox(SandboxConfig(products=5)) as sb:
        sb.state.hold_writes(0)
        vid = linked_ids(sb)[0]
        before = sb.state.catalogue.store_variants[vid].values()

        def write() -> None:
            try:
                answers.append(_put_stock(sb, vid, 3).status_code)
            except httpx.HTTPError as exc:
                answers.append(exc)

        worker = threading.Thread(target=write)
        worker.start()
        _wait_for(lambda: sb.state.stats()["waiting_writes"] == 1)
    worker.join(5)
    assert time.monotonic() - started < 5 and answers and answers[0] != 200
    assert sb.state.catalogue.store_variants[vid].values() == before
