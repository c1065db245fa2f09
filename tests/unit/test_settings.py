from __future__ import annotations

import re
from pathlib import Path

import pytest

from sync_core.errors import ConfigError
from sync_core.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_in_env_example() -> None:
    names = set(re.findall(r"^([A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert {name.upper() for name in Settings.model_fields} == names


def test_env_example_loads(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings(_env_file=ROOT / ".env.example")  # type: ignore[call-arg]
    assert settings.rate_limit_for("sazito") == 240 and settings.anar360_token is None


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
