"""The store platforms an integration may name, and the catalogue reader of each: the source role's
connector is chosen by the integration's platform (``StoreSource``)."""

from __future__ import annotations

from typing import Any

from sync_core.engine.connections import Connection
from sync_core.errors import ConfigError
from sync_core.settings import Settings

PLATFORMS = ("shopify", "woocommerce", "sazito")


def reader_class(platform: str) -> type[Any]:
    """The catalogue reader of ``platform``; ConfigError naming the known ones."""
    if platform == "shopify":
        from sync_core.connectors.shopify import ShopifyStore

        return ShopifyStore
    if platform == "woocommerce":
        from sync_core.connectors.woocommerce import WooCommerceStore

        return WooCommerceStore
    if platform == "sazito":
        from sync_core.connectors.sazito_store import SazitoStore

        return SazitoStore
    raise ConfigError(f"unknown platform {platform!r}: use {', '.join(PLATFORMS)}")


def rate_limit_per_min(settings: Settings, platform: str) -> int:
    """Requests a minute a store of ``platform`` is paced at (Shopify is paced by query cost besides)."""
    if platform == "woocommerce":
        return max(1, round(settings.woo_rate_per_s * 60))
    if platform == "sazito":
        return settings.sazito_rate_limit_per_min or settings.rate_limit_per_min
    if platform == "shopify":
        return settings.shopify_rate_limit_per_min
    return settings.rate_limit_per_min


class StoreSource:
    """The source role's connector class of the store-inventory pipeline: it has no default connection (every
    store is an integration), and makes the reader of the connection's platform."""

    provider = "store"
    base_setting: str | None = None
    secret_setting: str | None = None
    rate_setting: str | None = None
    needs: tuple[str, ...] = ()

    def __new__(cls, settings: Settings, connection: Connection, **wiring: Any) -> Any:
        return reader_class(connection.provider)(settings, connection, **wiring)
