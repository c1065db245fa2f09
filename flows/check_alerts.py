"""check-alerts: open, notify and resolve low-stock alerts from the inventory (deployment check-alerts/hourly).

New alerts are notified once, all in one message, through the alert block (NOTIFY_BLOCK, or the webhook
block of NOTIFY_WEBHOOK_URL that `catalog-sync deploy` saves); an alert stays un-notified (and is sent with
the next check) while no block is set or the notification fails. The ``low-stock`` artifact lists what is
open.
"""

from __future__ import annotations

from typing import Any, cast

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from sync_core.db import upgrade
from sync_core.engine.context import current_settings
from sync_core.notify import alert_block
from sync_core.pipelines.stores import alerts

ARTIFACT_ROWS = 500


@flow(name="check-alerts")
def check_alerts() -> dict[str, Any]:
    """Compare every tracked item's stock with its threshold; notify the new alerts in one message."""
    settings = current_settings()
    url = settings.database_url
    upgrade(url)
    logger = get_run_logger()
    found = alerts.check(url, settings.low_stock_threshold)
    result = found.summary() | {"notified": 0}
    if found.to_notify:
        block = alert_block(settings)
        if block is None:
            logger.warning(
                "%s low-stock alert(s) not notified: set NOTIFY_WEBHOOK_URL or NOTIFY_BLOCK",
                len(found.to_notify),
            )
        else:
            subject, body = alerts.message(found.to_notify)
            try:
                cast(Any, block).notify(body, subject=subject)  # Prefect's sync form of notify
            except Exception as exc:  # sent with the next check
                logger.warning(
                    "low-stock notification failed (%s: %s); the next check sends it", type(exc).__name__, exc
                )
            else:
                alerts.mark_notified(url, [a.id for a in found.to_notify if a.id is not None])
                result["notified"] = len(found.to_notify)
    still = alerts.alerts(url, open_only=True, limit=ARTIFACT_ROWS)
    create_table_artifact(
        key="low-stock",
        table=[
            {
                "store": a.integration,
                "sku": a.sku,
                "title": a.title,
                "stock": a.stock,
                "threshold": a.threshold,
                "since": a.opened_at.isoformat(),
            }
            for a in still
        ]
        or [
            {
                "store": "",
                "sku": "",
                "title": "no item is low on stock",
                "stock": "",
                "threshold": "",
                "since": "",
            }
        ],
        description=f"{result['open']} item(s) at or under their low-stock threshold",
    )
    logger.info(
        "alerts: %s opened, %s resolved, %s open, %s notified",
        result["opened"],
        result["resolved"],
        result["open"],
        result["notified"],
    )
    return result
