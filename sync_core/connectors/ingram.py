"""Ingram Micro Reseller API v6 as a source of prices, availability and product details.

Contract: /work/shared/contracts/ingram.md. A bearer token comes from the OAuth2 client credentials and is
shared by the connector's threads until shortly before it expires; a 401 gets one new token and one more
try. Every catalogue call carries the account's headers and a correlation id of its own per attempt (stored
in the attempt's audit row). Price and availability and product details are paced apart (the lanes "pna"
and "details", at INGRAM_PNA_RATE_PER_MIN and INGRAM_DETAILS_RATE_PER_MIN); the token call goes by the
connection's budget. The answers are read in sync_core.connectors.ingram_wire.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote

import httpx
from typing_extensions import Unpack

from sync_core import errors
from sync_core.connectors.base import HttpConnector, Wiring
from sync_core.connectors.ingram_wire import (
    PartDetails,
    PartError,
    PricedPart,
    Warehouse,
    decimal_json,
    error_message,
    read_details,
    read_price_and_availability,
    reader,
)
from sync_core.engine.connections import Connection
from sync_core.settings import Settings

__all__ = ["IngramCatalog", "PartDetails", "PartError", "PricedPart", "Warehouse"]

TOKEN_PATH = "/oauth/oauth20/token"
PNA_PATH = "/resellers/v6/catalog/priceandavailability"
PNA_QUERY = {"includeAvailability": "true", "includePricing": "true"}  # both required
DETAILS_PATH = "/resellers/v6/catalog/details/"
PNA_MAX_PARTS = 50
CORRELATION_HEADER = "IM-CorrelationID"
UNKNOWN_LIFETIME_S = 300.0  # a token whose answer gives no readable expires_in is renewed this often
RENEW_MARGIN_S = 60.0  # a token is renewed this long before it expires, or a tenth of its life if shorter


class BearerToken:
    """The connection's current token, fetched by ``fetch`` (→ token, lifetime in seconds) and shared by
    every thread; renewed ahead of its expiry, or when a call finds it refused. Thread-safe."""

    def __init__(self, fetch: Callable[[], tuple[str, float]], *, clock: Callable[[], float]) -> None:
        self._fetch, self._clock = fetch, clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._renew_at = 0.0

    def current(self) -> str:
        """The token, fetched first when there is none or it is about to expire."""
        with self._lock:
            if self._token is None or self._clock() >= self._renew_at:
                self._renew()
            assert self._token is not None
            return self._token

    def renew(self, refused: str | None = None) -> str:
        """A new token in place of ``refused`` (a thread that already replaced it saves the fetch)."""
        with self._lock:
            if refused is None or self._token == refused:
                self._renew()
            assert self._token is not None
            return self._token

    def _renew(self) -> None:
        asked_at = self._clock()  # the lifetime runs from the ask, not the answer
        token, lifetime = self._fetch()
        self._token = token
        self._renew_at = asked_at + lifetime - min(RENEW_MARGIN_S, lifetime / 10)


def _lifetime(value: Any) -> float:
    """Seconds of ``expires_in``: a string of digits as Ingram sends it, or a number."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return UNKNOWN_LIFETIME_S
    return seconds if 0 < seconds < float("inf") else UNKNOWN_LIFETIME_S


class IngramCatalog(HttpConnector):
    """Ingram Micro's catalogue on one connection (the default one, from INGRAM_BASE and the INGRAM_CLIENT_*
    settings, unless given); the account (client id, customer number, country, sender id) and the lanes'
    rates come from the settings. Thread-safe; use as a context manager."""

    provider = "ingram"
    base_setting = "ingram_base"
    secret_setting = "ingram_client_secret"
    also_needs = ("ingram_client_id", "ingram_customer_number")
    lane_settings = {"pna": "ingram_pna_rate_per_min", "details": "ingram_details_rate_per_min"}

    def __init__(
        self,
        settings: Settings,
        connection: Connection | None = None,
        *,
        clock: Callable[[], float] | None = None,
        **wiring: Unpack[Wiring],
    ) -> None:
        """``clock`` (``time.monotonic`` by default) times the token's life. ConfigError names every missing
        setting."""
        if connection is None:
            settings.require(*self.needs)
        connection = self.resolve(settings, connection)
        settings.require(*self.also_needs)
        self._client_id, self._client_secret = settings.ingram_client_id, self._credential(connection)
        self._credentials = f"INGRAM_CLIENT_ID and {connection.secret_name or 'the client secret'}"
        headers = {
            "IM-CustomerNumber": settings.ingram_customer_number,
            "IM-CountryCode": settings.ingram_country_code.upper(),
        }
        if settings.ingram_sender_id:
            headers["IM-SenderID"] = settings.ingram_sender_id
        lanes = {lane: getattr(settings, setting) for lane, setting in self.lane_settings.items()}
        super().__init__(
            settings,
            connection,
            headers=headers,
            reader=reader,
            lanes=lanes,
            correlation_header=CORRELATION_HEADER,
            renewable_auth=True,
            **wiring,
        )
        self.http.add_secret(self._client_secret)
        self._token = BearerToken(self._fetch_token, clock=clock or time.monotonic)

    @property
    def _identity(self) -> str:
        """A check's success is remembered by the address, the account and the client credentials."""
        secret = hashlib.sha256(f"{self._client_id}\0{self._client_secret}".encode()).hexdigest()
        return hashlib.sha256(f"{super()._identity}\0{secret}".encode()).hexdigest()

    @property
    def waited_s(self) -> float:
        """Seconds this connector's calls have waited on rate limits (pacing and 429s) so far."""
        return self.http.waited_s

    @property
    def throttled(self) -> int:
        """How many 429 answers this connector's calls have had so far."""
        return self.http.throttled

    def _check(self) -> None:
        """Fetch a token (kept for the calls that follow): the address answers and the client credentials
        are accepted; AuthError naming the settings when they are refused."""
        self._token.renew()

    def _fetch_token(self) -> tuple[str, float]:
        """POST the client credentials for a token; (token, lifetime in seconds). A refusal (401/403, or the
        400 an OAuth server answers a bad client with) is an AuthError naming the settings to check."""
        form = {
            "grant_type": "client_credentials",
            "client_id": self._client_id,
            "client_secret": self._client_secret,
        }
        try:
            response = self.http.request("POST", TOKEN_PATH, data=form, context="token", idempotent=True)
        except (errors.AuthError, errors.InvalidRequest) as exc:
            said = self._provider_words(exc)
            raise errors.AuthError(
                f"{self.connection.name} refused the client credentials: POST {TOKEN_PATH} answered HTTP "
                f"{exc.status}{f' ({said})' if said else ''}; check {self._credentials}",
                provider=self.connection.name,
                status=exc.status,
                correlation_id=exc.correlation_id,
            ) from None
        body = self.http.json_body(response)
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token.strip():
            raise errors.TransientError(
                f"{self.connection.name}: POST {TOKEN_PATH} answered without an access_token",
                provider=self.connection.name,
                status=response.status_code,
            )
        self.http.add_secret(token)
        return token, _lifetime(body.get("expires_in"))

    def _provider_words(self, exc: errors.ConnectorError) -> str | None:
        """The provider's own message for a failed call, secrets scrubbed."""
        cause = exc.__cause__
        said = error_message(cause.response) if isinstance(cause, httpx.HTTPStatusError) else None
        return self.http.redact(said) if said else None

    def _call(
        self,
        method: str,
        path: str,
        *,
        lane: str,
        context: str,
        json: Any = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        """A catalogue call with the current token; on a 401, once more with a new one, then AuthError."""

        def send(token: str) -> httpx.Response:
            return self.http.request(
                method,
                path,
                params=params,
                json=json,
                headers={"Authorization": f"Bearer {token}"},
                context=context,
                idempotent=True,  # both calls are reads (price and availability is a POST that changes nothing)
                lane=lane,
            )

        token = self._token.current()
        try:
            return send(token)
        except errors.AuthError as exc:
            if exc.status != 401:
                raise
        try:
            return send(self._token.renew(token))
        except errors.AuthError as exc:
            if exc.status != 401:
                raise
            raise errors.AuthError(
                f"{exc} with a new token too; check {self._credentials} and INGRAM_CUSTOMER_NUMBER",
                provider=exc.provider,
                status=exc.status,
                correlation_id=exc.correlation_id,
            ) from None

    def price_and_availability(self, parts: Sequence[str]) -> tuple[list[PricedPart], list[PartError]]:
        """Price and availability of up to 50 part numbers in one call (ValueError beyond): the parts it
        priced and the per-part failures ("E" items of a 207, parts missing from the answer, items that
        cannot be read). A failed call raises ConnectorError. Thread-safe."""
        if isinstance(parts, str):
            raise ValueError("parts must be a sequence of part numbers, not one string")
        asked = list(dict.fromkeys(parts))
        if len(asked) > PNA_MAX_PARTS:
            raise ValueError(f"at most {PNA_MAX_PARTS} part numbers a call, not {len(asked)}")
        if not all(isinstance(part, str) and part.strip() for part in asked):
            raise ValueError("part numbers must be non-empty strings")
        if not asked:
            return [], []
        response = self._call(
            "POST",
            PNA_PATH,
            lane="pna",
            params=PNA_QUERY,
            json={"products": [{"ingramPartNumber": part} for part in asked]},
            context=f"price and availability of {len(asked)} parts from {asked[0]}"[:128],
        )
        answer = self.http.json_body(response, loads=decimal_json)
        if not isinstance(answer, list):
            raise errors.TransientError(
                f"{self.connection.name}: POST {PNA_PATH} answered HTTP {response.status_code} with "
                f"{type(answer).__name__}, not a list of products",
                provider=self.connection.name,
                status=response.status_code,
            )
        return read_price_and_availability(answer, asked)

    def details(self, part: str) -> PartDetails | PartError:
        """The details of one part number; a part Ingram does not know is a "not-found" PartError with the
        provider's message. A failed call raises ConnectorError. Thread-safe."""
        if not isinstance(part, str) or not part.strip():
            raise ValueError("a part number must be a non-empty string")
        try:
            response = self._call(
                "GET", DETAILS_PATH + quote(part, safe=""), lane="details", context=f"details of {part}"[:128]
            )
        except errors.NotFound as exc:
            return PartError(part, "not-found", self._provider_words(exc) or "not found")
        return read_details(part, self.http.json_body(response))
