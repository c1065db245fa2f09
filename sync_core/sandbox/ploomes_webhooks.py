"""Webhook deliveries of the Ploomes simulator (contracts/ploomes.md): what happened to products, POSTed to a
callback URL with `X-Ploomes-Validation-Key`, body `{"Action", "Entity": "Product", "New", "Old"}`.

`prepare_deliveries` first makes the event true in the catalogue: a Create creates products (or announces
existing ones), an Update changes them (unless `change=False`: a delivery whose data did not change), a
Delete deletes them. `deliver` POSTs them (httpx, `concurrency` at a time); `send_webhooks` does both from
plain Python code (tests, benchmarks).
"""

from __future__ import annotations

import asyncio
import secrets
import string
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

from sync_core.sandbox.ploomes_catalogue import PloomesProduct
from sync_core.sandbox.state import SandboxState

ACTION_NAMES = ("Create", "Update", "Delete")
KEY_HEADER = "X-Ploomes-Validation-Key"


@dataclass(frozen=True)
class Delivery:
    """One POST to make: where, with which key (None: no header at all), and the body."""

    product_id: int
    url: str
    key: str | None
    body: dict[str, Any]


def delivery_body(action: str, new: PloomesProduct | None, old: PloomesProduct | None) -> dict[str, Any]:
    """The contract's body; `New` and `Old` are products with OtherProperties (null on Delete / Create)."""
    return {
        "Action": action,
        "Entity": "Product",
        "New": None if new is None else new.to_json(expand=True),
        "Old": None if old is None else old.to_json(expand=True),
    }


def forged_key(key: str) -> str:
    """A key of the same length as `key` that is not `key`."""
    alphabet = string.ascii_letters + string.digits
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(max(1, len(key))))
        if candidate != key:
            return candidate


def _events(
    state: SandboxState,
    action: str,
    ids: Sequence[int] | None,
    count: int | None,
    change: bool,
    fields: Sequence[str],
    seed: int | None,
) -> list[tuple[PloomesProduct | None, PloomesProduct | None]]:
    """(old, new) per product, after making the event happen."""
    ploomes = state.ploomes
    with state.lock:
        if action == "Create":
            if ids is None:
                return [(None, new) for new in ploomes.create(1 if count is None else count)]
            return [(None, p) for p in map(ploomes.product, ids) if p is not None]
        if action == "Delete":
            return [(old, None) for old in ploomes.delete(ids, count=1 if count is None else count)]
        chosen = list(ids) if ids is not None else ploomes.pick(1 if count is None else count, seed)
        pairs: list[tuple[PloomesProduct | None, PloomesProduct | None]] = []
        if change:
            pairs += ploomes.change_records(chosen, fields, seed)
        else:
            pairs += [(p, p) for p in map(ploomes.product, chosen) if p is not None]
        return pairs


def prepare_deliveries(
    state: SandboxState,
    action: str,
    *,
    url: str | None = None,
    ids: Sequence[int] | None = None,
    count: int | None = None,
    change: bool = True,
    fields: Sequence[str] = (),
    forged: bool = False,
    key: str | None = None,
    omit_key: bool = False,
    seed: int | None = None,
) -> list[Delivery]:
    """Make the event happen to `ids` (else `count` products, 1 by default) and build its deliveries: to
    `url` with `key` (default: the ValidationKey of a webhook registered for the action at that url, else the
    knob `ploomes_webhook_key`), else to every webhook registered for the action with its ValidationKey. `forged`: a wrong key of the same length; `omit_key`: no header.

    Raises ValueError for an unknown action, or when there is no url and no webhook for the action (nothing
    is changed then).
    """
    if action not in ACTION_NAMES:
        raise ValueError(f"action must be one of {ACTION_NAMES}, not {action!r}")
    hooks = state.ploomes.hooks_for(action)
    if url is not None:
        registered = next((h["ValidationKey"] for h in hooks if h["CallbackUrl"] == url), None)
        targets = [(url, key if key is not None else registered or state.config.ploomes_webhook_key)]
    else:
        targets = [(h["CallbackUrl"], key if key is not None else h["ValidationKey"]) for h in hooks]
        if not targets:
            raise ValueError(f"no url given and no webhook registered for {action}")
    events = _events(state, action, ids, count, change, fields, seed)
    state.ploomes.mark_served(record for pair in events for record in pair)
    deliveries = []
    for old, new in events:
        product = new if new is not None else old
        assert product is not None
        body = delivery_body(action, new, old)
        for target, target_key in targets:
            sent_key = None if omit_key else forged_key(target_key) if forged else target_key
            deliveries.append(Delivery(product.id, target, sent_key, body))
    return deliveries


async def deliver(
    state: SandboxState,
    deliveries: Sequence[Delivery],
    *,
    concurrency: int = 1,
    timeout: float = 10.0,
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[int | None]:
    """POST each delivery, `concurrency` at a time; the status each got, in order (None: no answer)."""
    gate = asyncio.Semaphore(max(1, concurrency))
    async with httpx.AsyncClient(timeout=timeout, transport=transport) as client:

        async def one(delivery: Delivery) -> int | None:
            headers = {} if delivery.key is None else {KEY_HEADER: delivery.key}
            async with gate:
                try:
                    status: int | None = (
                        await client.post(delivery.url, json=delivery.body, headers=headers)
                    ).status_code
                except httpx.HTTPError:
                    status = None
            state.ploomes.note_delivery(status)
            return status

        return list(await asyncio.gather(*(one(d) for d in deliveries)))


def summary(action: str, deliveries: Sequence[Delivery], statuses: Sequence[int | None]) -> dict[str, Any]:
    """What `POST /_sandbox/ploomes/webhooks/send` answers: the Ids, each delivery's status, the counts."""
    return {
        "action": action,
        "ids": list(dict.fromkeys(d.product_id for d in deliveries)),
        "statuses": list(statuses),
        "counts": dict(Counter(str(s) if s is not None else "error" for s in statuses)),
    }


def send_webhooks(
    state: SandboxState,
    action: str,
    *,
    concurrency: int = 1,
    timeout: float = 10.0,
    transport: httpx.AsyncBaseTransport | None = None,
    **options: Any,
) -> dict[str, Any]:
    """`prepare_deliveries(state, action, **options)` then `deliver` them, from synchronous code (in a
    thread of its own, so it also works while an event loop runs); returns `summary`."""
    deliveries = prepare_deliveries(state, action, **options)

    def run() -> list[int | None]:
        return asyncio.run(
            deliver(state, deliveries, concurrency=concurrency, timeout=timeout, transport=transport)
        )

    with ThreadPoolExecutor(1) as pool:
        statuses = pool.submit(run).result()
    return summary(action, deliveries, statuses)
