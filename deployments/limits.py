"""The Prefect global limits `catalog-sync deploy` keeps: one request budget per default connection that has
one, read from the registry (no Prefect import, so the command line can name them in its help)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sync_core.engine.connections import (
    ConnectorClass,
    default_connection,
    requests_limit,
    requests_limit_shape,
    window_requests_limit_shape,
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
    its own (a ``rate_setting``) or endpoints paced apart (``lane_settings``), each once, in pipeline and
    role order."""
    found: dict[str, ConnectorClass] = {}
    for spec in pipelines().values():
        for connector in spec.connectors.values():
            if connector.rate_setting or _lanes(connector):
                found.setdefault(connector.provider, connector)
    return list(found.values())


def _lanes(connector: ConnectorClass) -> dict[str, str]:
    lanes: dict[str, str] = getattr(connector, "lane_settings", {})
    return lanes


def limit_names() -> list[str]:
    """The names of the limits :func:`rate_limits` describes (their default connections are named after
    their providers)."""
    return [limit.name for limit in _shapes(lambda connector, setting: 60)]


def _per_minute(settings: Settings, connector: ConnectorClass, lane_setting: str | None = None) -> int:
    """The default connection's budget (or the lane's, from ``lane_setting``); unconfigured, the one it would
    have (its override, else RATE_LIMIT_PER_MIN), so a limit exists before the connection is set up."""
    if lane_setting is not None:
        return int(getattr(settings, lane_setting))
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
    return _shapes(lambda connector, setting: _per_minute(settings, connector, setting))


def _shapes(per_minute: Callable[[ConnectorClass, str | None], int]) -> list[RateLimit]:
    """The connection's limit when it has a budget of its own, and one per lane at the lane's rate."""
    limits = []
    for connector in budgeted_connectors():
        budgets: dict[str, str | None] = (
            {requests_limit(connector.provider): None} if connector.rate_setting else {}
        )
        budgets |= {
            requests_limit(f"{connector.provider}-{lane}"): s for lane, s in _lanes(connector).items()
        }
        for name, setting in budgets.items():
            # A lane is an endpoint the provider counts in fixed minutes: a burst, then the rest paced.
            shape = requests_limit_shape if setting is None else window_requests_limit_shape
            limit, decay = shape(per_minute(connector, setting))
            limits.append(RateLimit(name, limit, decay))
    return limits
