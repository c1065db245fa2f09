"""The sandbox's Fever feed: well-formed, quirky where promised, agreeing with its oracle, streamed."""

from __future__ import annotations

import argparse
import io
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from sync_core.sandbox import SandboxConfig, SandboxHandle
from sync_core.sandbox.fever_app import sample_feed
from sync_core.sandbox.fever_feed import CHUNK_BYTES, FeverFeedConfig, feed_chunks, quirks
from sync_core.sandbox.fever_oracle import expected_events, invalid_plans
from sync_core.sandbox.server import add_config_arguments, config_from_arguments

FIXTURE = Path(__file__).parents[1] / "fixtures" / "fever" / "fever_response_2.xml"
FEED = FeverFeedConfig(base_plans=30, plans_per_base=2, zones_per_plan=3, seed=5)
SMALL_FEVER = {"fever_base_plans": 20}
TIME_ATTRS = ("plan_start_date", "plan_end_date", "sell_from", "sell_to")
Plan = dict[str, Any]  # {"attrs": {...}, "zones": [{...}, ...]}
BasePlan = dict[str, Any]  # {"attrs": {...}, "plans": [Plan, ...]}


def feed_bytes(config: FeverFeedConfig = FEED, fetch_number: int = 1) -> bytes:
    return b"".join(feed_chunks(config, fetch_number))


def parse_feed(data: bytes) -> list[BasePlan]:
    """Every base plan with its attributes, plans and zones, read as a stream."""
    base_plans: list[BasePlan] = []
    tags: list[str] = []
    for event, elem in ET.iterparse(io.BytesIO(data), events=("start", "end")):
        if event == "end":
            if elem.tag == "base_plan":
                elem.clear()
            continue
        tags.append(elem.tag)
        if elem.tag == "base_plan":
            base_plans.append({"attrs": dict(elem.attrib), "plans": []})
        elif elem.tag == "plan":
            base_plans[-1]["plans"].append({"attrs": dict(elem.attrib), "zones": []})
        elif elem.tag == "zone":
            base_plans[-1]["plans"][-1]["zones"].append(dict(elem.attrib))
    assert tags[:2] == ["planList", "output"]
    return base_plans


def plans_by_key(base_plans: list[BasePlan]) -> dict[tuple[str, str], tuple[BasePlan, Plan]]:
    found = {}
    for base in base_plans:
        for plan in base["plans"]:
            key = (base["attrs"]["base_plan_id"], plan["attrs"]["plan_id"])
            assert key not in found, f"event {key} listed twice"
            found[key] = (base, plan)
    return found


def consume(base_plans: list[BasePlan]) -> tuple[dict[tuple[str, str], dict[str, Any]], set[tuple[str, str]]]:
    """A straightforward consumer of the contract: online only, quarantine invalid dates, min/max price."""
    events: dict[tuple[str, str], dict[str, Any]] = {}
    invalid: set[tuple[str, str]] = set()
    for key, (base, plan) in plans_by_key(base_plans).items():
        if base["attrs"]["sell_mode"] != "online":
            continue
        try:
            times = [datetime.strptime(plan["attrs"][a], "%Y-%m-%dT%H:%M:%S") for a in TIME_ATTRS]
        except ValueError:
            invalid.add(key)
            continue
        zones = [
            {
                "zone_id": z["zone_id"],
                "capacity": int(z["capacity"]),
                "price": Decimal(z["price"]),
                "name": z["name"],
                "numbered": {"true": True, "false": False}[z["numbered"]],
            }
            for z in plan["zones"]
        ]
        events[key] = {
            "title": base["attrs"]["title"],
            "organizer_company_id": base["attrs"].get("organizer_company_id"),
            "starts_at": times[0],
            "ends_at": times[1],
            "sell_from": times[2],
            "sell_to": times[3],
            "sold_out": {"true": True, "false": False}[plan["attrs"]["sold_out"]],
            "min_price": min(z["price"] for z in zones),
            "max_price": max(z["price"] for z in zones),
            "zones": zones,
        }
    return events, invalid


# ----- the generator ---------------------------------------------------------------------------------
def test_feed_is_well_formed_with_the_promised_shape() -> None:
    data = feed_bytes()
    root = ET.fromstring(data)
    assert root.tag == "planList" and root.get("version") == "1.0"
    base_plans = parse_feed(data)
    assert len(base_plans) == FEED.base_plans
    assert all(len(b["plans"]) == FEED.plans_per_base for b in base_plans)
    plans = [p for b in base_plans for p in b["plans"]]
    assert all(len(p["zones"]) == FEED.zones_per_plan for p in plans)
    prices = [z["price"] for p in plans for z in p["zones"]]
    assert all(re.fullmatch(r"\d+\.\d\d", price) for price in prices)
    stamps = [p["attrs"][a] for p in plans for a in TIME_ATTRS]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", s) for s in stamps)


def test_titles_are_escaped_and_non_ascii_survives() -> None:
    data = feed_bytes()
    titles = {b["attrs"]["title"] for b in parse_feed(data)}
    assert "Concierto de Año Nuevo & más" in titles
    assert 'Noche de "Tablao" <flamenco>' in titles
    assert b"Concierto de A\xc3\xb1o Nuevo &amp; m\xc3\xa1s" in data
    assert b"&quot;Tablao&quot; &lt;flamenco&gt;" in data


def test_every_quirk_sits_where_promised() -> None:
    found = plans_by_key(parse_feed(feed_bytes()))
    bases = {key[0]: base for key, (base, _) in found.items()}
    q = quirks(FEED)
    assert len(q.shared_plan_ids) == len(q.duplicate_zones) == len(q.invalid_dates) == 3
    for plan_id, first, second in q.shared_plan_ids:
        assert (first, plan_id) in found and (second, plan_id) in found
        assert bases[first]["attrs"]["sell_mode"] == bases[second]["attrs"]["sell_mode"] == "online"
    for base_id, plan_id, zone_id in q.duplicate_zones:
        zones = found[(base_id, plan_id)][1]["zones"]
        repeated = [z for z in zones if z["zone_id"] == zone_id]
        assert len(repeated) == 2 and repeated[0]["price"] != repeated[1]["price"]
    for key in q.invalid_dates | q.ignored_invalid_dates:
        with pytest.raises(ValueError):
            datetime.fromisoformat(found[key][1]["attrs"]["plan_start_date"])
    assert {bases[b]["attrs"]["sell_mode"] for b, _ in q.invalid_dates} == {"online"}
    assert {bases[b]["attrs"]["sell_mode"] for b, _ in q.ignored_invalid_dates} == {"offline"}
    assert {bases[b]["attrs"]["sell_mode"] for b in q.offline_base_plans} == {"offline"}
    missing = {b for b, base in bases.items() if "organizer_company_id" not in base["attrs"]}
    assert missing == q.no_organizer_base_plans and len(missing) == 3
    assert len(q.changing_plans) == 3


def test_the_smallest_feed_carries_every_quirk() -> None:
    small = FeverFeedConfig(base_plans=6, plans_per_base=1, zones_per_plan=2, seed=1)
    q = quirks(small)
    groups = (q.shared_plan_ids, q.duplicate_zones, q.invalid_dates, q.ignored_invalid_dates)
    assert all(len(group) == 1 for group in groups)
    assert len(q.offline_base_plans) == len(q.no_organizer_base_plans) == len(q.changing_plans) == 1
    assert len(parse_feed(feed_bytes(small))) == 6


def test_only_the_promised_plans_change_between_fetches() -> None:
    fetches = [plans_by_key(parse_feed(feed_bytes(FEED, n))) for n in (1, 2, 3)]
    changing = quirks(FEED).changing_plans
    for before, after in zip(fetches, fetches[1:], strict=False):
        assert before.keys() == after.keys()
        assert [b["attrs"] for b, _ in before.values()] == [b["attrs"] for b, _ in after.values()]
        changed = {key for key in before if before[key][1] != after[key][1]}
        assert changed == changing
        for key in changed:
            (_, old), (_, new) = before[key], after[key]
            assert old["attrs"]["plan_end_date"] != new["attrs"]["plan_end_date"]
            assert old["attrs"]["plan_start_date"] == new["attrs"]["plan_start_date"]
            for zone_old, zone_new in zip(old["zones"], new["zones"], strict=True):
                assert Decimal(zone_new["price"]) == Decimal(zone_old["price"]) + Decimal("0.50")
                assert int(zone_new["capacity"]) == int(zone_old["capacity"]) + 1


def test_same_seed_same_feed_other_seed_other_feed() -> None:
    assert feed_bytes() == feed_bytes()
    other = FeverFeedConfig(base_plans=30, plans_per_base=2, zones_per_plan=3, seed=6)
    assert feed_bytes(other) != feed_bytes()


def test_online_fraction_applies_to_ordinary_base_plans() -> None:
    def offline(fraction: float) -> int:
        config = FeverFeedConfig(
            base_plans=100, plans_per_base=1, zones_per_plan=2, seed=3, online_fraction=fraction
        )
        return sum(b["attrs"]["sell_mode"] == "offline" for b in parse_feed(feed_bytes(config)))

    assert offline(1.0) == 10  # the role-3 quirk only
    assert offline(0.0) == 50  # plus every ordinary base plan
    assert 10 < offline(0.5) < 50


@pytest.mark.parametrize(
    "kwargs",
    [{"base_plans": 5}, {"plans_per_base": 0}, {"zones_per_plan": 1}, {"online_fraction": 1.5}],
)
def test_config_refuses_feeds_that_cannot_carry_the_quirks(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        FeverFeedConfig(**{"base_plans": 10, "plans_per_base": 1, "zones_per_plan": 2, "seed": 1, **kwargs})
    with pytest.raises(ValueError):
        feed_bytes(FEED, 0)


def test_generator_yields_many_bounded_chunks() -> None:
    config = FeverFeedConfig(base_plans=2_000, plans_per_base=2, zones_per_plan=3, seed=2)
    sizes = [len(chunk) for chunk in feed_chunks(config, 1)]
    assert len(sizes) > 20
    assert max(sizes) < CHUNK_BYTES + 4_096  # one chunk plus at most one base plan


# ----- the oracle ------------------------------------------------------------------------------------
@pytest.mark.parametrize("fetch_number", [1, 2])
def test_oracle_agrees_with_a_plain_parse(fetch_number: int) -> None:
    events, invalid = consume(parse_feed(feed_bytes(FEED, fetch_number)))
    assert expected_events(FEED, fetch_number) == events
    assert invalid_plans(FEED, fetch_number) == invalid == set(quirks(FEED).invalid_dates)


def test_oracle_keeps_both_events_of_a_shared_plan_id_and_drops_offline_ones() -> None:
    events = expected_events(FEED, 1)
    q = quirks(FEED)
    for plan_id, first, second in q.shared_plan_ids:
        assert (first, plan_id) in events and (second, plan_id) in events
    assert not {b for b, _ in events} & q.offline_base_plans
    for base_id, plan_id, _ in q.duplicate_zones:
        event = events[(base_id, plan_id)]
        assert event["min_price"] == min(z["price"] for z in event["zones"])
        assert event["max_price"] == max(z["price"] for z in event["zones"])


# ----- the endpoints ---------------------------------------------------------------------------------
def test_feed_endpoint_counts_fetches(make_sandbox: Callable[..., SandboxHandle]) -> None:
    handle = make_sandbox(**SMALL_FEVER)
    config = handle.state.config.fever_feed()
    with httpx.Client(timeout=10) as client:
        bodies = [client.get(handle.fever_url) for _ in range(3)]
        stats = client.get(handle.url + "/_sandbox/stats").json()
    assert [r.status_code for r in bodies] == [200, 200, 200]
    assert bodies[0].headers["content-type"] == "application/xml"
    assert [r.content for r in bodies] == [feed_bytes(config, n) for n in (1, 2, 3)]
    assert stats["fever_fetches"] == 3
    assert stats["requests"]["fever GET /api/events"] == 3


def test_sample_is_the_contract_sample_byte_for_byte(make_sandbox: Callable[..., SandboxHandle]) -> None:
    handle = make_sandbox(**SMALL_FEVER)
    response = httpx.get(handle.url + "/fever/sample", timeout=5)
    assert response.status_code == 200 and response.headers["content-type"] == "application/xml"
    assert response.content == FIXTURE.read_bytes() == sample_feed()
    assert handle.state.fever_fetches == 0


def test_fault_rate_fails_the_feed(make_sandbox: Callable[..., SandboxHandle]) -> None:
    handle = make_sandbox(**SMALL_FEVER)
    handle.state.configure(fault_rate=1.0)
    with httpx.Client(timeout=5) as client:
        statuses = {client.get(handle.fever_url).status_code for _ in range(5)}
        assert statuses <= {500, 502, 503}
        assert handle.state.stats()["faults_injected"] == 5
        assert handle.state.fever_fetches == 0  # a failed answer uses no fetch number
        handle.state.configure(fault_rate=0.0)
        assert client.get(handle.fever_url).content == feed_bytes(handle.state.config.fever_feed(), 1)


def test_latency_slows_the_feed(make_sandbox: Callable[..., SandboxHandle]) -> None:
    handle = make_sandbox(**SMALL_FEVER)
    with httpx.Client(timeout=5) as client:
        client.get(handle.fever_url)
        handle.state.configure(latency_ms=300)
        started = time.perf_counter()
        assert client.get(handle.fever_url).status_code == 200
    assert time.perf_counter() - started >= 0.3


def test_feed_size_knobs_come_from_the_command_line() -> None:
    parser = argparse.ArgumentParser()
    add_config_arguments(parser)
    config = config_from_arguments(
        parser.parse_args(["--fever-base-plans", "25000", "--fever-zones-per-plan", "4"])
    )
    assert (config.fever_base_plans, config.fever_plans_per_base, config.fever_zones_per_plan) == (
        25000,
        2,
        4,
    )
    assert config.fever_feed().plans == 50_000
    with pytest.raises(ValueError):
        SandboxConfig(fever_base_plans=3)


_SERVER = """
import sys
from sync_core.sandbox import SandboxConfig, running_sandbox
config = SandboxConfig(products=20, fever_base_plans=25_000, fever_plans_per_base=2, fever_zones_per_plan=3)
with running_sandbox(config) as handle:
    print(handle.fever_url, flush=True)
    sys.stdin.read()
"""


def _peak_rss(pid: int) -> int:
    match = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    assert match
    return int(match.group(1)) * 1024


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the server's peak RSS from /proc")
def test_a_50000_plan_feed_streams_with_flat_server_memory() -> None:
    server = subprocess.Popen(
        [sys.executable, "-c", _SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        with httpx.Client(timeout=60) as client:
            client.get(url.replace("/api/events", "/sample"))  # warm up the request path first
            before, size, reads = _peak_rss(server.pid), 0, 0
            with client.stream("GET", url) as response:
                assert response.status_code == 200 and "content-length" not in response.headers
                for chunk in response.iter_raw():
                    size, reads = size + len(chunk), reads + 1
            grown = _peak_rss(server.pid) - before
    finally:
        if server.stdin:
            server.stdin.close()
        server.wait(timeout=10)
    assert size > 25_000_000 and reads > 100
    # Holding the document whole would cost its size at least twice (text, then bytes).
    assert grown < size / 5, f"server peak grew {grown} bytes for a {size}-byte feed"
