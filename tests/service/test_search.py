"""`GET /search` (contracts/fever.md): envelope and formats, window semantics, errors, freshness, workers."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from catalog_sync.service import create_app, search_index
from catalog_sync.service.server import listen_workers
from sync_core.db import get_engine
from sync_core.errors import ConfigError
from sync_core.settings import Settings
from sync_core.tables import Event, utcnow
from tests.service import seed

EVENTS: sa.Table = Event.__table__  # type: ignore[attr-defined]
CAMELA = uuid.UUID("3fa85f64-5717-4562-b3fc-2c963f66afa6")
CONTRACT_EXAMPLE = {
    "data": {
        "events": [
            {
                "id": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
                "title": "Camela en concierto",
                "start_date": "2021-06-30",
                "start_time": "21:00:00",
                "end_date": "2021-06-30",
                "end_time": "22:00:00",
                "min_price": 15.0,
                "max_price": 30.0,
            }
        ]
    },
    "error": None,
}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def event(
    url: str,
    starts_at: str,
    ends_at: str,
    *,
    title: str = "An event",
    id_: uuid.UUID | None = None,
    prices: tuple[str, str] = ("10.00", "20.00"),
    seen: datetime | None = None,
) -> uuid.UUID:
    """Insert one stored event as the feed sync would leave it; naive times are UTC."""
    id_ = id_ or uuid.uuid4()
    now = utcnow()
    row: dict[str, Any] = {
        "id": id_,
        "base_plan_id": "1",
        "plan_id": id_.hex,
        "title": title,
        "starts_at": at(starts_at),
        "ends_at": at(ends_at),
        "sell_from": at(starts_at) - timedelta(days=30),
        "sell_to": at(starts_at),
        "sold_out": False,
        "min_price": Decimal(prices[0]),
        "max_price": Decimal(prices[1]),
        "zones": [{"zone_id": "1", "price": prices[0]}],
        "fingerprint": uuid.uuid4().hex,
        "first_seen_at": seen or now,
        "last_seen_at": seen or now,
        "last_changed_at": seen or now,
    }
    with get_engine(url).begin() as conn:
        conn.execute(EVENTS.insert(), [row])
    return id_


def ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [e["id"] for e in response.json()["data"]["events"]]


@pytest.fixture
def client(settings: Settings) -> TestClient:
    return seed.client_for(settings)


def test_answer_matches_the_contract_example(settings: Settings, client: TestClient) -> None:
    event(
        settings.database_url,
        "2021-06-30T21:00:00",
        "2021-06-30T22:00:00",
        title="Camela en concierto",
        id_=CAMELA,
        prices=("15.00", "30.00"),
    )
    response = client.get(
        "/search", params={"starts_at": "2021-06-30T00:00:00Z", "ends_at": "2021-07-01T00:00:00Z"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == CONTRACT_EXAMPLE
    assert '"min_price":15.0' in response.text  # a JSON number, not a string


def test_events_are_ordered_by_start_then_id(settings: Settings, client: TestClient) -> None:
    url = settings.database_url
    late = event(url, "2021-03-01T20:00:00", "2021-03-01T21:00:00")
    tie_b = event(url, "2021-02-01T20:00:00", "2021-02-01T21:00:00", id_=uuid.UUID(int=2))
    early = event(url, "2021-01-01T20:00:00", "2021-01-05T21:00:00")
    tie_a = event(url, "2021-02-01T20:00:00", "2021-02-01T23:00:00", id_=uuid.UUID(int=1))
    assert ids(client.get("/search")) == [str(x) for x in (early, tie_a, tie_b, late)]


def test_both_bounds_are_inclusive_and_a_second_outside_is_out(
    settings: Settings, client: TestClient
) -> None:
    url = settings.database_url
    exact = event(url, "2021-05-01T10:00:00", "2021-05-02T10:00:00")
    event(url, "2021-05-01T09:59:59", "2021-05-01T12:00:00")  # starts a second early
    event(url, "2021-05-02T08:00:00", "2021-05-02T10:00:01")  # ends a second late
    inside = event(url, "2021-05-01T12:00:00", "2021-05-01T13:00:00")
    window = {"starts_at": "2021-05-01T10:00:00Z", "ends_at": "2021-05-02T10:00:00Z"}
    assert ids(client.get("/search", params=window)) == [str(exact), str(inside)]


def test_open_ended_windows(settings: Settings, client: TestClient) -> None:
    url = settings.database_url
    january = event(url, "2021-01-10T20:00:00", "2021-01-10T22:00:00")
    june = event(url, "2021-06-10T20:00:00", "2021-06-12T22:00:00")
    december = event(url, "2021-12-10T20:00:00", "2021-12-10T22:00:00")
    assert ids(client.get("/search", params={"starts_at": "2021-06-01T00:00:00Z"})) == [
        str(june),
        str(december),
    ]
    assert ids(client.get("/search", params={"ends_at": "2021-06-12T22:00:00Z"})) == [str(january), str(june)]
    assert ids(client.get("/search")) == [str(january), str(june), str(december)]
    assert ids(client.get("/search?starts_at=&ends_at=")) == [
        str(january),
        str(june),
        str(december),
    ]  # empty: none


@pytest.mark.parametrize(
    "query",
    [
        "starts_at=2021-06-30T23:00:00%2B02:00&ends_at=2021-07-01T00:00:00%2B02:00",  # +02:00, encoded
        "starts_at=2021-06-30T23:00:00+02:00&ends_at=2021-07-01T00:00:00+02:00",  # '+' arrived as a space
        "starts_at=2021-06-30T21:00:00&ends_at=2021-06-30T22:00:00",  # no offset: UTC
        "starts_at=2021-06-30T16:00:00-05:00&ends_at=2021-06-30T22:00:00.000Z",
        "starts_at=20210630T210000Z&ends_at=2021-06-30 22:00:00Z",
    ],
)
def test_offsets_are_converted_to_utc(settings: Settings, client: TestClient, query: str) -> None:
    event(settings.database_url, "2021-06-30T21:00:00", "2021-06-30T22:00:00", id_=CAMELA)
    event(settings.database_url, "2021-06-30T20:59:59", "2021-06-30T22:00:00")
    assert ids(client.get(f"/search?{query}")) == [str(CAMELA)]


@pytest.mark.parametrize(
    ("query", "code", "says"),
    [
        (
            "starts_at=soon",
            "invalid_parameter",
            "starts_at must be an ISO 8601 date-time such as 2021-02-01T00:00:00Z, not 'soon'",
        ),
        ("ends_at=2021-02-30T00:00:00Z", "invalid_parameter", "ends_at must be an ISO 8601 date-time"),
        ("starts_at=2021-02-01", "invalid_parameter", "not '2021-02-01'"),  # a date alone is refused
        ("starts_at=2021-02-01T25:00:00Z", "invalid_parameter", "starts_at must be"),
        ("starts_at=" + "9" * 500, "invalid_parameter", "starts_at must be"),
        (
            "ends_at=2021-02-01T00:00:00Z&ends_at=2021-03-01T00:00:00Z",
            "invalid_parameter",
            "ends_at is given 2 times",
        ),
        (
            "starts_at=2021-02-02T00:00:00Z&ends_at=2021-02-01T00:00:00Z",
            "invalid_range",
            "starts_at (2021-02-02T00:00:00Z) is after ends_at",
        ),
        ("starts_at=2021-02-01T01:00:00%2B02:00&ends_at=2021-01-31T22:00:00Z", "invalid_range", "is after"),
    ],
)
def test_bad_parameters_answer_400_in_the_envelope(
    client: TestClient, query: str, code: str, says: str
) -> None:
    response = client.get(f"/search?{query}")
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"data", "error"} and body["data"] is None and "detail" not in body
    assert body["error"]["code"] == code and says in body["error"]["message"]
    assert len(body["error"]["message"]) < 200


def test_unreachable_database_answers_500_in_the_envelope(settings: Settings) -> None:
    down = seed.unreachable_settings(settings)
    response = seed.client_for(down).get("/search", params={"starts_at": "2021-01-01T00:00:00Z"})
    assert response.status_code == 500
    assert response.json() == {
        "data": None,
        "error": {"code": "internal_error", "message": "the event store is unavailable; try again shortly"},
    }
    assert "secretpw" not in response.text


def test_invalid_settings_answer_500_in_the_envelope() -> None:
    def broken() -> Settings:
        raise ConfigError("invalid setting DATABASE_URL: nope")

    response = TestClient(create_app(broken)).get("/search")
    assert response.status_code == 500
    assert response.json()["error"] == {
        "code": "internal_error",
        "message": "the service's settings are invalid; its log says which",
    }
    assert "nope" not in response.text  # a ConfigError may quote the database URL: the log has it


def test_an_event_gone_from_the_feed_is_still_found(settings: Settings, client: TestClient) -> None:
    gone = event(
        settings.database_url,
        "2021-04-01T20:00:00",
        "2021-04-01T22:00:00",
        seen=utcnow() - timedelta(days=30),
    )
    assert ids(client.get("/search", params={"starts_at": "2021-04-01T00:00:00Z"})) == [str(gone)]


def test_settings_are_read_once_per_process_for_search(settings: Settings) -> None:
    calls: list[int] = []

    def loader() -> Settings:
        calls.append(1)
        return settings

    client = TestClient(create_app(loader))
    for _ in range(5):
        assert client.get("/search").status_code == 200
    assert len(calls) == 1


def rewrite(url: str, id_: uuid.UUID, title: str, stamp: datetime) -> None:
    """What a sync batch does to a changed event: new content and fingerprint, ``last_changed_at`` = its time."""
    values = {"title": title, "fingerprint": uuid.uuid4().hex, "last_changed_at": stamp}
    with get_engine(url).begin() as conn:
        conn.execute(EVENTS.update().where(EVENTS.c.id == id_).values(**values))


def titles(client: TestClient) -> list[str]:
    return [e["title"] for e in client.get("/search").json()["data"]["events"]]


def test_a_sync_is_seen_within_the_staleness_bound(settings: Settings, client: TestClient) -> None:
    url = settings.database_url
    first = event(url, "2021-07-01T20:00:00", "2021-07-01T22:00:00", title="First")
    second = event(url, "2021-07-02T20:00:00", "2021-07-02T22:00:00", title="Second")
    assert titles(client) == ["First", "Second"]
    rewrite(url, first, "First, changed", utcnow())
    added = event(url, "2021-07-03T20:00:00", "2021-07-03T22:00:00", title="Added")
    time.sleep(search_index.VERSION_CHECK_S + 0.05)
    assert titles(client) == ["First, changed", "Second", "Added"]

    rewrite(url, second, "Second, changed", utcnow())  # a later batch of the same run: same row count
    time.sleep(search_index.VERSION_CHECK_S + 0.05)
    body = client.get("/search").json()["data"]["events"]
    assert [(e["id"], e["title"]) for e in body] == [
        (str(first), "First, changed"),
        (str(second), "Second, changed"),
        (str(added), "Added"),
    ]


def test_a_write_that_leaves_the_version_alone_shows_within_max_age(
    settings: Settings, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_index, "MAX_AGE_S", 1.5)
    first = event(settings.database_url, "2021-07-01T20:00:00", "2021-07-01T22:00:00", title="Before")
    assert client.get("/search").json()["data"]["events"][0]["title"] == "Before"
    with get_engine(settings.database_url).begin() as conn:  # no last_changed_at: the version does not move
        conn.execute(EVENTS.update().where(EVENTS.c.id == first).values(title="Quietly"))
    time.sleep(1.6)
    assert client.get("/search").json()["data"]["events"][0]["title"] == "Quietly"


def test_windows_agree_with_a_plain_filter(settings: Settings, client: TestClient) -> None:
    rng = random.Random(5)
    stored = []
    for _ in range(120):
        start = datetime(2021, 1, 1, tzinfo=UTC) + timedelta(minutes=30 * rng.randrange(2000))
        end = start + timedelta(minutes=rng.choice((0, 60, 90, 60 * 24 * 3, 60 * 24 * 20)))
        stored.append(
            (start, end, event(settings.database_url, start.isoformat()[:19], end.isoformat()[:19]))
        )
    stored.sort(key=lambda s: (s[0], s[2]))
    for _ in range(40):
        low = datetime(2021, 1, 1, tzinfo=UTC) + timedelta(minutes=15 * rng.randrange(4000))
        high = low + timedelta(hours=rng.choice((1, 24, 24 * 7, 24 * 30)))
        expected = [str(i) for s, e, i in stored if s >= low and e <= high]
        params = {"starts_at": low.isoformat(), "ends_at": high.isoformat()}
        assert ids(client.get("/search", params=params)) == expected, params


def test_openapi_describes_search(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    operation = spec["paths"]["/search"]["get"]
    assert [p["name"] for p in operation["parameters"]] == ["starts_at", "ends_at"]
    assert {p["schema"]["format"] for p in operation["parameters"]} == {"date-time"}
    responses = operation["responses"]
    assert set(responses) == {"200", "400", "401", "500", "default"}
    assert responses["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/SearchResponse")
    assert responses["400"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
    assert "422" not in responses
    event_fields = spec["components"]["schemas"]["EventOut"]["properties"]
    assert list(event_fields) == [
        "id",
        "title",
        "start_date",
        "start_time",
        "end_date",
        "end_time",
        "min_price",
        "max_price",
    ]


def test_several_workers_share_the_port(tmp_path: Path) -> None:
    port = seed.free_port()
    database = f"sqlite:///{tmp_path / 'state.db'}"
    command = [sys.executable, "-m", "catalog_sync.cli", "serve", "--port", str(port), "--workers", "2"]
    env = {**os.environ, "DATABASE_URL": database}
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        answers = 0
        deadline = time.monotonic() + 60
        while answers < 10 and time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/search", timeout=5)
                assert response.json() == {"data": {"events": []}, "error": None}
                answers += 1
            except httpx.TransportError:
                time.sleep(0.2)
        assert answers == 10
    finally:
        process.terminate()
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0
    assert b"2 workers" in out and b"Traceback" not in err, err


def test_a_reuse_port_listener_still_makes_the_port_taken() -> None:
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{port}: Address already in use"):
            listen_workers("127.0.0.1", port, 2)
