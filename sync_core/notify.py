"""The notification block operators' alerts go to: NOTIFY_BLOCK (a block made in the Prefect UI, as
"<type slug>/<name>"), else a Custom Webhook block for NOTIFY_WEBHOOK_URL, saved by `catalog-sync deploy` as
``catalog-sync-alerts``. Automations notify through it; flows that alert (check-alerts) load it here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from sync_core.errors import ConfigError

if TYPE_CHECKING:
    from prefect.blocks.abstract import NotificationBlock
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    from sync_core.settings import Settings

NOTIFICATION_BLOCK_NAME = "catalog-sync-alerts"


def webhook_block(url: str) -> CustomWebhookNotificationBlock:
    """The Custom Webhook block that POSTs ``{"subject", "body"}`` to ``url``."""
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    return CustomWebhookNotificationBlock(
        name="catalog-sync",
        url=url,
        json_data={"subject": "{{subject}}", "body": "{{body}}"},
        headers=None,
        cookies=None,
    )


def alert_block(settings: Settings) -> NotificationBlock | None:
    """The block to notify through (None when neither setting is given); ConfigError when NOTIFY_BLOCK names
    a block the Prefect server lacks. Without a saved webhook block (before `deploy`), one for
    NOTIFY_WEBHOOK_URL is made here."""
    from prefect.blocks.core import Block
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    if settings.notify_block:
        try:
            block: Any = Block.load(settings.notify_block)
        except ValueError:
            raise ConfigError(
                f"NOTIFY_BLOCK {settings.notify_block!r} does not exist on the Prefect server "
                "(create it in the UI under Blocks, or set NOTIFY_WEBHOOK_URL instead)"
            ) from None
        return cast("NotificationBlock", block)
    if not settings.notify_webhook_url:
        return None
    try:
        saved: Any = CustomWebhookNotificationBlock.load(NOTIFICATION_BLOCK_NAME)
    except ValueError:
        saved = None
    if saved is not None and saved.url == settings.notify_webhook_url:
        return cast("NotificationBlock", saved)
    return webhook_block(settings.notify_webhook_url)


def send_alert(settings: Settings, subject: str, body: str) -> bool:
    """Send one alert through the alert block; False when no block is configured."""
    block = alert_block(settings)
    if block is None:
        return False
    cast(Any, block).notify(body, subject=subject)  # Prefect's sync form of notify
    return True
