"""Checks shared by the settings classes (the engine's, the connectors', the pipelines'): URLs, secrets and
the entries of CONNECTIONS.

It imports nothing of catalog-sync, so every settings module can use it without an import cycle.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,31}$"  # a connection's or a provider's name
PLACEHOLDER_SECRETS = {"changeme", "change-me", "changethis", "your-token", "your-key", "xxx", "secret"}

# Every settings class reads the same sources: the environment, then ``.env``; an empty value means unset.
SETTINGS_CONFIG = SettingsConfigDict(
    env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True
)


def url(value: str, schemes: tuple[str, ...]) -> str:
    """``value`` if it is empty or starts with one of ``schemes`` + ``://``; else ValueError naming them."""
    prefixes = [f"{scheme}://" for scheme in schemes]
    if value and not value.startswith(tuple(prefixes)):
        raise ValueError(f"must be an {', '.join(prefixes[:-1])} or {prefixes[-1]} URL")
    return value


def base_url(value: str) -> str:
    """An http(s) API base without its trailing slash (empty stays empty)."""
    return url(value.strip().rstrip("/"), ("http", "https"))


def secret(value: SecretStr | None) -> SecretStr | None:
    """A credential: ValueError for a placeholder ("changeme" ...); a blank one is unset (None)."""
    if value is not None and value.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS:
        raise ValueError("is a placeholder; set the real secret")
    if value is not None and not value.get_secret_value().strip():
        return None
    return value


class ConnectionEntry(BaseModel):
    """One entry of the CONNECTIONS setting."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME_PATTERN)
    provider: str = Field(pattern=NAME_PATTERN)
    base_url: str = Field(pattern=r"^(https?|file)://")
    secret_env: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    rate_limit_per_min: int | None = Field(None, ge=1, le=100_000)

    @model_validator(mode="after")
    def _not_the_default(self) -> ConnectionEntry:
        # The provider's name is its default connection's: an entry of that name would never be used.
        if self.name == self.provider:
            raise ValueError(
                f"name {self.name!r} is the {self.provider} default connection's; choose another"
            )
        return self
