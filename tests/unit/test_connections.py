"""Connections: each provider's default one from its settings, more from CONNECTIONS, and the run key."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from sync_core.connectors.anar360 import Anar360
from sync_core.connectors.base import HttpConnector
from sync_core.connectors.fever import FeverFeed
from sync_core.connectors.sazito import Sazito
from sync_core.engine.connections import (
    Connection,
    connection,
    default_connection,
    parse_choice,
    run_key,
)
from sync_core.errors import ConfigError
from sync_core.settings import Settings
from sync_core.settings_fields import ConnectionEntry

STORE_B = {
    "name": "store-b",
    "provider": "sazito",
    "base_url": "https://b.test/api/v1/",
    "secret_env": "STORE_B_KEY",
}


def settings(**values: Any) -> Settings:
    base: dict[str, Any] = dict(
        _env_file=None,
        anar360_base="https://anar.test/api/360",
        anar360_token="anar-tok-1",
        sazito_base="https://shop.test/api/v1",
        sazito_key="sazito-key-1",
        connections=[STORE_B],
    )
    base.update(values)
    return Settings(**base)


def one_line(info: pytest.ExceptionInfo[ConfigError]) -> str:
    text = str(info.value)
    assert "\n" not in text
    return text


# --- default connections ---


def test_the_default_connection_is_named_after_its_provider_and_built_from_its_settings() -> None:
    cfg = settings(sazito_rate_limit_per_min=90)
    store = default_connection(cfg, Sazito)
    assert store == Connection(
        provider="sazito",
        name="sazito",
        base_url="https://shop.test/api/v1",
        secret=SecretStr("sazito-key-1"),
        rate_limit_per_min=90,  # the provider's override
        secret_name="SAZITO_KEY",
    )
    assert store.is_default and store.secret is not None and store.secret.get_secret_value() == "sazito-key-1"
    source = default_connection(cfg, Anar360)
    assert (source.name, source.rate_limit_per_min, source.secret_name) == ("anar360", 240, "ANAR360_TOKEN")
    assert "anar-tok-1" not in repr(source) and "sazito-key-1" not in repr(store)


def test_a_connector_without_a_credential_has_none() -> None:
    feed = default_connection(settings(fever_provider_url="https://feed.test/events.xml"), FeverFeed)
    assert (feed.name, feed.base_url, feed.secret, feed.secret_name) == (
        "fever",
        "https://feed.test/events.xml",
        None,
        None,
    )


def test_missing_settings_are_named() -> None:
    with pytest.raises(ConfigError) as info:
        default_connection(settings(sazito_base="", sazito_key=None), Sazito)
    assert one_line(info) == "missing setting: SAZITO_BASE, SAZITO_KEY (set it in the environment or .env)"
    with pytest.raises(ConfigError, match="^missing setting: FEVER_PROVIDER_URL "):
        default_connection(settings(), FeverFeed)


@pytest.mark.parametrize("name", [None, "sazito"])
def test_no_name_or_the_providers_name_is_the_default_connection(name: str | None) -> None:
    cfg = settings()
    assert connection(cfg, Sazito, name, environ={}) == default_connection(cfg, Sazito)


# --- connections from CONNECTIONS ---


def test_a_connection_from_the_list_reads_its_secret_from_the_environment() -> None:
    cfg = settings(sazito_rate_limit_per_min=90)
    found = connection(cfg, Sazito, "store-b", environ={"STORE_B_KEY": " key-b \n"})
    assert found == Connection(
        provider="sazito",
        name="store-b",
        base_url="https://b.test/api/v1",  # without its trailing slash
        secret=SecretStr("key-b"),
        rate_limit_per_min=240,  # RATE_LIMIT_PER_MIN, not the default connection's override
        secret_name="STORE_B_KEY",
    )
    assert not found.is_default


def test_a_connection_has_its_own_rate_when_the_list_gives_one() -> None:
    cfg = settings(connections=[{**STORE_B, "rate_limit_per_min": 30}], sazito_rate_limit_per_min=90)
    assert connection(cfg, Sazito, "store-b", environ={"STORE_B_KEY": "k"}).rate_limit_per_min == 30


def test_a_connection_without_a_credential_needs_no_variable() -> None:
    entry = {"name": "feed-b", "provider": "fever", "base_url": "file:///srv/feed.xml"}
    found = connection(settings(connections=[entry]), FeverFeed, "feed-b", environ={})
    assert (found.name, found.base_url, found.secret) == ("feed-b", "file:///srv/feed.xml", None)


def test_an_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError) as info:
        connection(settings(), Sazito, "store-c", environ={})
    assert one_line(info) == "no connection named 'store-c' (CONNECTIONS holds: store-b)"
    with pytest.raises(ConfigError, match=r"\(CONNECTIONS holds: none\)"):
        connection(settings(connections=[]), Sazito, "store-c", environ={})


def test_a_connection_of_another_provider_is_refused() -> None:
    with pytest.raises(ConfigError) as info:
        connection(settings(), Anar360, "store-b", environ={"STORE_B_KEY": "k"})
    assert one_line(info) == "connection 'store-b' is a sazito connection; this role needs anar360"


def test_an_unset_or_blank_variable_is_named() -> None:
    for environ in ({}, {"STORE_B_KEY": "  "}):
        with pytest.raises(ConfigError) as info:
            connection(settings(), Sazito, "store-b", environ=environ)
        assert one_line(info) == "connection 'store-b': environment variable STORE_B_KEY is not set"


def test_a_connection_that_needs_a_credential_must_name_its_variable() -> None:
    entry = {key: value for key, value in STORE_B.items() if key != "secret_env"}
    with pytest.raises(ConfigError) as info:
        connection(settings(connections=[entry]), Sazito, "store-b", environ={})
    assert "needs secret_env" in one_line(info)


def test_the_process_environment_is_read_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORE_B_KEY", "from-env")
    found = connection(settings(), Sazito, "store-b")
    assert found.secret is not None and found.secret.get_secret_value() == "from-env"


@pytest.mark.parametrize(
    "entry",
    [
        {**STORE_B, "name": "Store B"},
        {**STORE_B, "name": "sazito"},  # the default connection's name
        {**STORE_B, "base_url": "ftp://b.test"},
        {**STORE_B, "secret_env": "1BAD"},
        {**STORE_B, "rate_limit_per_min": 0},
        {**STORE_B, "secret": "inline-secrets-are-refused"},
    ],
)
def test_bad_entries_are_refused(entry: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        ConnectionEntry.model_validate(entry)


# --- run keys ---


def sazito(name: str) -> Connection:
    return Connection(provider="sazito", name=name, base_url="https://x.test")


def anar360(name: str) -> Connection:
    return Connection(provider="anar360", name=name, base_url="https://y.test")


def test_a_run_on_default_connections_is_keyed_by_the_pipeline_alone() -> None:
    assert run_key("products", {"source": anar360("anar360"), "target": sazito("sazito")}) == "products"


def test_a_run_on_other_connections_names_them_by_role_in_order() -> None:
    assert (
        run_key("products", {"target": sazito("store-b"), "source": anar360("anar360")})
        == "products@target=store-b"
    )
    assert (
        run_key("products", {"target": sazito("store-b"), "source": anar360("anar-b")})
        == "products@source=anar-b,target=store-b"
    )


def test_a_run_key_longer_than_its_column_is_refused() -> None:
    with pytest.raises(ConfigError, match="too long together"):
        run_key("p" * 40, {"target": sazito("s" * 30)})


def test_role_choices_from_the_command_line() -> None:
    assert parse_choice("target=store-b") == ("target", "store-b")
    for text in ("store-b", "target=", "=store-b", "target=Store B"):
        with pytest.raises(ValueError, match="expected ROLE=NAME"):
            parse_choice(text)


def test_a_connectors_needs_are_the_settings_of_its_default_connection() -> None:
    assert Anar360.needs == ("anar360_base", "anar360_token")
    assert Sazito.needs == ("sazito_base", "sazito_key")
    assert FeverFeed.needs == ("fever_provider_url",)

    class OnlyListed(HttpConnector):  # no default connection: every one comes from CONNECTIONS
        provider = "listed"
        secret_setting = "listed_key"

    assert OnlyListed.needs == ("listed_key",)
    with pytest.raises(ConfigError, match="listed has no default connection"):
        default_connection(settings(), OnlyListed)


def test_the_secret_variable_of_a_connection_may_live_in_dot_env(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("STORE_B_KEY", raising=False)
    (tmp_path / ".env").write_text("STORE_B_KEY=key-from-dot-env\n")
    store = connection(settings(), Sazito, "store-b")
    assert store.secret is not None and store.secret.get_secret_value() == "key-from-dot-env"
    monkeypatch.setenv("STORE_B_KEY", "key-from-the-environment")  # the environment wins, as for settings
    store = connection(settings(), Sazito, "store-b")
    assert store.secret is not None and store.secret.get_secret_value() == "key-from-the-environment"
