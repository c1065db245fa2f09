"""One Shopify store's Admin GraphQL endpoint over the connection's HttpClient: the credential it sends, the
cost bucket that paces it, and what each failure an answer reports means.

The credential is an access token, or ``client_id:client_secret`` traded for a token at
``/admin/oauth/access_token`` (kept; a 401 gets one new token, then is an AuthError). A query first waits
until the bucket (as last seen, restored since) holds its expected price. A THROTTLED answer, on HTTP 200 or
as a 429 its client's retries did not outlast, is waited out (``(requested - currentlyAvailable) /
restoreRate``, or the Retry-After) and sent again, up to MAX_THROTTLED times in a row. MAX_COST_EXCEEDED
halves the page (:meth:`ShopifyGraphQL.paged`); ACCESS_DENIED is an AuthError naming the scope;
INTERNAL_SERVER_ERROR is retried as a 5xx by the client (shopify_wire.reader); any other error is an
InvalidRequest (an engine bug). Thread-safe.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx

from sync_core import errors
from sync_core.connectors.shopify_cost import Cost, CostBudget, PageSize, read_cost, throttled_wait
from sync_core.connectors.shopify_wire import TOKEN_PATH, Failure, read_failure
from sync_core.http.client import HttpClient

MAX_THROTTLED = 60  # THROTTLED answers one query may get in a row (each waited out) before it gives up
FALLBACK_WAIT_S = 1.0  # the wait after a THROTTLED answer that says nothing of its bucket
TOKEN_HEADER = "X-Shopify-Access-Token"


def client_credentials(secret: str) -> tuple[str, str] | None:
    """(client id, client secret) of a ``client_id:client_secret`` credential; None for an access token."""
    client_id, colon, client_secret = secret.partition(":")
    return (client_id, client_secret) if colon and client_id and client_secret else None


class _TooCostly(Exception):
    def __init__(self, failure: Failure, priced: float | None) -> None:
        super().__init__(failure.message)
        self.priced = priced


class ShopifyGraphQL:
    """Queries to ``path`` through ``http`` for the connection ``name`` (whose credential is ``secret``,
    named ``secret_name`` in messages); waits go through ``sleep``, the bucket is timed by ``clock``."""

    def __init__(
        self,
        http: HttpClient,
        *,
        name: str,
        path: str,
        secret: str,
        secret_name: str,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
    ) -> None:
        self.http, self.name, self.path = http, name, path
        self._client = client_credentials(secret)
        self._token: str | None = None if self._client else secret
        self._token_lock = threading.Lock()
        self._secret_name, self._sleep = secret_name, sleep
        self.budget = CostBudget(clock)
        self.waited_s = 0.0  # seconds waited for the bucket: pacing and THROTTLED answers
        self.throttled = 0  # THROTTLED answers (on 200, or 429s the client's retries did not outlast)

    # --- the credential ---

    def _refused(self, exc: errors.ConnectorError, what: str) -> errors.AuthError:
        said = "refused the credentials" if exc.status in (400, 401) else "refused access"
        return errors.AuthError(
            f"{self.name}: Shopify {said} ({what} answered HTTP {exc.status}); check {self._secret_name}",
            provider=self.name,
            status=exc.status,
            correlation_id=exc.correlation_id,
        )

    def _fetch_token(self) -> str:
        """A token for the client credentials; AuthError when they are refused."""
        assert self._client is not None
        client_id, client_secret = self._client
        form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}
        try:
            response = self.http.request("POST", TOKEN_PATH, data=form, context="token", idempotent=True)
        except (errors.AuthError, errors.InvalidRequest, errors.NotFound) as exc:
            raise self._refused(exc, f"POST {TOKEN_PATH}") from None
        body = self.http.json_body(response)
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token.strip():
            raise errors.TransientError(
                f"{self.name}: POST {TOKEN_PATH} answered without an access_token",
                provider=self.name,
                status=response.status_code,
            )
        self.http.add_secret(token)
        return token

    def _current_token(self, refused: str | None = None) -> str:
        """The token to send; with ``refused``, a new one in its place (once per refusal, across threads)."""
        with self._token_lock:
            if self._token is None or (refused is not None and self._token == refused):
                self._token = self._fetch_token()
            return self._token

    def _post(self, body: dict[str, Any], context: str) -> httpx.Response:
        """POST a query with the token; a 401 gets one new token (client credentials), then AuthError."""
        token = self._current_token()
        for last in (self._client is None, True):
            try:
                return self.http.request(
                    "POST",
                    self.path,
                    json=body,
                    headers={TOKEN_HEADER: token},
                    context=context[:128],
                    idempotent=True,  # a read: sent again as freely as a GET
                )
            except errors.AuthError as exc:
                if last or exc.status != 401:
                    raise self._refused(exc, f"POST {self.path}") from None
                token = self._current_token(refused=token)
        raise AssertionError("unreachable")

    # --- queries ---

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self.waited_s += seconds
            self._sleep(seconds)

    def query(
        self, what: str, query: str, variables: dict[str, Any], *, expected: float
    ) -> tuple[dict[str, Any], Cost | None]:
        """(data, cost) of a query expected to be priced ``expected``, after waiting for the bucket to hold
        it; ConnectorError (one line, naming ``what``) when it fails for good."""
        throttled = 0
        while True:
            self._wait(self.budget.wait_for(expected))
            try:
                response = self._post({"query": query, "variables": variables}, what)
            except errors.RateLimited as exc:  # the 429s the client's own retries did not outlast
                throttled += 1
                if throttled >= MAX_THROTTLED:
                    raise
                cause = exc.__cause__
                cost = read_cost(_body(cause.response)) if isinstance(cause, httpx.HTTPStatusError) else None
                self.budget.observe(cost)
                self.throttled += 1
                self._wait(exc.retry_after or throttled_wait(cost) or FALLBACK_WAIT_S)
                continue
            body = self.http.json_body(response)
            cost = read_cost(body)
            self.budget.observe(cost)
            failure = read_failure(body)
            if failure is None:
                data = body.get("data") if isinstance(body, dict) else None
                if not isinstance(data, dict):
                    raise self._error(errors.TransientError, what, "answered without data", response)
                return data, cost
            if failure.code == "THROTTLED":
                throttled += 1
                self.throttled += 1
                if throttled >= MAX_THROTTLED:
                    said = f"still THROTTLED after {throttled} waits"
                    raise self._error(errors.RateLimited, what, said, response)
                self._wait(throttled_wait(cost) or FALLBACK_WAIT_S)
                continue
            if failure.code == "MAX_COST_EXCEEDED":
                raise _TooCostly(failure, _priced(body))
            if failure.code == "ACCESS_DENIED":
                scope = failure.required_access or "the scope the message names"
                said = f"ACCESS_DENIED: {failure.message}; grant the app {scope}"
                raise self._error(errors.AuthError, what, said, response)
            said = f"{failure.code or 'GraphQL error'}: {failure.message}"
            raise self._error(errors.InvalidRequest, what, said, response)

    def _error(
        self, kind: type[errors.ConnectorError], what: str, said: str, response: httpx.Response
    ) -> errors.ConnectorError:
        return kind(
            self.http.redact(f"{self.name}: Shopify {what}: {said}"),
            provider=self.name,
            status=response.status_code,
        )

    def paged(self, size: PageSize, what: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """The data of a paged query (``variables`` without ``first``), its ``first`` as large as fits one
        query's limit and ``size`` learnt from the answer; a page refused as too costly is asked again at
        half the size (PermanentError when one item is already too costly)."""
        while True:
            first = size.first(self.budget.limit)
            try:
                data, cost = self.query(
                    what, query, {**variables, "first": first}, expected=size.expected(first)
                )
            except _TooCostly as exc:
                if first <= 1:
                    raise errors.PermanentError(
                        f"{self.name}: Shopify {what}: one item costs more than a query may ({exc})",
                        provider=self.name,
                    ) from None
                size.learn(first, exc.priced)
                size.halve(first)
                continue
            size.learn(first, cost.requested if cost else None)
            return data


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _priced(body: Any) -> float | None:
    """What a MAX_COST_EXCEEDED answer says the query was priced (``extensions.cost``, or its error's)."""
    cost = read_cost(body)
    if cost is not None and cost.requested is not None:
        return cost.requested
    found = body.get("errors") if isinstance(body, dict) else None
    for error in found if isinstance(found, list) else []:
        extensions = error.get("extensions") if isinstance(error, dict) else None
        value = extensions.get("cost") if isinstance(extensions, dict) else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None
