"""Connections: one account at one provider, the unit the engine keys its state by.

A connection is a provider, a name, a base URL and where its credential comes from. Circuit state, pacing,
audit rows, cursors, links, the ledger and failures belong to a connection, so two stores of one provider
never share a circuit, a request budget or a ledger.

Each provider's *default connection* is named after the provider and built from its settings (for example
``<PROVIDER>_BASE`` and its key): what every existing configuration already is. More connections come from
the ``CONNECTIONS`` setting, a JSON list::

    CONNECTIONS='[{"name": "store-b", "provider": "<provider>", "base_url": "https://b.example/api/v1",
                   "secret_env": "STORE_B_KEY"}]'

The secret itself is never part of the list: ``secret_env`` names the environment variable (or ``.env``
entry) that holds it.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from dotenv import dotenv_values
from pydantic import SecretStr

from sync_core.errors import ConfigError
from sync_core.http.pacing import window_limit_shape
from sync_core.settings_fields import NAME_PATTERN

if TYPE_CHECKING:
    from sync_core.engine.spec import Pipeline
    from sync_core.settings import Settings


class ConnectorClass(Protocol):
    """What the engine reads off a connector class to build its default connection."""

    provider: str
    base_setting: str | None  # the setting that holds the default connection's base URL (None: no default)
    secret_setting: str | None  # the setting that holds its credential (None: it needs none)
    rate_setting: str | None  # the setting that overrides RATE_LIMIT_PER_MIN for it


@dataclass(frozen=True)
class Connection:
    """A resolved connection: what a connector is built from."""

    provider: str
    name: str
    base_url: str
    secret: SecretStr | None = None
    rate_limit_per_min: int = 240
    secret_name: str | None = None  # the setting or variable the secret came from, for messages

    @property
    def is_default(self) -> bool:
        return self.name == self.provider


def default_connection(settings: Settings, connector: ConnectorClass) -> Connection:
    """The provider's default connection, from its settings; ConfigError naming what is missing, or that the
    provider has none (``base_setting`` None: every connection of it is named in CONNECTIONS)."""
    if connector.base_setting is None:
        raise ConfigError(
            f"{connector.provider} has no default connection: choose one of CONNECTIONS with "
            "--connection ROLE=NAME"
        )
    missing = [
        name.upper()
        for name in (connector.base_setting, connector.secret_setting)
        if name and not getattr(settings, name)
    ]
    if missing:
        raise ConfigError(f"missing setting: {', '.join(missing)} (set it in the environment or .env)")
    rate = getattr(settings, connector.rate_setting) if connector.rate_setting else None
    return Connection(
        provider=connector.provider,
        name=connector.provider,
        base_url=getattr(settings, connector.base_setting),
        secret=getattr(settings, connector.secret_setting) if connector.secret_setting else None,
        rate_limit_per_min=rate or settings.rate_limit_per_min,
        secret_name=connector.secret_setting.upper() if connector.secret_setting else None,
    )


def connection(
    settings: Settings,
    connector: ConnectorClass,
    name: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> Connection:
    """The connection ``name`` for ``connector`` (its default connection when ``name`` is None or the
    provider's name); ConfigError naming the cause when it is unknown, of another provider, or unset."""
    if name is None or name == connector.provider:
        return default_connection(settings, connector)
    entries = {entry.name: entry for entry in settings.connections}
    entry = entries.get(name)
    if entry is None:
        known = ", ".join(sorted(entries)) or "none"
        raise ConfigError(f"no connection named {name!r} (CONNECTIONS holds: {known})")
    if entry.provider != connector.provider:
        raise ConfigError(
            f"connection {name!r} is a {entry.provider} connection; this role needs {connector.provider}"
        )
    secret: SecretStr | None = None
    if connector.secret_setting or entry.secret_env:  # a provider without a default credential names its own
        if not entry.secret_env:
            raise ConfigError(f"connection {name!r} needs secret_env: the variable that holds its credential")
        value = (environment() if environ is None else environ).get(entry.secret_env, "").strip()
        if not value:
            raise ConfigError(f"connection {name!r}: environment variable {entry.secret_env} is not set")
        secret = SecretStr(value)
    return Connection(
        provider=entry.provider,
        name=entry.name,
        base_url=entry.base_url.rstrip("/"),
        secret=secret,
        rate_limit_per_min=entry.rate_limit_per_min or settings.rate_limit_per_min,
        secret_name=entry.secret_env if secret is not None else None,
    )


def environment() -> dict[str, str]:
    """The process environment over ``.env`` (where settings are read too)."""
    found = {k: v for k, v in dotenv_values(".env").items() if v is not None}
    return found | dict(os.environ)


def run_key(pipeline: str, connections: Mapping[str, Connection]) -> str:
    """What a run's rows, cursors, failures and lease are keyed by: the pipeline's name when it runs on its
    default connections, else the name followed by the connection of each role, e.g.
    ``pipeline@target=store-b``."""
    chosen = [f"{role}={c.name}" for role, c in sorted(connections.items()) if not c.is_default]
    key = f"{pipeline}@{','.join(chosen)}" if chosen else pipeline
    if len(key) > 64:
        raise ConfigError(f"pipeline and connection names are too long together: {key!r} (64 at most)")
    return key


def parse_run_key(key: str) -> tuple[str, dict[str, str]]:
    """(pipeline, role → connection name) of a key made by :func:`run_key` (or of a run row's, which may end
    with ``#<part>``: a shard's run)."""
    name, _, chosen = key.partition("#")[0].partition("@")
    return name, dict(part.split("=", 1) for part in chosen.split(",") if part)


def requests_limit(name: str) -> str:
    """The Prefect limit and task tag of connection ``name``'s requests: ``<connection>-requests``."""
    return f"{name}-requests"


def requests_limit_shape(per_min: float) -> tuple[int, float]:
    """(limit, slot_decay_per_second) of the Prefect limit of a connection allowed ``per_min`` requests a
    minute, used as a rate limit: one second's worth of slots (the burst), freed at the rate."""
    per_second = per_min / 60
    return max(1, math.ceil(per_second)), round(per_second, 4)


def window_requests_limit_shape(per_min: float) -> tuple[int, float]:
    """(limit, slot_decay_per_second) of the Prefect limit of a budget the provider counts in fixed minutes
    (an endpoint paced apart, a lane): its burst, then the rest of the minute (window_limit_shape)."""
    burst, paced = window_limit_shape(per_min)
    return burst, round(paced / 60, 4)


def pipeline_connections(
    settings: Settings,
    spec: Pipeline,
    chosen: Mapping[str, str] | None = None,
    roles: Sequence[str] | None = None,
) -> dict[str, Connection]:
    """The connection of each of ``roles`` (all of the pipeline's when None): ``chosen`` (role → connection
    name), else the role's default one; ConfigError naming an unknown role, a role with no default and no
    choice, or every setting the default ones miss."""
    chosen = dict(chosen or {})
    unknown = sorted(set(chosen) - set(spec.connectors))
    if unknown:
        raise ConfigError(
            f"{spec.command or spec.name} has no role {unknown[0]!r} (its roles: {', '.join(spec.connectors)})"
        )
    wanted = {role: spec.connectors[role] for role in (spec.connectors if roles is None else roles)}
    own = _own_connections(settings, spec, {role: chosen[role] for role in wanted if role in chosen})
    chosen = {role: name for role, name in chosen.items() if role not in own}
    wanted = {role: cls for role, cls in wanted.items() if role not in own}
    for role, cls in wanted.items():
        if role not in chosen and not cls.base_setting:
            raise ConfigError(
                f"{cls.provider} has no default connection: give --connection {role}=NAME "
                "(a connection of CONNECTIONS)"
            )
    # Every setting the default connections miss, in one line.
    defaults = [cls for role, cls in wanted.items() if chosen.get(role, cls.provider) == cls.provider]
    settings.require(*(name for cls in defaults for name in cls.needs))
    return own | {role: connection(settings, cls, chosen.get(role)) for role, cls in wanted.items()}


def _own_connections(settings: Settings, spec: Pipeline, chosen: Mapping[str, str]) -> dict[str, Connection]:
    """The chosen connections the pipeline keeps itself (``Pipeline.connection_of``), by role."""
    if spec.connection_of is None or not chosen:
        return {}
    from sync_core.engine.registry import imported

    resolve = imported(spec.connection_of)
    found = {role: resolve(settings, role, name) for role, name in chosen.items()}
    return {role: conn for role, conn in found.items() if conn is not None}


def parse_choice(text: str) -> tuple[str, str]:
    """``ROLE=NAME`` from the command line; ValueError with a one-line reason."""
    role, sep, name = text.partition("=")
    if not sep or not re.fullmatch(NAME_PATTERN, name) or not role:
        raise ValueError(f"expected ROLE=NAME (e.g. target=store-b), not {text!r}")
    return role, name
