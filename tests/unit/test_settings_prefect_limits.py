"""USE_PREFECT_RATE_LIMITS: auto (the default) is on when a Prefect server is configured (PREFECT_API_URL in
the environment or .env), true and false override it."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync_core.errors import ConfigError
from sync_core.settings import Settings, load_settings


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.delenv("USE_PREFECT_RATE_LIMITS", raising=False)


@pytest.mark.parametrize(
    ("setting", "api_url", "on"),
    [
        (None, None, False),  # auto, no server configured (Prefect would start its temporary one)
        (None, "http://127.0.0.1:4200/api", True),
        ("auto", "http://127.0.0.1:4200/api", True),
        ("AUTO", "", False),  # an empty PREFECT_API_URL is none
        ("auto", None, False),
        ("true", None, True),
        ("1", None, True),
        ("false", "http://127.0.0.1:4200/api", False),
        ("off", "http://127.0.0.1:4200/api", False),
    ],
)
def test_auto_follows_prefect_api_url_and_true_false_override_it(
    monkeypatch: pytest.MonkeyPatch, setting: str | None, api_url: str | None, on: bool
) -> None:
    if setting is not None:
        monkeypatch.setenv("USE_PREFECT_RATE_LIMITS", setting)
    if api_url is not None:
        monkeypatch.setenv("PREFECT_API_URL", api_url)
    assert load_settings().use_prefect_rate_limits is on


def test_auto_sees_prefect_api_url_in_dotenv(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("PREFECT_API_URL=http://prefect.internal:4200/api\n")
    assert load_settings().use_prefect_rate_limits is True
    assert Settings(use_prefect_rate_limits="auto").use_prefect_rate_limits is True  # type: ignore[arg-type]


def test_built_settings_take_booleans() -> None:
    assert Settings(use_prefect_rate_limits=True).use_prefect_rate_limits is True
    assert Settings(use_prefect_rate_limits=False).use_prefect_rate_limits is False


def test_other_words_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USE_PREFECT_RATE_LIMITS", "sometimes")
    with pytest.raises(
        ConfigError, match="invalid setting USE_PREFECT_RATE_LIMITS: .*must be true, false or auto"
    ):
        load_settings()
