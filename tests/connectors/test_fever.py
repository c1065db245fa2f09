"""The Fever feed connector against respx routes serving the contract's real sample."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import respx

from sync_core import errors
from sync_core.connectors.fever import FeverFeed
from sync_core.engine.connections import Connection
from sync_core.mapping.fever_events import FeedEvent, parse_feed
from sync_core.settings import Settings
from tests.connectors.test_anar360 import ListAudit

URL = "https://provider.fever.test/api/events"
SAMPLE = Path(__file__).parent.parent / "fixtures" / "fever" / "fever_response_2.xml"


@pytest.fixture
def cfg() -> Settings:
    return Settings(
        fever_provider_url=URL,
        _env_file=None,  # type: ignore[call-arg]
        http_retries=2,
        http_retry_backoff_ms=0,
        rate_limit_per_min=100_000,
    )


def connector(cfg: Settings, router: respx.MockRouter, audit: ListAudit, url: str | None = None) -> FeverFeed:
    return FeverFeed(
        cfg, url=url, transport=httpx.MockTransport(router.handler), audit=audit, sleep=lambda s: 0
    )


def test_the_answer_is_spooled_whole_and_parses(cfg: Settings) -> None:
    router, audit = respx.MockRouter(assert_all_called=True), ListAudit()
    router.get(URL).respond(200, content=SAMPLE.read_bytes(), headers={"Content-Type": "application/xml"})
    with connector(cfg, router, audit) as feed, feed.fetch() as answer:
        assert answer.read() == SAMPLE.read_bytes()
        answer.seek(0)
        keys = [item.key for item in parse_feed(answer) if isinstance(item, FeedEvent)]
    assert keys == [("291", "291"), ("1591", "1642")]
    (record,) = audit.records
    assert (record.provider, record.method, record.status, record.outcome) == ("fever", "GET", 200, "success")
    assert record.url == URL and record.context == "events feed"


def test_a_failing_provider_is_retried_and_the_body_of_the_good_answer_only_is_kept(cfg: Settings) -> None:
    router, audit = respx.MockRouter(), ListAudit()
    router.get(URL).mock(
        side_effect=[
            httpx.Response(503, text="busy"),
            httpx.ReadTimeout("slow"),
            httpx.Response(200, content=b"<a/>"),
        ]
    )
    with connector(cfg, router, audit) as feed, feed.fetch() as answer:
        assert answer.read() == b"<a/>"
    assert [r.outcome for r in audit.records] == ["retry", "retry", "success"]


def test_a_provider_down_beyond_the_retries_raises_a_transient_error(cfg: Settings) -> None:
    router, audit = respx.MockRouter(), ListAudit()
    router.get(URL).respond(500, text="down")
    with (
        connector(cfg, router, audit) as feed,
        pytest.raises(errors.TransientError, match="HTTP 500.*3 attempts"),
    ):
        feed.fetch()


def test_a_file_url_reads_a_saved_answer(cfg: Settings) -> None:
    with FeverFeed(cfg, url=SAMPLE.resolve().as_uri()) as feed, feed.fetch() as answer:
        assert answer.read() == SAMPLE.read_bytes()


def test_a_missing_file_or_an_unknown_scheme_is_a_config_error(cfg: Settings, tmp_path: Path) -> None:
    with (
        FeverFeed(cfg, url=(tmp_path / "none.xml").as_uri()) as feed,
        pytest.raises(errors.ConfigError, match="cannot read"),
    ):
        feed.fetch()
    with pytest.raises(errors.ConfigError, match="http\\(s\\):// or file://"):
        FeverFeed(cfg, url="ftp://feeds.test/events.xml")


def test_no_url_at_all_names_the_setting() -> None:
    with pytest.raises(errors.ConfigError, match="FEVER_PROVIDER_URL"):
        FeverFeed(Settings(_env_file=None))  # type: ignore[call-arg]


def test_a_url_needs_no_setting_and_overrides_the_connections() -> None:
    bare = Settings(_env_file=None)  # type: ignore[call-arg]
    with FeverFeed(bare, url=SAMPLE.resolve().as_uri()) as feed, feed.fetch() as answer:
        assert answer.read() == SAMPLE.read_bytes()
    assert feed.connection.name == "fever" and feed.connection.base_url == SAMPLE.resolve().as_uri()


def test_another_feed_connection_is_fetched_and_audited_under_its_name(cfg: Settings) -> None:
    other = "https://other-feed.test/events.xml"
    router, audit = respx.MockRouter(assert_all_called=True), ListAudit()
    router.get(other).respond(200, content=b"<a/>")
    connection = Connection(provider="fever", name="fever-b", base_url=other, rate_limit_per_min=100_000)
    with (
        FeverFeed(cfg, connection, transport=httpx.MockTransport(router.handler), audit=audit) as feed,
        feed.fetch() as answer,
    ):
        assert answer.read() == b"<a/>"
    assert [(r.provider, r.url) for r in audit.records] == [("fever-b", other)]


def test_a_url_overrides_the_given_connections_address(cfg: Settings) -> None:
    connection = Connection(provider="fever", name="fever-b", base_url=URL)
    with FeverFeed(cfg, connection, url=SAMPLE.resolve().as_uri()) as feed, feed.fetch() as answer:
        assert answer.read() == SAMPLE.read_bytes()
    assert feed.connection.name == "fever-b"
