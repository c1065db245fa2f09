"""The webhook inbox: deliveries whose validation key matched, kept until a run has applied them, and the
count of those refused. Pure storage; ``drain`` turns them into runs.

A drain claims every pending delivery at once (so a burst becomes one run), and after the run either marks
them applied (with the run's id) or releases them with the reason, to be claimed again later: a delivery is
never lost, whether Prefect, Ploomes or the database was down. A claim older than ``CLAIM_TTL_S`` (a drain
that died) is taken again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import col

from sync_core.db import in_chunks, session_scope
from sync_core.pipelines.ploomes.tables import PloomesWebhookDelivery, WebhookCount
from sync_core.tables import utcnow

ACTIONS = ("Create", "Update", "Delete")
SOURCE = "ploomes"
# A claim this old is taken again: its drain died, or its run waits long for the lease. Applying a delivery
# twice is harmless (a real-time run reads the product again and writes only what changed); late is not.
CLAIM_TTL_S = 900.0
INBOX: sa.Table = PloomesWebhookDelivery.__table__  # type: ignore[attr-defined]
COUNTS: sa.Table = WebhookCount.__table__  # type: ignore[attr-defined]


class BadDelivery(ValueError):
    """A body that is not a Ploomes product delivery (the message says why, in one line)."""


@dataclass(frozen=True)
class Delivery:
    action: str
    product_id: int


def read_delivery(body: Any) -> Delivery:
    """The action and product id of a delivery body (``{"Action", "Entity", "New", "Old"}``); BadDelivery."""
    if not isinstance(body, dict):
        raise BadDelivery("the body must be a JSON object with Action, Entity, New and Old")
    action = body.get("Action")
    if action not in ACTIONS:
        raise BadDelivery(f"Action must be one of {', '.join(ACTIONS)}, not {str(action)[:40]!r}")
    entity = body.get("Entity")
    if entity != "Product":
        raise BadDelivery(f"Entity must be Product, not {str(entity)[:40]!r}")
    product = body.get("Old") if action == "Delete" else body.get("New")
    if not isinstance(product, dict):
        side = "Old" if action == "Delete" else "New"
        raise BadDelivery(f"a {action} delivery carries the product in {side}, which is missing")
    product_id = product.get("Id")
    if not isinstance(product_id, int) or isinstance(product_id, bool) or product_id < 1:
        raise BadDelivery(f"the product's Id must be a positive whole number, not {str(product_id)[:40]!r}")
    return Delivery(action, product_id)


def keep(url: str, delivery: Delivery, body: dict[str, Any]) -> int:
    """Store a good delivery; its inbox id."""
    with session_scope(url) as session:
        row = PloomesWebhookDelivery(
            received_at=utcnow(), action=delivery.action, product_id=delivery.product_id, body=body
        )
        session.add(row)
        session.flush()
        assert row.id is not None
        return row.id


def count(url: str, outcome: str) -> None:
    """Count one refused delivery (``forged``, ``unreadable``)."""
    now = utcnow()
    with session_scope(url) as session:
        done = session.execute(
            sa.update(COUNTS)
            .where(COUNTS.c.source == SOURCE, COUNTS.c.outcome == outcome)
            .values(count=COUNTS.c.count + 1, last_at=now)
        ).rowcount  # type: ignore[attr-defined]
        if not done:
            session.add(WebhookCount(source=SOURCE, outcome=outcome, count=1, last_at=now))


def counts(url: str) -> dict[str, int]:
    """Refused deliveries by outcome, and the inbox's pending and applied ones."""
    with session_scope(url) as session:
        found = {o: n for o, n in session.execute(sa.select(COUNTS.c.outcome, COUNTS.c.count))}
        pending = session.execute(
            sa.select(sa.func.count()).select_from(INBOX).where(INBOX.c.applied_at.is_(None))
        ).scalar_one()
        applied = session.execute(
            sa.select(sa.func.count()).select_from(INBOX).where(INBOX.c.applied_at.is_not(None))
        ).scalar_one()
    return found | {"pending": int(pending), "applied": int(applied)}


def _claimable(now: datetime) -> sa.ColumnElement[bool]:
    stale = now - timedelta(seconds=CLAIM_TTL_S)
    return sa.and_(
        INBOX.c.applied_at.is_(None), sa.or_(INBOX.c.claimed_at.is_(None), INBOX.c.claimed_at < stale)
    )


def oldest_pending(url: str) -> datetime | None:
    """When the oldest claimable delivery arrived (None: nothing to do)."""
    with session_scope(url) as session:
        found = session.execute(sa.select(sa.func.min(INBOX.c.received_at)).where(_claimable(utcnow())))
        value: datetime | None = found.scalar_one()
    return value


@dataclass(frozen=True)
class Claim:
    """Deliveries taken into one run: the products to read again, and those deleted."""

    ids: tuple[int, ...]  # delivery ids
    updated: tuple[int, ...]  # product ids whose last delivery is a Create or Update
    deleted: tuple[int, ...]  # product ids whose last delivery is a Delete


def claim(url: str, *, limit: int = 5000) -> Claim | None:
    """Claim the pending deliveries (oldest first, up to ``limit``); None when there are none."""
    now = utcnow()
    with session_scope(url) as session:
        rows = session.execute(
            sa.select(INBOX.c.id, INBOX.c.action, INBOX.c.product_id)
            .where(_claimable(now))
            .order_by(INBOX.c.id)
            .limit(limit)
        ).all()
        taken: list[int] = []
        for chunk in in_chunks([r.id for r in rows]):
            # The same condition again: another drain that claimed them in between keeps them.
            result = session.execute(
                sa.update(INBOX)
                .where(INBOX.c.id.in_(chunk), _claimable(now))
                .values(claimed_at=now, attempts=INBOX.c.attempts + 1)
                .returning(INBOX.c.id)
            )
            taken.extend(i for (i,) in result)
    if not taken:
        return None
    chosen = set(taken)
    last: dict[int, str] = {}
    for row in rows:
        if row.id in chosen:
            last[row.product_id] = row.action  # in id order: the last delivery of a product wins
    return Claim(
        ids=tuple(sorted(chosen)),
        updated=tuple(p for p, action in last.items() if action != "Delete"),
        deleted=tuple(p for p, action in last.items() if action == "Delete"),
    )


def settle(url: str, ids: Sequence[int], *, run_id: int | None) -> None:
    """The claimed deliveries ``ids`` are applied by run ``run_id``."""
    now = utcnow()
    with session_scope(url) as session:
        for chunk in in_chunks(list(ids)):
            session.execute(
                sa.update(INBOX)
                .where(INBOX.c.id.in_(chunk))
                .values(applied_at=now, run_id=run_id, last_error=None)
            )


def release(url: str, ids: Sequence[int], *, reason: str) -> None:
    """The claimed deliveries ``ids`` were not applied (``reason``): claimable again."""
    with session_scope(url) as session:
        for chunk in in_chunks(list(ids)):
            session.execute(
                sa.update(INBOX)
                .where(INBOX.c.id.in_(chunk), INBOX.c.applied_at.is_(None))
                .values(claimed_at=None, last_error=reason[:500])
            )


def prune(url: str, *, older_than: timedelta) -> int:
    """Delete applied deliveries older than ``older_than``; how many."""
    with session_scope(url) as session:
        cutoff = utcnow() - older_than
        return (
            session.execute(
                sa.delete(INBOX).where(INBOX.c.applied_at.is_not(None), col(INBOX.c.applied_at) < cutoff)
            ).rowcount  # type: ignore[attr-defined]
            or 0
        )
