"""The Fever events feed (contracts/fever.md) as a stream of events and rejected plans.

The document is parsed incrementally: each element is dropped once read, text is never kept and a plan holds
at most MAX_ZONES_PER_PLAN zones, so memory stays flat whatever the size or shape of the feed. DTDs and
entities are refused (defusedxml), and so is a document whose root is not ``planList``. An event is one plan
of an ``online`` base plan, keyed by (base_plan_id, plan_id); a plan with a bad date, a missing attribute, a
bad number or a value the events table cannot hold is rejected with a reason and the rest of the feed goes on.
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
from xml.etree.ElementTree import Element, ParseError, TreeBuilder

import defusedxml.ElementTree as safe_xml
from defusedxml import DefusedXmlException

from sync_core.errors import ConnectorError

ROOT_TAG = "planList"
PLAN_ATTRIBUTES = ("plan_id", "plan_start_date", "plan_end_date", "sell_from", "sell_to", "sold_out")
BOOLEANS = {"true": True, "false": False}
# The real answer (contracts/samples/fever_response_2.xml) has at most 3 zones a plan, and the contract speaks
# of hundreds per base plan: 5,000 is ten times that at least, and already ~0.6 MB of JSON in the event's row.
MAX_ZONES_PER_PLAN = 5_000
MAX_ID_LENGTH = 64  # events.base_plan_id, plan_id and organizer_company_id are VARCHAR(64)
MAX_ITEM_KEY_LENGTH = 128  # failures.item_key is VARCHAR(128)
STORABLE_PRICE_LIMIT = Decimal(10) ** 10  # events.min_price and max_price are NUMERIC(12,2): below 10^10
PLAUSIBLE_PRICE_MAX = Decimal(10**12)  # the default of Settings.plausible_price_max
CENT = Decimal("0.01")


class FeedError(ConnectorError):
    """The document is unusable (not XML, a DTD, not the feed, cut short): the run fails; events read before
    stay stored."""


def item_key(base_plan_id: str, plan_id: str) -> str:
    """The failures' key of a plan: ``base/plan``, shortened with a digest when the ids are too long for it."""
    key = f"{base_plan_id}/{plan_id}"
    if len(key) <= MAX_ITEM_KEY_LENGTH:
        return key
    return f"{key[: MAX_ITEM_KEY_LENGTH - 17]}#{hashlib.sha256(key.encode()).hexdigest()[:16]}"


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
    def item_key(self) -> str:
        return item_key(self.base_plan_id, self.plan_id)

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
    # missing-attribute | value-too-long | invalid-date | invalid-range | too-many-zones | bad-number
    # | implausible-price | price-too-large | invalid-value | no-zones
    reason: str
    message: str
    attributes: dict[str, str] = field(default_factory=dict)

    @property
    def item_key(self) -> str:
        return item_key(self.base_plan_id, self.plan_id)


class _Reject(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class _TextlessBuilder(TreeBuilder):
    def data(self, data: str) -> None:
        """Drop text: the feed has none, and a long text node would otherwise be held whole."""


@dataclass
class _OpenPlan:
    attrs: dict[str, str]
    zones: list[dict[str, Any]] = field(default_factory=list)
    count: int = 0  # every zone read, kept or not
    error: _Reject | None = None  # the first bad zone


class _Reader:
    """The parse between two events: the open elements, the current base plan and plan."""

    def __init__(self, stats: Counter[str], max_price: Decimal) -> None:
        self.stats, self.max_price = stats, max_price
        self.open: list[Element] = []
        self.base: dict[str, str] = {}
        self.plan: _OpenPlan | None = None

    def start(self, elem: Element) -> None:
        if not self.open and elem.tag != ROOT_TAG:
            raise FeedError(
                f"fever: the answer is not the events feed: root element {_shown_tag(elem.tag)}, "
                f"expected <{ROOT_TAG}>",
                provider="fever",
            )
        self.open.append(elem)
        if elem.tag == "base_plan":
            self.base = dict(elem.attrib)
        elif elem.tag == "plan" and self.base.get("sell_mode") == "online":
            self.plan = _OpenPlan(dict(elem.attrib))

    def end(self, elem: Element) -> FeedEvent | RejectedPlan | None:
        """The event or rejected plan a finished ``plan`` gives; drops every finished element."""
        self.open.pop()
        item = None
        if elem.tag == "zone" and self.plan is not None:
            self._add_zone(elem.attrib)
        elif elem.tag == "plan":
            item = self._end_plan()
        elif elem.tag == "base_plan":
            self.base = {}
        elem.clear()
        if self.open:
            del self.open[-1][:]  # out of its parent too: nothing read stays in the tree
        return item

    def _add_zone(self, attrs: dict[str, str]) -> None:
        assert self.plan is not None
        plan = self.plan
        plan.count += 1
        if plan.count > MAX_ZONES_PER_PLAN:
            plan.zones.clear()  # the plan is rejected: keep none of its zones
        elif plan.error is None:
            try:
                plan.zones.append(_zone(attrs, self.max_price))
            except _Reject as exc:
                plan.error, plan.zones = exc, []

    def _end_plan(self) -> FeedEvent | RejectedPlan | None:
        self.stats["plans"] += 1
        plan, self.plan = self.plan, None
        if plan is None:
            self.stats["offline"] += 1
            return None
        return _plan(self.base, plan)


def parse_feed(
    source: IO[bytes], stats: Counter[str] | None = None, *, max_price: Decimal = PLAUSIBLE_PRICE_MAX
) -> Iterator[FeedEvent | RejectedPlan]:
    """Events and rejected plans in document order; ``stats`` counts plans seen and offline plans ignored.

    A zone price above ``max_price`` rejects its plan as implausible. Raises FeedError (one line) when the
    document is not XML, declares a DTD or entities, or is not a ``planList``.
    """
    reader = _Reader(stats if stats is not None else Counter(), max_price)
    parser = safe_xml.DefusedXMLParser(target=_TextlessBuilder(), forbid_dtd=True)
    try:
        for event, elem in safe_xml.iterparse(source, events=("start", "end"), parser=parser):
            if event == "start":
                reader.start(elem)
            elif (item := reader.end(elem)) is not None:
                yield item
    except (ParseError, DefusedXmlException) as exc:
        cause = _shown(" ".join(str(exc).split()), 300)
        raise FeedError(
            f"fever: the feed is not usable XML ({type(exc).__name__}: {cause})", provider="fever"
        ) from None


def _plan(base: dict[str, str], plan: _OpenPlan) -> FeedEvent | RejectedPlan:
    attrs = plan.attrs
    base_id, plan_id = base.get("base_plan_id", ""), attrs.get("plan_id", "")
    try:
        _check_identity(base, attrs)
        starts_at, ends_at = _when(attrs, "plan_start_date"), _when(attrs, "plan_end_date")
        sell_from, sell_to = _when(attrs, "sell_from"), _when(attrs, "sell_to")
        if ends_at < starts_at:
            raise _Reject("invalid-range", f"plan ends ({ends_at:%Y-%m-%dT%H:%M:%S}) before it starts")
        if plan.count > MAX_ZONES_PER_PLAN:
            raise _Reject(
                "too-many-zones", f"plan has {plan.count:,} zones, more than {MAX_ZONES_PER_PLAN:,}"
            )
        if plan.error is not None:
            raise plan.error
        if not plan.zones:
            raise _Reject("no-zones", "plan has no zone, so no price")
        prices = [Decimal(z["price"]) for z in plan.zones]
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
            zones=tuple(plan.zones),
        )
    except _Reject as exc:
        message = f"plan {_shown(plan_id) or '?'} of base plan {_shown(base_id) or '?'}: {exc}"
        return RejectedPlan(base_id, plan_id, exc.reason, message, {**base, **attrs})


def _check_identity(base: dict[str, str], attrs: dict[str, str]) -> None:
    base_id = base.get("base_plan_id", "")
    if not base_id or not base.get("title"):
        raise _Reject("missing-attribute", f"base plan {_shown(base_id) or '?'} has no base_plan_id or title")
    missing = [name for name in PLAN_ATTRIBUTES if not attrs.get(name)]
    if missing:
        raise _Reject("missing-attribute", f"plan has no {', '.join(missing)}")
    ids = {
        "base_plan_id": base_id,
        "plan_id": attrs["plan_id"],
        "organizer_company_id": base.get("organizer_company_id"),
    }
    too_long = [f"{name} ({len(v):,} characters)" for name, v in ids.items() if v and len(v) > MAX_ID_LENGTH]
    if too_long:
        raise _Reject(
            "value-too-long", f"{', '.join(too_long)} longer than the {MAX_ID_LENGTH} the store holds"
        )


def _when(attrs: dict[str, str], name: str) -> datetime:
    """A feed datetime; naive ones (the contract's) are UTC."""
    try:
        value = datetime.fromisoformat(attrs[name])
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise _Reject(
            "invalid-date", f"{name} {_shown(attrs[name])!r} is not a valid date-time ({exc})"
        ) from None


def _flag(attrs: dict[str, str], name: str) -> bool:
    value = attrs[name].strip().lower()
    if value not in BOOLEANS:
        raise _Reject("invalid-value", f"{name} {_shown(attrs[name])!r} is not true or false")
    return BOOLEANS[value]


def _zone(attrs: dict[str, str], max_price: Decimal) -> dict[str, Any]:
    missing = [name for name in ("zone_id", "price") if not attrs.get(name)]
    if missing:
        raise _Reject("missing-attribute", f"a zone has no {', '.join(missing)}")
    try:
        price = Decimal(attrs["price"])
        capacity = int(attrs["capacity"]) if attrs.get("capacity") else None
    except (InvalidOperation, ValueError):
        capacity_text = _shown(attrs.get("capacity", ""))
        raise _Reject("bad-number", f"{_priced(attrs)} or capacity {capacity_text!r}") from None
    if not price.is_finite() or price < 0 or (capacity is not None and capacity < 0):
        raise _Reject("bad-number", f"{_priced(attrs)} or capacity out of range")
    numbered = attrs.get("numbered", "").strip().lower()
    return {
        "zone_id": attrs["zone_id"],
        "name": attrs.get("name", ""),
        "capacity": capacity,
        "price": str(_cents(price, max_price, attrs)),
        "numbered": BOOLEANS.get(numbered),
    }


def _cents(price: Decimal, max_price: Decimal, attrs: dict[str, str]) -> Decimal:
    """The price rounded to cents; raises _Reject when it is implausible or does not fit NUMERIC(12,2)."""
    if price > max_price:
        raise _Reject("implausible-price", f"{_priced(attrs)} is above the plausible maximum {max_price}")
    # Compared before rounding too: quantizing a price of 1e30 would overflow the decimal context.
    if price >= STORABLE_PRICE_LIMIT or (cents := price.quantize(CENT)) >= STORABLE_PRICE_LIMIT:
        raise _Reject("price-too-large", f"{_priced(attrs)} does not fit the store (NUMERIC(12,2): < 10^10)")
    return cents


def _priced(attrs: dict[str, str]) -> str:
    return f"zone {_shown(attrs['zone_id'])}: price {_shown(attrs['price'])!r}"


def _shown(value: str, limit: int = 80) -> str:
    """``value`` cut for a message (a feed value can be any length)."""
    return value if len(value) <= limit else f"{value[:limit]}…"


def _shown_tag(tag: str) -> str:
    namespace, _, name = tag[1:].rpartition("}") if tag.startswith("{") else ("", "", tag)
    return f'<{_shown(name)} xmlns="{_shown(namespace)}">' if namespace else f"<{_shown(name)}>"
