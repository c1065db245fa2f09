"""sync-events end to end against the sandbox's Fever feed, checked against its independent oracle."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from catalog_sync.service import create_app
from flows.sync_events import sync_events
from sync_core.db import session_scope
from sync_core.engine.runs import aware
from sync_core.pipelines.fever_events import EVENTS_PIPELINE, event_id
from sync_core.sandbox.catalogue import SandboxConfig
from sync_core.sandbox.fever_oracle import expected_events, invalid_plans
from sync_core.sandbox.server import SandboxHandle
from sync_core.settings import load_settings
from sync_core.tables import Event, Failure

pytestmark = pytest.mark.e2e


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(products=5, variants=1, seed=11, fever_base_plans=40, fever_plans_per_base=2)


def stored(db_url: str) -> dict[tuple[str, str], Event]:
    with session_scope(db_url) as session:
        return {(e.base_plan_id, e.plan_id): e for e in session.exec(select(Event))}


def assert_matches_oracle(rows: dict[tuple[str, str], Event], expected: dict[tuple[str, str], Any]) -> None:
    assert set(rows) == set(expected)
    for key, want in expected.items():
        row = rows[key]
        assert row.id == event_id(*key)
        assert row.title == want["title"]
        assert aware(row.starts_at).replace(tzinfo=None) == want["starts_at"]  # type: ignore[union-attr]
        assert aware(row.ends_at).replace(tzinfo=None) == want["ends_at"]  # type: ignore[union-attr]
        assert (Decimal(row.min_price), Decimal(row.max_price)) == (want["min_price"], want["max_price"])
        assert row.sold_out == want["sold_out"]


def test_the_feed_is_stored_then_only_its_changes_are_written(sync_env: SandboxHandle, db_url: str) -> None:
    config = sync_env.state.config.fever_feed()

    first = sync_events(url=sync_env.fever_url)
    assert_matches_oracle(stored(db_url), expected_events(config, 1))
    quarantined = invalid_plans(config, 1)
    assert first["status"] == "partial" and first["failed"] == len(quarantined) > 0
    with session_scope(db_url) as session:
        failures = session.exec(select(Failure).where(Failure.pipeline == EVENTS_PIPELINE)).all()
    assert {f.item_key for f in failures} == {f"{b}/{p}" for b, p in quarantined}
    assert {f.reason for f in failures} == {"invalid-date"}
    assert first["pushed"] == len(expected_events(config, 1)) and first["unchanged"] == 0

    second = sync_events(url=sync_env.fever_url)
    expected = expected_events(config, 2)
    assert_matches_oracle(stored(db_url), expected)
    changed = {k for k, v in expected.items() if v != expected_events(config, 1)[k]}
    assert changed and second["pushed"] == second["updated"] == len(changed)
    assert second["unchanged"] == len(expected) - len(changed)


def test_with_the_provider_down_the_run_fails_and_search_still_answers(
    sync_env: SandboxHandle, db_url: str
) -> None:
    sync_events(url=sync_env.fever_url)
    sync_env.state.configure(fault_rate=1.0)
    with pytest.raises(Exception, match="fever"):
        sync_events(url=sync_env.fever_url)

    client = TestClient(create_app(load_settings))
    answer = client.get(
        "/search", params={"starts_at": "2000-01-01T00:00:00Z", "ends_at": "2100-01-01T00:00:00Z"}
    )
    assert answer.status_code == 200
    events = answer.json()["data"]["events"]
    assert len(events) == len(stored(db_url)) > 0
    assert [e["start_date"] + e["start_time"] for e in events] == sorted(
        e["start_date"] + e["start_time"] for e in events
    )
