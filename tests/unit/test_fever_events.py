"""The Fever feed parser: the contract's real sample, the feed's quirks, refused XML, flat memory."""

from __future__ import annotations

import io
import tracemalloc
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO

import pytest

from sync_core.mapping.fever_events import FeedError, FeedEvent, RejectedPlan, parse_feed

SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "fever" / "fever_response_2.xml"


def parse(xml: str) -> list[FeedEvent | RejectedPlan]:
    return list(parse_feed(io.BytesIO(xml.encode())))


def feed(*base_plans: str) -> str:
    return f'<planList version="1.0"><output>{"".join(base_plans)}</output></planList>'


def base_plan(plans: str, *, base_id: str = "1", sell_mode: str = "online", extra: str = "") -> str:
    return (
        f'<base_plan base_plan_id="{base_id}" sell_mode="{sell_mode}" title="Show"{extra}>{plans}</base_plan>'
    )


def plan(plan_id: str = "10", zones: str | None = None, **attrs: str) -> str:
    values = {
        "plan_start_date": "2021-06-30T21:00:00",
        "plan_end_date": "2021-06-30T22:00:00",
        "sell_from": "2020-07-01T00:00:00",
        "sell_to": "2021-06-30T20:00:00",
        "sold_out": "false",
    } | attrs
    text = " ".join(f'{k}="{v}"' for k, v in values.items() if v is not None)
    zones = (
        zones
        if zones is not None
        else '<zone zone_id="1" capacity="10" price="20.00" name="A" numbered="true"/>'
    )
    return f'<plan plan_id="{plan_id}" {text}>{zones}</plan>'


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_the_real_sample_gives_its_two_online_events() -> None:
    stats: Counter[str] = Counter()
    with SAMPLE.open("rb") as f:
        items = list(parse_feed(f, stats))
    assert stats == {"plans": 3, "offline": 1}
    camela, morancos = items
    assert isinstance(camela, FeedEvent) and isinstance(morancos, FeedEvent)
    assert (camela.key, camela.title, camela.organizer_company_id) == (
        ("291", "291"),
        "Camela en concierto",
        None,
    )
    assert (camela.starts_at, camela.ends_at) == (utc("2021-06-30T21:00:00"), utc("2021-06-30T22:00:00"))
    assert (camela.sell_from, camela.sell_to) == (utc("2020-07-01T00:00:00"), utc("2021-06-30T20:00:00"))
    assert (camela.min_price, camela.max_price, camela.sold_out) == (
        Decimal("15.00"),
        Decimal("30.00"),
        False,
    )
    assert [z["zone_id"] for z in camela.zones] == ["40", "38", "30"]
    # Los Morancos: zone 186 twice (numbered and not), both kept; min/max over both.
    assert (morancos.key, morancos.organizer_company_id) == (("1591", "1642"), "1")
    assert [(z["zone_id"], z["price"], z["numbered"]) for z in morancos.zones] == [
        ("186", "75.00", True),
        ("186", "65.00", False),
    ]
    assert (morancos.min_price, morancos.max_price) == (Decimal("65.00"), Decimal("75.00"))


def test_the_same_plan_id_under_two_base_plans_is_two_events() -> None:
    items = parse(feed(base_plan(plan("7"), base_id="1"), base_plan(plan("7"), base_id="2")))
    assert [item.key for item in items if isinstance(item, FeedEvent)] == [("1", "7"), ("2", "7")]


def test_offline_base_plans_are_ignored_even_when_invalid() -> None:
    stats: Counter[str] = Counter()
    bad = plan("9", plan_start_date="2021-09-31T20:00:00")
    assert list(parse_feed(io.BytesIO(feed(base_plan(bad, sell_mode="offline")).encode()), stats)) == []
    assert stats == {"plans": 1, "offline": 1}


@pytest.mark.parametrize(
    ("bad_plan", "reason"),
    [
        (plan("9", plan_start_date="2021-09-31T20:00:00"), "invalid-date"),
        (plan("9", sell_to="yesterday"), "invalid-date"),
        (plan("9", plan_end_date=None), "missing-attribute"),
        (plan("9", plan_end_date="2021-06-30T20:00:00"), "invalid-range"),
        (plan("9", sold_out="maybe"), "invalid-value"),
        (plan("9", zones=""), "no-zones"),
        (plan("9", zones='<zone zone_id="1" capacity="10" price="twenty" name="A"/>'), "bad-number"),
        (plan("9", zones='<zone zone_id="1" capacity="-3" price="20.00" name="A"/>'), "bad-number"),
        (plan("9", zones='<zone zone_id="1" capacity="3" price="NaN" name="A"/>'), "bad-number"),
        (plan("9", zones='<zone capacity="3" price="1.00" name="A"/>'), "missing-attribute"),
    ],
)
def test_a_bad_plan_is_rejected_with_its_reason_and_the_rest_is_kept(bad_plan: str, reason: str) -> None:
    items = parse(feed(base_plan(plan("8") + bad_plan + plan("10"))))
    assert [type(item).__name__ for item in items] == ["FeedEvent", "RejectedPlan", "FeedEvent"]
    rejected = items[1]
    assert isinstance(rejected, RejectedPlan)
    assert (rejected.item_key, rejected.reason) == ("1/9", reason)
    assert rejected.message.startswith("plan 9 of base plan 1: ")
    assert rejected.attributes["plan_id"] == "9"


def test_a_base_plan_without_a_title_rejects_its_plans() -> None:
    xml = feed('<base_plan base_plan_id="5" sell_mode="online">' + plan("1") + "</base_plan>")
    (rejected,) = parse(xml)
    assert isinstance(rejected, RejectedPlan) and rejected.reason == "missing-attribute"


def test_escaped_and_non_ascii_titles_and_offsets() -> None:
    xml = feed(
        '<base_plan base_plan_id="1" sell_mode="online" title="Año Nuevo &amp; &lt;más&gt; &quot;live&quot;">'
        + plan("1", plan_start_date="2021-12-31T23:00:00+01:00", plan_end_date="2022-01-01T01:00:00+01:00")
        + "</base_plan>"
    )
    (event,) = parse(xml)
    assert isinstance(event, FeedEvent)
    assert event.title == 'Año Nuevo & <más> "live"'
    assert (event.starts_at, event.ends_at) == (utc("2021-12-31T22:00:00"), utc("2022-01-01T00:00:00"))


def test_fingerprints_change_with_content_only() -> None:
    (one,) = parse(feed(base_plan(plan("1"))))
    (same,) = parse(feed(base_plan(plan("1"))))
    (dearer,) = parse(
        feed(base_plan(plan("1", zones='<zone zone_id="1" capacity="10" price="25.00" name="A"/>')))
    )
    assert isinstance(one, FeedEvent) and isinstance(same, FeedEvent) and isinstance(dearer, FeedEvent)
    assert one.fingerprint == same.fingerprint != dearer.fingerprint


@pytest.mark.parametrize(
    "document",
    [
        '<?xml version="1.0"?><!DOCTYPE planList [<!ENTITY t "x">]><planList>&t;</planList>',
        '<?xml version="1.0"?><!DOCTYPE planList SYSTEM "http://evil.test/plan.dtd"><planList/>',
        '<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><planList>&b;</planList>',
    ],
)
def test_dtds_and_entities_are_refused(document: str) -> None:
    with pytest.raises(FeedError, match="not usable XML.*DTDForbidden"):
        parse(document)


@pytest.mark.parametrize("document", ["<html>oops", "not xml at all", feed(base_plan(plan("1")))[:-30]])
def test_broken_documents_raise_a_feed_error(document: str) -> None:
    with pytest.raises(FeedError, match="not usable XML"):
        parse(document)


def _write_feed(path: Path, base_plans: int, plans_per_base: int = 2) -> None:
    with path.open("w") as f:
        f.write('<planList version="1.0"><output>')
        for b in range(base_plans):
            f.write(f'<base_plan base_plan_id="{b}" sell_mode="online" title="Event {b}">')
            for p in range(plans_per_base):
                zones = "".join(
                    f'<zone zone_id="{z}" capacity="{z * 10}" price="{10 + z}.50" name="Zone {z}" numbered="true"/>'
                    for z in range(3)
                )
                f.write(plan(str(p), zones=zones))
            f.write("</base_plan>")
        f.write("</output></planList>")


def _peak_while_parsing(source: IO[bytes]) -> tuple[int, int]:
    tracemalloc.start()
    try:
        events = sum(1 for _ in parse_feed(source))
        return events, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_50000_plan_feed_is_parsed_with_flat_memory(tmp_path: Path) -> None:
    small, large = tmp_path / "small.xml", tmp_path / "large.xml"
    _write_feed(small, 2_500)
    _write_feed(large, 25_000)
    with small.open("rb") as f:
        small_events, small_peak = _peak_while_parsing(f)
    with large.open("rb") as f:
        large_events, large_peak = _peak_while_parsing(f)
    assert (small_events, large_events) == (5_000, 50_000)
    size = large.stat().st_size
    assert size > 15_000_000
    # Ten times the plans, about the same peak: nothing grows with the feed (generous bounds).
    assert large_peak < 4_000_000, f"peak {large_peak} bytes while parsing {size} bytes"
    assert large_peak < small_peak * 2 + 500_000
