"""The Fever events feed (contracts/fever.md) as a stream of events and rejected plans.

The document is parsed incrementally and each finished base plan is dropped, so memory stays flat however
long the feed is. DTDs and entities are refused (defusedxml). An event is one plan of an ``online`` base
plan, keyed by (base_plan_id, plan_id); a plan with a bad date, a missing attribute or a bad number is
rejected with a reason and the rest of the feed goes on.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import IO, Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as safe_xml
from defusedxml import DefusedXmlException

from sync_core.errors import ConnectorError

PLAN_ATTRIBUTES = ("plan_id", "plan_start_date", "plan_end_date", "sell_from", "sell_to", "sold_out")
ZONE_ATTRIBUTES = ("zone_id", "capacity", "price", "name", "numbered")
BOOLEANS = {"true": True, "false": False}


class FeedError(ConnectorError):
    """The document is unusable (not XML, a DTD, cut short): the run fails; events read before stay stored."""


@dataclass(frozen=True)
class FeedEvent:
    base_plan_id: str
    plan_id: str
    title: str
    organizer_company_id: str | None
    starts_at: datetime
    ends_at: datetime
    sell_from: datetime
    sell_to: datetime
    sold_out: bool
    min_price: Decimal
    max_price: Decimal
    zones: tuple[dict[str, Any], ...]

    @property
    def key(self) -> tuple[str, str]:
        return self.base_plan_id, self.plan_id

    @property
    def fingerprint(self) -> str:
        """Digest of everything stored about the event: equal fingerprints mean nothing to write."""
        content = [
            self.title,
            self.organizer_company_id,
            *(t.isoformat() for t in (self.starts_at, self.ends_at, self.sell_from, self.sell_to)),
            self.sold_out,
            str(self.min_price),
            str(self.max_price),
            list(self.zones),
        ]
        return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class RejectedPlan:
    base_plan_id: str
    plan_id: str
    reason: str  # missing-attribute | invalid-date | invalid-range | bad-number | invalid-value | no-zones
    message: str
    attributes: dict[str, str] = field(default_factory=dict)

    @property
    def item_key(self) -> str:
        return f"{self.base_plan_id}/{self.plan_id}"


class _Reject(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def parse_feed(source: IO[bytes], stats: Counter[str] | None = None) -> Iterator[FeedEvent | RejectedPlan]:
    """Events and rejected plans in document order; ``stats`` counts plans seen and offline plans ignored."""
    stats = stats if stats is not None else Counter()
    container: Element | None = None
    base: dict[str, str] = {}
    try:
        for event, elem in safe_xml.iterparse(source, events=("start", "end"), forbid_dtd=True):
            if event == "start":
                if elem.tag == "base_plan":
                    base = dict(elem.attrib)
                elif elem.tag == "output":
                    container = elem
                continue
            if elem.tag == "plan":
                stats["plans"] += 1
                if base.get("sell_mode") == "online":
                    yield _plan(base, elem)
                else:
                    stats["offline"] += 1
            elif elem.tag == "base_plan" and container is not None:
                container.clear()  # drop every finished base plan: memory stays flat
    except (ParseError, DefusedXmlException) as exc:
        raise FeedError(f"fever: the feed is not usable XML ({type(exc).__name__}: {exc})") from None


def _plan(base: dict[str, str], plan: Element) -> FeedEvent | RejectedPlan:
    attrs = dict(plan.attrib)
    base_id, plan_id = base.get("base_plan_id", ""), attrs.get("plan_id", "")
    try:
        if not base_id or not base.get("title"):
            raise _Reject("missing-attribute", f"base plan {base_id or '?'} has no base_plan_id or title")
        missing = [name for name in PLAN_ATTRIBUTES if not attrs.get(name)]
        if missing:
            raise _Reject("missing-attribute", f"plan has no {', '.join(missing)}")
        starts_at, ends_at = _when(attrs, "plan_start_date"), _when(attrs, "plan_end_date")
        sell_from, sell_to = _when(attrs, "sell_from"), _when(attrs, "sell_to")
        if ends_at < starts_at:
            raise _Reject("invalid-range", f"plan ends ({ends_at:%Y-%m-%dT%H:%M:%S}) before it starts")
        zones = tuple(_zone(zone.attrib) for zone in plan.iter("zone"))
        if not zones:
            raise _Reject("no-zones", "plan has no zone, so no price")
        prices = [Decimal(z["price"]) for z in zones]
        return FeedEvent(
            base_plan_id=base_id,
            plan_id=plan_id,
            title=base["title"],
            organizer_company_id=base.get("organizer_company_id") or None,
            starts_at=starts_at,
            ends_at=ends_at,
            sell_from=sell_from,
            sell_to=sell_to,
            sold_out=_flag(attrs, "sold_out"),
            min_price=min(prices),
            max_price=max(prices),
            zones=zones,
        )
    except _Reject as exc:
        message = f"plan {plan_id or '?'} of base plan {base_id or '?'}: {exc}"
        return RejectedPlan(base_id, plan_id, exc.reason, message, {**base, **attrs})


def _when(attrs: dict[str, str], name: str) -> datetime:
    """A feed datetime; naive ones (the contract's) are UTC."""
    try:
        value = datetime.fromisoformat(attrs[name])
    except ValueError as exc:
        raise _Reject("invalid-date", f"{name} {attrs[name]!r} is not a valid date-time ({exc})") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _flag(attrs: dict[str, str], name: str) -> bool:
    value = attrs[name].strip().lower()
    if value not in BOOLEANS:
        raise _Reject("invalid-value", f"{name} {attrs[name]!r} is not true or false")
    return BOOLEANS[value]


def _zone(attrs: dict[str, str]) -> dict[str, Any]:
    missing = [name for name in ("zone_id", "price") if not attrs.get(name)]
    if missing:
        raise _Reject("missing-attribute", f"a zone has no {', '.join(missing)}")
    zone_id = attrs["zone_id"]
    try:
        price = Decimal(attrs["price"])
        capacity = int(attrs["capacity"]) if attrs.get("capacity") else None
    except (InvalidOperation, ValueError):
        raise _Reject(
            "bad-number", f"zone {zone_id}: price {attrs['price']!r} or capacity {attrs.get('capacity')!r}"
        ) from None
    if not price.is_finite() or price < 0 or (capacity is not None and capacity < 0):
        raise _Reject("bad-number", f"zone {zone_id}: price {attrs['price']!r} or capacity out of range")
    numbered = attrs.get("numbered", "").strip().lower()
    return {
        "zone_id": zone_id,
        "name": attrs.get("name", ""),
        "capacity": capacity,
        "price": str(price.quantize(Decimal("0.01"))),
        "numbered": BOOLEANS.get(numbered),
    }
