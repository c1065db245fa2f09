"""The Fever feed parser: the contract's real sample, the feed's quirks, refused XML and other documents,
values the store cannot hold, flat memory whatever the feed's shape."""

from __future__ import annotations

import io
import tracemalloc
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO

import pytest

from sync_core.mapping import fever_events
from sync_core.mapping.fever_events import (
    MAX_ZONES_PER_PLAN,
    FeedError,
    FeedEvent,
    RejectedPlan,
    item_key,
    parse_feed,
)

SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "fever" / "fever_response_2.xml"


def parse(xml: str, **options: Decimal) -> list[FeedEvent | RejectedPlan]:
    return list(parse_feed(io.BytesIO(xml.encode()), **options))


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


def zone_with_price(price: str) -> str:
    """Two zones: one at 20.00, one at ``price``."""
    return (
        '<zone zone_id="1" capacity="10" price="20.00" name="A"/>'
        f'<zone zone_id="2" capacity="1" price="{price}" name="B"/>'
    )


def zones_xml(count: int, start: int = 0) -> str:
    return "".join(
        f'<zone zone_id="{z}" capacity="{z}" price="{z % 90 + 10}.00" name="Z{z}" numbered="true"/>'
        for z in range(start, start + count)
    )


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


@pytest.mark.parametrize(
    ("document", "cause"),
    [
        ("not xml at all", "ParseError: syntax error: line 1, column 0"),
        ("", "ParseError: no element found: line 1, column 0"),
        (feed(base_plan(plan("1")))[:-30], "ParseError: unclosed token: line 1, column"),
        ('<planList><output><base_plan a="1" a="2"/></output></planList>', "duplicate attribute"),
        ("<!DOCTYPE html>\n<html><body>\n<h1>Bad gateway</h1>\n</body></html>", "DTDForbidden(name='html'"),
    ],
)
def test_broken_documents_raise_a_one_line_feed_error_naming_the_cause(document: str, cause: str) -> None:
    with pytest.raises(FeedError) as caught:
        parse(document)
    message = str(caught.value)
    assert message.startswith("fever: the feed is not usable XML (") and cause in message
    assert "\n" not in message and caught.value.provider == "fever"


@pytest.mark.parametrize(
    ("document", "shown"),
    [
        (
            '<?xml version="1.0" encoding="UTF-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml">\n'
            "<head><title>Maintenance</title></head><body><p>Back soon</p></body></html>",
            '<html xmlns="http://www.w3.org/1999/xhtml">',
        ),
        ("<html><body>Service unavailable</body></html>", "<html>"),
        ("<html>oops", "<html>"),
        ('<rss version="2.0"><channel><title>Events</title></channel></rss>', "<rss>"),
        ("<planlist><output/></planlist>", "<planlist>"),
        ("<output>" + base_plan(plan("1")) + "</output>", "<output>"),
    ],
)
def test_a_document_that_is_not_a_plan_list_is_not_the_feed(document: str, shown: str) -> None:
    with pytest.raises(FeedError) as caught:
        parse(document)
    expected = f"fever: the answer is not the events feed: root element {shown}, expected <planList>"
    assert str(caught.value) == expected


@pytest.mark.parametrize(
    "document",
    [
        "<planList/>",
        '<planList version="1.0"></planList>',
        '<planList version="1.0">\n  <output>\n  </output>\n</planList>',
        feed(base_plan(plan("1"), sell_mode="offline")),
    ],
)
def test_an_empty_plan_list_is_a_valid_empty_feed(document: str) -> None:
    assert parse(document) == []


def test_the_root_is_checked_before_the_rest_of_the_document_is_read() -> None:
    page = b"<html>" + b"<p>filler</p>" * 100_000 + b"</html>"
    source = io.BytesIO(page)
    with pytest.raises(FeedError, match="root element <html>"):
        parse_feed(source).__next__()
    assert source.tell() < 100_000


@pytest.mark.parametrize(
    ("bad_base_plan", "reason", "said"),
    [
        (base_plan(plan("9"), base_id="b" * 65), "value-too-long", "base_plan_id (65 characters)"),
        (base_plan(plan("p" * 65)), "value-too-long", "plan_id (65 characters)"),
        (
            base_plan(plan("9"), extra=f' organizer_company_id="{"o" * 65}"'),
            "value-too-long",
            "organizer_company_id",
        ),
        (base_plan(plan("9", zones=zone_with_price("1e12"))), "price-too-large", "'1e12' does not fit"),
        (base_plan(plan("9", zones=zone_with_price("10000000000"))), "price-too-large", "does not fit"),
        (base_plan(plan("9", zones=zone_with_price("9999999999.995"))), "price-too-large", "does not fit"),
        (base_plan(plan("9", zones=zone_with_price("1e30"))), "implausible-price", "plausible maximum"),
        (base_plan(plan("9", zones=zone_with_price("1e13"))), "implausible-price", "plausible maximum"),
        (base_plan(plan("9", plan_start_date="0001-01-01T00:30:00+01:00")), "invalid-date", "out of range"),
        (base_plan(plan("9", plan_end_date="9999-12-31T23:30:00-01:00")), "invalid-date", "out of range"),
    ],
)
def test_values_the_store_cannot_hold_reject_their_plan_only(
    bad_base_plan: str, reason: str, said: str
) -> None:
    good = base_plan(plan("1"), base_id="100")
    items = parse(feed(good, bad_base_plan, good.replace('"100"', '"101"')))
    assert [type(item).__name__ for item in items] == ["FeedEvent", "RejectedPlan", "FeedEvent"]
    rejected = items[1]
    assert isinstance(rejected, RejectedPlan)
    assert rejected.reason == reason and said in rejected.message, rejected.message
    assert len(rejected.message) < 300 and len(rejected.item_key) <= 128


def test_the_largest_values_the_store_holds_are_kept() -> None:
    xml = feed(
        base_plan(
            plan("p" * 64, zones=zone_with_price("9999999999.99")),
            base_id="b" * 64,
            extra=f' organizer_company_id="{"o" * 64}"',
        )
    )
    (event,) = parse(xml)
    assert isinstance(event, FeedEvent)
    assert (event.min_price, event.max_price) == (Decimal("20.00"), Decimal("9999999999.99"))


def test_the_plausible_price_bound_is_the_callers() -> None:
    xml = feed(
        base_plan(plan("1", zones=zone_with_price("500.00")) + plan("2", zones=zone_with_price("500.01")))
    )
    kept, rejected = parse(xml, max_price=Decimal("500"))
    assert isinstance(kept, FeedEvent) and kept.max_price == Decimal("500.00")
    assert isinstance(rejected, RejectedPlan) and rejected.reason == "implausible-price"
    assert "price '500.01' is above the plausible maximum 500" in rejected.message
    assert all(isinstance(item, FeedEvent) for item in parse(xml))  # default: Settings' 10^12
    # Above 10^28 the bound no longer guards rounding to cents: the store's own limit still does.
    (too_large,) = parse(feed(base_plan(plan("1", zones=zone_with_price("1e30")))), max_price=Decimal("1e40"))
    assert isinstance(too_large, RejectedPlan) and too_large.reason == "price-too-large"


def test_item_keys_fit_the_failures_table_and_stay_distinct() -> None:
    assert item_key("291", "1642") == "291/1642"
    long_a, long_b = item_key("b" * 100, "p" * 100), item_key("b" * 100, "p" * 99 + "q")
    assert len(long_a) == len(long_b) == 128 and long_a != long_b
    assert long_a == item_key("b" * 100, "p" * 100)  # stable: a repeat bumps the same failure


def test_a_plan_over_the_zone_cap_is_rejected_and_the_parse_goes_on() -> None:
    xml = feed(
        base_plan(
            plan("1", zones=zones_xml(MAX_ZONES_PER_PLAN))
            + plan("2", zones=zones_xml(MAX_ZONES_PER_PLAN + 1))
        ),
        base_plan(plan("3"), base_id="2"),
    )
    at_cap, over, after = parse(xml)
    assert isinstance(at_cap, FeedEvent) and len(at_cap.zones) == MAX_ZONES_PER_PLAN
    assert isinstance(over, RejectedPlan) and over.reason == "too-many-zones"
    assert f"plan has {MAX_ZONES_PER_PLAN + 1:,} zones, more than {MAX_ZONES_PER_PLAN:,}" in over.message
    assert isinstance(after, FeedEvent) and after.key == ("2", "3")


def test_the_zone_cap_is_reported_before_a_bad_zone_past_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fever_events, "MAX_ZONES_PER_PLAN", 3)
    bad_zone = '<zone zone_id="9" capacity="1" price="twenty" name="Z"/>'
    (over,) = parse(feed(base_plan(plan("1", zones=zones_xml(4) + bad_zone))))
    assert isinstance(over, RejectedPlan) and over.reason == "too-many-zones"
    (bad,) = parse(feed(base_plan(plan("1", zones=bad_zone + zones_xml(2)))))
    assert isinstance(bad, RejectedPlan) and bad.reason == "bad-number"


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


def _write_one_big(path: Path, shape: str, count: int) -> None:
    """One base plan of ``count`` plans (huge-base-plan), or one plan of ``count`` zones (many-zones)."""
    with path.open("w") as f:
        f.write('<planList version="1.0"><output><base_plan base_plan_id="1" sell_mode="online" title="Big">')
        if shape == "huge-base-plan":
            for p in range(count):
                f.write(plan(str(p), zones=zones_xml(3)))
        else:
            plan_open, plan_close = plan("1", zones="|").split("|")
            f.write(plan_open)
            for start in range(0, count, 1_000):
                f.write(zones_xml(1_000, start))
            f.write(plan_close)
        f.write("</base_plan></output></planList>")


@pytest.mark.parametrize(("shape", "count"), [("huge-base-plan", 4_000), ("many-zones", 20_000)])
def test_memory_stays_flat_when_one_base_plan_or_one_plan_holds_the_feed(
    tmp_path: Path, shape: str, count: int
) -> None:
    small, large = tmp_path / "small.xml", tmp_path / "large.xml"
    _write_one_big(small, shape, count)
    _write_one_big(large, shape, count * 3)
    peaks = []
    for path in (small, large):
        with path.open("rb") as f:
            peaks.append(_peak_while_parsing(f)[1])
    # Three times the plans (or zones), about the same peak (generous bounds; bench/feed_memory.py measures).
    assert peaks[1] < peaks[0] * 1.25 + 300_000, f"peaks {peaks} bytes for {large.stat().st_size} bytes"
    assert peaks[1] < 4_000_000
