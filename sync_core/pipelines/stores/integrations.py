"""Store integrations: the stores operators add (`catalog-sync stores add`, the HTTP API, the dashboard), each a
connection of the engine named after it.

Every way in goes through :func:`add` and the functions below, so a wrong platform, a missing credentials
variable, a duplicate name or a bad threshold is refused the same way everywhere: ConfigError, one line,
nothing written. The credential is never stored, only where it comes from: an environment variable (or a
``.env`` entry), or a Prefect Secret block.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from sync_core.db import session_scope
from sync_core.engine.connections import Connection, environment
from sync_core.engine.spec import SOURCE
from sync_core.errors import ConfigError, PersistenceError
from sync_core.pipelines.stores.platforms import PLATFORMS, rate_limit_per_min, reader_class
from sync_core.pipelines.stores.tables import InventoryItem, SkuThreshold, StockAlert, StoreIntegration
from sync_core.settings import Settings
from sync_core.settings_fields import NAME_PATTERN
from sync_core.tables import Failure, SyncCursor, utcnow

ENV_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"
BLOCK_PATTERN = r"^[a-z0-9][a-z0-9-]{0,127}$"
MAX_THRESHOLD = 1_000_000
# Names the engine already uses for connections of its own: a store named so would share their circuit.
PIPELINE = "store-inventory"
RESERVED = frozenset({"anar360", "sazito", "fever", "ingram", "ploomes", "shopify", "woocommerce", "store"})


class NameTaken(ConfigError):
    """A store integration of that name exists already."""


class UnknownStore(ConfigError):
    """No store integration has that name."""


@dataclass(frozen=True)
class NewIntegration:
    """What an operator asks for (``stores add``, ``POST /stores``, the dashboard's form)."""

    name: str
    platform: str
    store_url: str
    credentials_env: str | None = None
    credentials_block: str | None = None
    threshold: int | None = None
    active: bool = True
    auto_sync: bool = True


def run_key_of(name: str) -> str:
    """What store ``name``'s runs, cursors and failures are keyed by (``connections.run_key`` of its source)."""
    return f"{PIPELINE}@{SOURCE}={name}"


def check_name(name: str) -> str:
    if not re.fullmatch(NAME_PATTERN, name or ""):
        raise ConfigError(
            f"store name {name!r} must be 1-32 lower-case letters, digits and dashes, starting with a letter or "
            "digit (e.g. main-shop)"
        )
    if name in RESERVED:
        raise ConfigError(f"store name {name!r} is taken by the engine's own connections: choose another")
    return name


def check_platform(platform: str) -> str:
    if platform not in PLATFORMS:
        raise ConfigError(f"unknown platform {platform!r}: use {', '.join(PLATFORMS)}")
    return platform


def check_threshold(value: Any) -> int | None:
    """A threshold from a form, a flag or JSON: a whole number 0 to a million, or None (the default)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not (
        isinstance(value, int) or (isinstance(value, str) and value.isdigit())
    ):
        raise ConfigError(f"threshold must be a whole number from 0 to {MAX_THRESHOLD:,}, not {value!r}")
    number = int(value)
    if not 0 <= number <= MAX_THRESHOLD:
        raise ConfigError(f"threshold must be a whole number from 0 to {MAX_THRESHOLD:,}, not {value!r}")
    return number


def check_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"store URL must be http(s)://host..., not {url!r}")
    return url.strip().rstrip("/")


def secret_of(name: str, credentials_env: str | None, credentials_block: str | None) -> tuple[SecretStr, str]:
    """The credential of store ``name`` and where it came from (for messages); ConfigError naming the unset
    variable or the missing block."""
    if credentials_env:
        value = environment().get(credentials_env, "").strip()
        if not value:
            raise ConfigError(
                f"store {name!r}: environment variable {credentials_env} is not set (it holds the store's "
                "credentials)"
            )
        return SecretStr(value), credentials_env
    if credentials_block:
        return SecretStr(_block_secret(name, credentials_block)), f"Secret block {credentials_block!r}"
    raise ConfigError(
        f"store {name!r} names no credentials: give --credentials-env VAR or --credentials-block NAME"
    )


def _block_secret(name: str, block: str) -> str:
    from prefect.blocks.system import Secret

    try:
        secret: Any = Secret.load(block, validate=False)
        value = secret.get()
    except ValueError as exc:  # Prefect: "Unable to find block document named ..."
        raise ConfigError(f"store {name!r}: no Prefect Secret block named {block!r} ({exc})") from None
    except Exception as exc:  # the API cannot be reached
        raise ConfigError(
            f"store {name!r}: could not read Prefect Secret block {block!r}: {type(exc).__name__}: {exc}"
        ) from None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"store {name!r}: Prefect Secret block {block!r} holds no text credential")
    return value.strip()


def connection(settings: Settings, row: StoreIntegration) -> Connection:
    """The engine connection of integration ``row`` (its credential read now)."""
    secret, where = secret_of(row.name, row.credentials_env, row.credentials_block)
    return Connection(
        provider=row.platform,
        name=row.name,
        base_url=row.store_url,
        secret=secret,
        rate_limit_per_min=rate_limit_per_min(settings, row.platform),
        secret_name=where,
    )


def connection_of(settings: Settings, role: str, name: str) -> Connection | None:
    """``Pipeline.connection_of``: the source connection of store integration ``name``."""
    if role != SOURCE:
        return None
    return connection(settings, get(settings.database_url, name))


def add(settings: Settings, new: NewIntegration) -> StoreIntegration:
    """Check and store a new integration; ConfigError (one line, nothing written) for what cannot be used."""
    name, platform = check_name(new.name), check_platform(new.platform)
    store_url = check_url(new.store_url)
    if bool(new.credentials_env) == bool(new.credentials_block):
        raise ConfigError("give the credentials as one of --credentials-env VAR or --credentials-block NAME")
    if new.credentials_env and not re.fullmatch(ENV_PATTERN, new.credentials_env):
        raise ConfigError(f"--credentials-env must name an environment variable, not {new.credentials_env!r}")
    if new.credentials_block and not re.fullmatch(BLOCK_PATTERN, new.credentials_block):
        raise ConfigError(
            f"--credentials-block must name a Prefect Secret block, not {new.credentials_block!r}"
        )
    threshold = check_threshold(new.threshold)
    url = settings.database_url
    if find(url, name) is not None:
        raise NameTaken(f"a store integration named {name!r} already exists (stores show {name})")
    if name in {entry.name for entry in settings.connections}:
        raise ConfigError(f"store name {name!r} is already a connection of CONNECTIONS: choose another")
    now = utcnow()
    row = StoreIntegration(
        name=name,
        platform=platform,
        store_url=store_url,
        credentials_env=new.credentials_env or None,
        credentials_block=new.credentials_block or None,
        active=new.active,
        auto_sync=new.auto_sync,
        low_stock_threshold=threshold,
        created_at=now,
        updated_at=now,
    )
    # The credential is there and the platform's reader accepts the URL (no call is made).
    reader_class(platform)(settings, connection(settings, row)).close()
    try:
        with session_scope(url) as session:
            session.add(row)
            session.flush()
            session.refresh(row)
    except PersistenceError as exc:
        if isinstance(exc.__cause__, IntegrityError):
            raise NameTaken(f"a store integration named {name!r} already exists") from None
        raise
    return row


def find(url: str, name: str) -> StoreIntegration | None:
    with session_scope(url) as session:
        return session.exec(select(StoreIntegration).where(col(StoreIntegration.name) == name)).first()


def get(url: str, name: str) -> StoreIntegration:
    """Integration ``name``; UnknownStore naming the known ones."""
    found = find(url, name)
    if found is None:
        known = ", ".join(row.name for row in integrations(url)) or "none yet: stores add NAME ..."
        raise UnknownStore(f"no store integration named {name!r} (known: {known})")
    return found


def integrations(url: str, *, active_only: bool = False) -> list[StoreIntegration]:
    """Every integration in name order (only the active ones that auto-sync with ``active_only``)."""
    query = select(StoreIntegration).order_by(col(StoreIntegration.name))
    if active_only:
        query = query.where(col(StoreIntegration.active).is_(True), col(StoreIntegration.auto_sync).is_(True))
    with session_scope(url) as session:
        return list(session.exec(query))


def set_active(url: str, name: str, active: bool) -> StoreIntegration:
    row = get(url, name)
    with session_scope(url) as session:
        row.active, row.updated_at = active, utcnow()
        session.add(row)
    return row


def remove(url: str, name: str) -> dict[str, int]:
    """Remove integration ``name`` with its inventory, thresholds, alerts, cursors and failures (its runs and
    audit rows stay as history, so a store added again under the name starts with a full read); how many rows
    of each went."""
    get(url, name)
    key = run_key_of(name)
    with session_scope(url) as session:
        for state in (SyncCursor, Failure):
            session.execute(sa.delete(state).where(col(state.pipeline) == key))
        gone: dict[str, int] = {}
        for model in (InventoryItem, StockAlert, SkuThreshold):
            table: sa.Table = model.__table__  # type: ignore[union-attr]
            done: Any = session.execute(sa.delete(table).where(table.c.integration == name))
            gone[str(table.name)] = done.rowcount or 0
        session.execute(sa.delete(StoreIntegration).where(col(StoreIntegration.name) == name))
    return gone
