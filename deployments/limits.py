"""The Prefect global limits `catalog-sync deploy` keeps: one request budget per default connection that has
one, read from the registry (no Prefect import, so the command line can name them in its help)."""

from __future__ import annotations

from dataclasses import dataclass

from sync_core.engine.connections import (
    ConnectorClass,
    default_connection,
    requests_limit,
    requests_limit_shape,
)
from sync_core.engine.registry import pipelines
from sync_core.errors import ConfigError
from sync_core.settings import Settings


@dataclass(frozen=True)
class RateLimit:
    """A Prefect global concurrency limit used as a shared rate limit: slots decay at the allowed rate."""

    name: str
    limit: int
    slot_decay_per_second: float


def budgeted_connectors() -> list[ConnectorClass]:
    """The connector classes of every registered pipeline whose default connection has a request budget of
    its own (a ``rate_setting``), each once, in pipeline and role order."""
    found: dict[str, ConnectorClass] = {}
    for spec in pipelines().values():
        for connector in spec.connectors.values():
            if connector.rate_setting:
                found.setdefault(connector.provider, connector)
    return list(found.values())


def limit_names() -> list[str]:
    """The names of the limits :func:`rate_limits` describes (their default connections are named after
    their providers)."""
    return [requests_limit(connector.provider) for connector in budgeted_connectors()]


def _per_minute(settings: Settings, connector: ConnectorClass) -> int:
    """The default connection's budget; unconfigured, the one it would have (its override, else
    RATE_LIMIT_PER_MIN), so a limit exists before the connection is set up."""
    try:
        return default_connection(settings, connector).rate_limit_per_min
    except ConfigError:
        override = getattr(settings, connector.rate_setting) if connector.rate_setting else None
        return int(override or settings.rate_limit_per_min)


def rate_limits(settings: Settings) -> list[RateLimit]:
    """One limit per budgeted default connection, '<connection>-requests', at its requests per minute.

    Each request occupies one slot; slots free at rate/60 per second, so every worker sharing the limit
    together stays within the budget. ``limit`` is one second's worth of requests (the burst allowed).
    """
    limits = []
    for connector in budgeted_connectors():
        limit, decay = requests_limit_shape(_per_minute(settings, connector))
        limits.append(RateLimit(requests_limit(connector.provider), limit, decay))
    return limits
