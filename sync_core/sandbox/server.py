"""Mounting and serving the sandbox: one ASGI app for the simulators plus the `/_sandbox` control API."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount

from sync_core.sandbox.admin_app import build_admin_app
from sync_core.sandbox.anar360_app import build_anar360_app
from sync_core.sandbox.catalogue import SandboxConfig
from sync_core.sandbox.fever_app import build_fever_app
from sync_core.sandbox.ingram_app import COUNTRY_CODE, build_ingram_app
from sync_core.sandbox.ploomes_app import build_ploomes_app
from sync_core.sandbox.sazito_app import build_sazito_app
from sync_core.sandbox.shopify_app import build_shopify_app
from sync_core.sandbox.state import SandboxState
from sync_core.sandbox.verify import VerifyReport, verify_store
from sync_core.sandbox.woo_app import build_woo_app

ANAR360_PREFIX = "/anar360/api/360"
SAZITO_PREFIX = "/sazito/api/v1"
FEVER_PREFIX = "/fever"
FEVER_FEED_PATH = FEVER_PREFIX + "/api/events"
INGRAM_PREFIX = "/ingram"
PLOOMES_PREFIX = "/ploomes"
SHOPIFY_PREFIX = "/shopify"  # a Shopify store's URL (its Admin GraphQL API is under /admin/api/<version>)
WOO_PREFIX = "/woocommerce"  # a WooCommerce store's URL (its REST API is under /wp-json/wc/v3)
ADMIN_PREFIX = "/_sandbox"
SANDBOX_HELP = "serve the Anar360, Sazito, Fever, Ingram Micro and Ploomes CRM simulators"  # `catalog-sync sandbox --help`
STARTUP_TIMEOUT_S = 10.0


def build_app(state: SandboxState) -> Starlette:
    """Anar360 at /anar360/api/360, Sazito at /sazito/api/v1, Fever at /fever, Ingram Micro at /ingram,
    Ploomes CRM at /ploomes, a WooCommerce store at /woocommerce, a Shopify store at /shopify, control API at /_sandbox."""
    return Starlette(
        routes=[
            Mount(ANAR360_PREFIX, app=build_anar360_app(state)),
            Mount(SAZITO_PREFIX, app=build_sazito_app(state)),
            Mount(FEVER_PREFIX, app=build_fever_app(state)),
            Mount(INGRAM_PREFIX, app=build_ingram_app(state)),
            Mount(PLOOMES_PREFIX, app=build_ploomes_app(state)),
            Mount(WOO_PREFIX, app=build_woo_app(state.woo)),
            Mount(SHOPIFY_PREFIX, app=build_shopify_app(state.shopify)),
            Mount(ADMIN_PREFIX, app=build_admin_app(state)),
        ]
    )


def sandbox_settings(url: str, config: SandboxConfig) -> dict[str, str]:
    """The settings (``load_settings`` overrides) that point catalog-sync's default connections at a sandbox
    served at ``url``."""
    return {
        "anar360_base": url + ANAR360_PREFIX,
        "anar360_token": config.anar360_token,
        "sazito_base": url + SAZITO_PREFIX,
        "sazito_key": config.sazito_key,
        "fever_provider_url": url + FEVER_FEED_PATH,
        "ingram_base": url + INGRAM_PREFIX,
        "ingram_client_id": config.ingram_client_id,
        "ingram_client_secret": config.ingram_client_secret,
        "ingram_customer_number": config.ingram_customer_number,
        "ingram_country_code": COUNTRY_CODE,
        "ploomes_base": url + PLOOMES_PREFIX,
        "ploomes_user_key": config.ploomes_user_key,
        "ploomes_webhook_key": config.ploomes_webhook_key,
    }


def store_integrations(url: str, state: SandboxState) -> dict[str, tuple[str, str]]:
    """platform → (store URL, credential) of the sandbox's stores (`catalog-sync stores add`)."""
    woo = state.woo.knobs
    return {
        "shopify": (url + SHOPIFY_PREFIX, state.shopify.token),
        "woocommerce": (url + WOO_PREFIX, f"{woo.consumer_key}:{woo.consumer_secret}"),
        "sazito": (url + SAZITO_PREFIX.removesuffix("/api/v1"), state.config.sazito_key),
    }


def banner(url: str, config: SandboxConfig, state: SandboxState | None = None) -> str:
    """What `catalog-sync sandbox` prints: where it listens, and those settings, one provider a line."""
    values = sandbox_settings(url, config)
    groups = (
        ("anar360_base", "anar360_token"),
        ("sazito_base", "sazito_key"),
        ("fever_provider_url",),
        (
            "ingram_base",
            "ingram_client_id",
            "ingram_client_secret",
            "ingram_customer_number",
            "ingram_country_code",
        ),
        ("ploomes_base", "ploomes_user_key", "ploomes_webhook_key"),
    )
    lines = ["  " + "  ".join(f"{name.upper()}={values[name]}" for name in group) for group in groups]
    if state is not None:
        lines.append(
            "  stores (catalog-sync stores add NAME --platform P --url URL --credentials-env VAR, VAR=credential):"
        )
        lines += [
            f"    {platform:<12} URL={store_url}  credential={credential}"
            for platform, (store_url, credential) in store_integrations(url, state).items()
        ]
    return "\n".join([f"sandbox on {url}", *lines])


def serve(config: SandboxConfig, sock: socket.socket, state: SandboxState | None = None) -> None:
    """Serve the catalogues (``state``, else freshly generated) on a bound socket until interrupted (blocking)."""
    server = uvicorn.Server(uvicorn.Config(build_app(state or SandboxState(config)), log_level="warning"))
    server.run(sockets=[sock])


class _QuickStopServer(uvicorn.Server):
    """uvicorn polls `should_exit` every 100 ms; tests start and stop many servers, so poll every 10 ms."""

    async def main_loop(self) -> None:
        ticks = 0
        while not await self.on_tick(0 if ticks % 100 == 0 else 1):  # tick 0 refreshes the Date header
            ticks += 1
            await asyncio.sleep(0.01)


@dataclass(frozen=True)
class SandboxHandle:
    """A running sandbox: where to reach it, its credentials, and its live state."""

    url: str
    anar360_base: str
    sazito_base: str
    fever_url: str  # the Fever feed (FEVER_PROVIDER_URL)
    ingram_base: str  # INGRAM_BASE: the token and catalog paths hang off it
    anar360_token: str
    sazito_key: str
    state: SandboxState
    ploomes_base: str = ""  # PLOOMES_BASE: /Products, /Webhooks ... hang off it

    @property
    def stores(self) -> dict[str, tuple[str, str]]:
        """The sandbox's stores an inventory integration can read: platform → (store URL, credential)."""
        return store_integrations(self.url, self.state)

    def settings(self) -> dict[str, str]:
        """The ``load_settings`` overrides that point catalog-sync's default connections here."""
        return sandbox_settings(self.url, self.state.config)

    def verify(self, settings: Any) -> VerifyReport:
        """The store checked against the value rules, with the price rule of ``settings`` (a Settings)."""
        return verify_store(
            self.state, settings.sazito_price_multiplier, settings.sazito_price_markup_percent
        )


def _wait_until_accepting(host: str, port: int, server: uvicorn.Server, thread: threading.Thread) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise RuntimeError("the sandbox server stopped during startup")
        if server.started:
            try:
                with socket.create_connection((host, port), timeout=0.5):
                    return
            except OSError:
                pass
        time.sleep(0.01)
    raise RuntimeError(f"the sandbox did not accept connections on {host}:{port} in {STARTUP_TIMEOUT_S}s")


@contextmanager
def running_sandbox(
    config: SandboxConfig | None = None, host: str = "127.0.0.1", port: int = 0
) -> Iterator[SandboxHandle]:
    """Serve a fresh sandbox from a background thread (port 0 = a free port); stop it on exit.

    Raises RuntimeError when the server does not come up within STARTUP_TIMEOUT_S.
    """
    state = SandboxState(config)
    # proto=IPPROTO_TCP: asyncio only sets TCP_NODELAY on accepted sockets whose proto says TCP; without
    # it every keep-alive request stalls ~40 ms on Nagle + delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    server = _QuickStopServer(
        uvicorn.Config(build_app(state), log_level="warning", lifespan="off", timeout_graceful_shutdown=2)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="sandbox", daemon=True)
    thread.start()
    try:
        _wait_until_accepting(host, bound_port, server, thread)
        url = f"http://{host}:{bound_port}"
        yield SandboxHandle(
            url=url,
            anar360_base=url + ANAR360_PREFIX,
            sazito_base=url + SAZITO_PREFIX,
            fever_url=url + FEVER_FEED_PATH,
            ingram_base=url + INGRAM_PREFIX,
            anar360_token=state.config.anar360_token,
            sazito_key=state.config.sazito_key,
            state=state,
            ploomes_base=url + PLOOMES_PREFIX,
        )
    finally:
        state.closing = True
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """One command-line flag per SandboxConfig field (e.g. --fault-rate 0.05), defaults from the dataclass."""
    kinds: dict[str, Callable[[str], Any]] = {"int": int, "float": float, "str": str, "bool": _boolean}
    for field in dataclasses.fields(SandboxConfig):
        flag = "--" + field.name.replace("_", "-")
        parser.add_argument(
            flag,
            type=kinds[str(field.type)],
            default=field.default,
            dest=field.name,
            metavar=str(field.type).upper(),
            help=f"{field.metadata.get('help', '')} (default {field.default})",
        )


def _boolean(text: str) -> bool:
    """A command-line true/false (also yes/no, on/off, 1/0)."""
    value = text.strip().lower()
    if value not in ("true", "false", "yes", "no", "on", "off", "1", "0"):
        raise argparse.ArgumentTypeError(f"expected true or false, not {text!r}")
    return value in ("true", "yes", "on", "1")


def config_from_arguments(args: argparse.Namespace) -> SandboxConfig:
    """The SandboxConfig the parsed flags describe; raises ValueError for values it refuses."""
    return SandboxConfig(
        **{field.name: getattr(args, field.name) for field in dataclasses.fields(SandboxConfig)}
    )
