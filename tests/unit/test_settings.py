from __future__ import annotations

import re
from pathlib import Path

import pytest

from sync_core.connectors.settings import ConnectorSettings
from sync_core.errors import ConfigError
from sync_core.pipelines.settings import PipelineSettings
from sync_core.settings import EngineSettings, Settings, load_settings
from sync_core.settings_fields import ConnectionEntry

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_in_env_example() -> None:
    names = set(re.findall(r"^([A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert {name.upper() for name in Settings.model_fields} == names


def test_env_example_loads(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings(_env_file=ROOT / ".env.example")  # type: ignore[call-arg]
    assert settings.rate_limit_per_min == 240 and settings.sazito_rate_limit_per_min is None
    assert settings.anar360_token is None and settings.connections == []


def test_postgres_urls_are_normalised_to_psycopg() -> None:
    assert (
        Settings(_env_file=None, database_url="postgres://u@h/db").database_url
        == "postgresql+psycopg://u@h/db"
    )  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"ANAR360_TOKEN": "changeme"}, "placeholder"),
        ({"HTTP_TIMEOUT": "-1"}, "HTTP_TIMEOUT"),
        ({"ANAR360_BASE": "ftp://x"}, "ANAR360_BASE"),
        ({"FEVER_PROVIDER_URL": "ftp://x"}, "FEVER_PROVIDER_URL"),
        ({"EVENT_SYNC_SCHEDULE": "hourly"}, "EVENT_SYNC_SCHEDULE"),
        ({"SAZITO_PRICE_MULTIPLIER": "0"}, "SAZITO_PRICE_MULTIPLIER"),
        ({"CONNECTIONS": "not json"}, "invalid setting CONNECTIONS: Value error, must be a JSON list"),
        ({"CONNECTIONS": '{"name": "b"}'}, "invalid setting CONNECTIONS: Input should be a valid list"),
        (
            {"CONNECTIONS": '[{"name": "B!", "provider": "sazito", "base_url": "https://b.test"}]'},
            "invalid setting CONNECTIONS: [0].name: String should match pattern",
        ),
        (
            {
                "CONNECTIONS": '[{"name": "b", "provider": "sazito", "base_url": "https://b.test", "key": "x"}]'
            },
            "invalid setting CONNECTIONS: [0].key: Extra inputs are not permitted",
        ),
        (
            {"CONNECTIONS": '[{"name": "sazito", "provider": "sazito", "base_url": "https://b.test"}]'},
            "is the sazito default connection's; choose another",
        ),
        (
            {
                "CONNECTIONS": '[{"name": "b", "provider": "sazito", "base_url": "https://b.test"},'
                ' {"name": "b", "provider": "anar360", "base_url": "https://c.test"}]'
            },
            "connection names must be unique; repeated: b",
        ),
    ],
)
def test_bad_values_give_one_line_config_errors(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: dict[str, str], fragment: str
) -> None:
    monkeypatch.chdir(tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert fragment in str(caught.value) and "\n" not in str(caught.value)


def test_require_names_missing_settings() -> None:
    with pytest.raises(ConfigError, match="ANAR360_TOKEN"):
        Settings(_env_file=None).require("anar360_token")  # type: ignore[call-arg]


def test_secrets_do_not_show_in_repr() -> None:
    settings = Settings(_env_file=None, anar360_token="s3cret-value")  # type: ignore[call-arg]
    assert "s3cret-value" not in repr(settings)


def test_connections_come_from_a_json_list(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(
        "CONNECTIONS",
        '[{"name": "store-b", "provider": "sazito", "base_url": "https://b.test/api/v1",'
        ' "secret_env": "STORE_B_KEY", "rate_limit_per_min": 60}]',
    )
    (entry,) = load_settings().connections
    assert entry == ConnectionEntry(
        name="store-b",
        provider="sazito",
        base_url="https://b.test/api/v1",
        secret_env="STORE_B_KEY",
        rate_limit_per_min=60,
    )


def test_the_settings_are_the_engines_the_connectors_and_the_pipelines() -> None:
    fields = set(Settings.model_fields)
    assert (
        set(EngineSettings.model_fields)
        | set(ConnectorSettings.model_fields)
        | set(PipelineSettings.model_fields)
        == fields
    )
    assert {"anar360_base", "sazito_key", "fever_provider_url", "feed_max_mb"} <= set(
        ConnectorSettings.model_fields
    )
    assert {"sazito_price_multiplier", "create_missing_products", "event_sync_schedule"} <= set(
        PipelineSettings.model_fields
    )
    assert all(field.description for field in Settings.model_fields.values())  # they feed --help
    built = Settings(_env_file=None, anar360_base="https://a.test/", sazito_match_by_title=True)  # type: ignore[call-arg]
    assert built.anar360_base == "https://a.test" and built.sazito_match_by_title is True


def test_the_engines_settings_name_no_provider() -> None:
    text = (ROOT / "sync_core" / "settings.py").read_text()
    assert not re.search(r"sazito|anar360|fever", text, re.I)


def test_the_pipelines_settings_module_is_not_a_pipeline() -> None:
    import sync_core.pipelines.settings as module

    assert not hasattr(module, "PIPELINE")
