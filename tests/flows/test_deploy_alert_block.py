"""The alert block `catalog-sync deploy` uses: NOTIFY_BLOCK as found, or its own webhook block, kept as is."""

from __future__ import annotations

import asyncio

import pytest
from prefect.blocks.notifications import CustomWebhookNotificationBlock, SlackWebhook

from deployments.setup import ensure_notification_block
from deployments.spec import NOTIFICATION_BLOCK_NAME
from sync_core.errors import ConfigError
from sync_core.settings import Settings


def test_notify_block_names_an_existing_block(prefect_server: None) -> None:
    block_id = SlackWebhook(url="https://hooks.slack.com/services/T0/B0/X").save("ops-alerts", overwrite=True)
    found, changes = asyncio.run(ensure_notification_block(Settings(notify_block="slack-webhook/ops-alerts")))
    assert found == block_id
    assert [c.action for c in changes] == ["unchanged"]


def test_a_notify_block_that_does_not_exist_is_a_config_error(prefect_server: None) -> None:
    with pytest.raises(ConfigError, match="NOTIFY_BLOCK 'slack-webhook/nowhere' does not exist"):
        asyncio.run(ensure_notification_block(Settings(notify_block="slack-webhook/nowhere")))


def test_the_webhook_block_is_created_then_left_alone_then_updated(prefect_server: None) -> None:
    first = Settings(notify_webhook_url="http://127.0.0.1:9/first")
    created_id, created = asyncio.run(ensure_notification_block(first))
    same_id, unchanged = asyncio.run(ensure_notification_block(first))
    assert (created_id, [c.action for c in unchanged]) == (same_id, ["unchanged"])
    assert created[0].action in ("created", "updated")  # another test may have made it first

    moved_id, updated = asyncio.run(
        ensure_notification_block(Settings(notify_webhook_url="http://127.0.0.1:9/second"))
    )
    assert [c.action for c in updated] == ["updated"]
    assert moved_id == created_id
    assert CustomWebhookNotificationBlock.load(NOTIFICATION_BLOCK_NAME).url == "http://127.0.0.1:9/second"


def test_without_notification_settings_there_is_no_block() -> None:
    assert asyncio.run(ensure_notification_block(Settings(notify_webhook_url="", notify_block=""))) == (
        None,
        [],
    )
