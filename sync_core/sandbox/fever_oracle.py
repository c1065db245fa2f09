"""The oracle of the generated Fever feed: what a correct consumer keeps, by the contract's rules.

Computed from the feed's parameters (`fever_feed.base_plan_specs`), never from its XML, so tests can hold
both the generator's rendering and an engine's parser against it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sync_core.sandbox.fever_feed import FeverFeedConfig, PlanSpec, base_plan_specs

TIME_FIELDS = ("starts_at", "ends_at", "sell_from", "sell_to")


def _times(plan: PlanSpec) -> list[datetime] | None:
    """The plan's four datetimes, or None when one is not a real calendar date (the plan is quarantined)."""
    try:
        return [datetime.fromisoformat(t) for t in (plan.start, plan.end, plan.sell_from, plan.sell_to)]
    except ValueError:
        return None


def expected_events(config: FeverFeedConfig, fetch_number: int) -> dict[tuple[str, str], dict[str, Any]]:
    """The events a correct consumer keeps from fetch `fetch_number`, by (base_plan_id, plan_id).

    Online base plans only, plans with valid dates only. Each value: title, organizer_company_id, starts_at,
    ends_at, sell_from, sell_to (naive datetimes), sold_out, min_price, max_price (Decimal) and zones.
    """
    events: dict[tuple[str, str], dict[str, Any]] = {}
    for base in base_plan_specs(config, fetch_number):
        if base.sell_mode != "online":
            continue
        for plan in base.plans:
            times = _times(plan)
            if times is None:
                continue
            prices = [Decimal(zone.price_cents).scaleb(-2) for zone in plan.zones]
            events[(base.base_plan_id, plan.plan_id)] = {
                "title": base.title,
                "organizer_company_id": base.organizer_company_id,
                **dict(zip(TIME_FIELDS, times, strict=True)),
                "sold_out": plan.sold_out,
                "min_price": min(prices),
                "max_price": max(prices),
                "zones": [
                    {
                        "zone_id": z.zone_id,
                        "capacity": z.capacity,
                        "price": price,
                        "name": z.name,
                        "numbered": z.numbered,
                    }
                    for z, price in zip(plan.zones, prices, strict=True)
                ],
            }
    return events


def invalid_plans(config: FeverFeedConfig, fetch_number: int) -> set[tuple[str, str]]:
    """The (base_plan_id, plan_id) of online plans a correct consumer quarantines (an invalid date)."""
    return {
        (base.base_plan_id, plan.plan_id)
        for base in base_plan_specs(config, fetch_number)
        if base.sell_mode == "online"
        for plan in base.plans
        if _times(plan) is None
    }
