"""The HTTP layer every connector uses: one httpx client per connection, error translation, tenacity retries,
pacing, a persisted circuit breaker (sync_core.http.circuit) and a per-attempt audit hook.

A client is named after its connection (``sync_core.engine.connections``): the circuit, the shared pacing
bucket, error messages and the audit rows' ``provider`` column all carry that name, so two connections of
one provider never share a circuit or a request budget. A provider's default connection is named after the
provider.

Budget: ``http_retries`` retries per request (``http_retries + 1`` attempts), on TransientError only; waits
grow from ``http_retry_backoff_ms`` with full jitter, or follow Retry-After; none exceeds
``http_retry_max_wait_s``. Prefect retries whole tasks on top of this, on TransientError too.

Bounds: a call (every attempt, wait and the body) ends within its deadline (``http_deadline_s``; a download
has its own) and an answer is read up to a size bound; past either, LimitExceeded, which nothing retries.

Here: HttpClient and the layer's public names. A call's bookkeeping is in sync_core.http.call, the errors
an answer or a transport failure means in sync_core.http.translate, the audit trail in sync_core.http.records.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO, Any

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    stop_any,
    wait_random_exponential,
)

from sync_core import errors
from sync_core.http.call import Call
from sync_core.http.circuit import BreakerState, BreakerStore, CircuitBreaker, JournalSink, MemoryBreakerStore
from sync_core.http.pacing import Pacer, TokenBucket, shared_bucket
from sync_core.http.records import AuditSink, RequestRecord, auditor
from sync_core.http.redaction import is_secret_name, redact_body, redact_url
from sync_core.http.responses import (
    ReadBounds,
    ResponseReader,
    default_reader,
    error_class,
    parse_retry_after,
    read_answer,
)
from sync_core.http.tls import shared_tls_context
from sync_core.http.translate import deadline_error, response_error, transport_error
from sync_core.settings import Settings

__all__ = [
    "AuditSink",
    "BreakerState",
    "BreakerStore",
    "CircuitBreaker",
    "JournalSink",
    "HttpClient",
    "MemoryBreakerStore",
    "Pacer",
    "ReadBounds",
    "RequestRecord",
    "ResponseReader",
    "TokenBucket",
    "error_class",
    "is_secret_name",
    "parse_retry_after",
    "redact_body",
    "redact_url",
]

log = logging.getLogger(__name__)


class HttpClient:
    """One connection's HTTP client: only 2xx comes back, everything else raises from sync_core.errors.

    ``name`` is the connection's name, ``base_url`` its address and ``rate_limit_per_min`` its request budget
    (the process-wide bucket of that name, unless ``bucket`` is given)."""

    def __init__(
        self,
        name: str,
        base_url: str,
        settings: Settings,
        *,
        rate_limit_per_min: int,
        headers: dict[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        audit: AuditSink | None = None,
        breaker_store: BreakerStore | None = None,
        pacer: Pacer | None = None,
        events: JournalSink | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
        bucket: TokenBucket | None = None,
        reader: ResponseReader | None = None,
    ) -> None:
        self.name, self.settings = name, settings
        headers = {"User-Agent": "catalog-sync/0.1", **(headers or {})}
        # The header values themselves, and the token of "Bearer <token>", are scrubbed from every text.
        self._secrets = [
            part
            for name, value in headers.items()
            if is_secret_name(name)
            for part in (value, *value.split(" ")[1:])
            if part
        ]
        url = httpx.URL(base_url)
        if url.password:  # credentials in the URL (basic auth): never in a message or an audit row
            self._secrets += [f"{url.username}:{url.password}", url.password]
        self.address = f"{url.scheme}://{url.host}:{url.port or {'https': 443}.get(url.scheme, 80)}"
        self._client = httpx.Client(
            base_url=base_url,
            headers=headers,
            timeout=settings.http_timeout,
            transport=transport,
            verify=shared_tls_context(),
        )
        self._audit, self._events, self._pacer, self._reader = audit, events, pacer, reader or default_reader
        self._sleep = sleep or time.sleep
        self._bucket = bucket or shared_bucket(name, rate_limit_per_min)
        self._attempts = settings.http_retries + 1
        self._bounds = ReadBounds(settings.http_deadline_s)
        self._backoff = wait_random_exponential(
            multiplier=settings.http_retry_backoff_ms / 1000, max=settings.http_retry_max_wait_s
        )
        self.breaker = CircuitBreaker(
            name,
            breaker_store or MemoryBreakerStore(),
            address=self.address,
            threshold=settings.circuit_failure_threshold,
            window_s=settings.circuit_window_s,
            cooldown_s=settings.circuit_cooldown_s,
            clock=clock or time.time,
            on_event=self._emit,
        )

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the underlying connection pool."""
        self._client.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        context: str | None = None,
        idempotent: bool | None = None,
    ) -> httpx.Response:
        """Send with circuit check, pacing and retries; return a 2xx response or raise a ConnectorError.

        ``idempotent`` defaults to False for POST/PATCH: those are resent only when they never left.
        """
        method = method.upper()
        resend_ok = idempotent if idempotent is not None else method not in ("POST", "PATCH")
        return self._send(
            Call(method, path, params, json, context, resend_ok, uuid.uuid4().hex, self._bounds)
        )

    def download(
        self, path: str, sink: IO[bytes], *, bounds: ReadBounds, context: str | None = None
    ) -> httpx.Response:
        """GET a large body into ``sink`` as it arrives (rewound and rewritten on a retry), within ``bounds``;
        the same circuit, pacing, retries and audit as any request. Returns the (closed, body-less) response."""
        call = Call("GET", path, None, None, context, True, uuid.uuid4().hex, bounds, sink=sink)
        return self._send(call)

    def _send(self, call: Call) -> httpx.Response:
        """Attempt ``call`` until it succeeds, fails for good, runs out of attempts or of time."""
        call.deadline = time.monotonic() + call.bounds.deadline_s
        retrying = Retrying(
            stop=stop_any(stop_after_attempt(self._attempts), stop_after_delay(call.bounds.deadline_s)),
            wait=self._wait,
            sleep=self._sleep,
            retry=retry_if_exception(call.retryable),
            reraise=True,
        )
        response: httpx.Response = retrying(self._attempt, call)
        return response

    def _read(self, call: Call, response: httpx.Response) -> httpx.Response:
        """The answer, read within the call's bounds: a 2xx download into its sink, anything else in memory."""
        return read_answer(
            response,
            call.bounds,
            deadline=call.deadline,
            sink=call.sink if response.is_success else None,
            provider=self.name,
            what=f"{self.name}: {call.method} {call.path}",
            correlation_id=call.correlation_id,
        )

    def get_json(self, path: str, *, params: dict[str, Any] | None = None, context: str | None = None) -> Any:
        """GET and decode JSON; a 2xx body that is not JSON raises TransientError."""
        return self.json_body(self.request("GET", path, params=params, context=context))

    def json_body(self, response: httpx.Response) -> Any:
        """Decode a response's JSON body or raise TransientError naming the call."""
        try:
            return response.json()
        except ValueError:
            req = response.request
            raise errors.TransientError(
                f"{self.name}: {req.method} {req.url.path} answered HTTP {response.status_code} "
                "with a body that is not JSON",
                provider=self.name,
                status=response.status_code,
            ) from None

    def _attempt(self, call: Call) -> httpx.Response:
        call.attempt += 1
        started = datetime.now(UTC)
        timeout = max(0.001, min(self.settings.http_timeout, call.remaining()))
        request = call.build(self._client, timeout)
        audit = auditor(
            call,
            request,
            started,
            sink=self._audit,
            provider=self.name,
            settings=self.settings,
            secrets=self._secrets,
        )
        try:
            probe = self.breaker.before_call()
        except errors.CircuitOpenError as exc:
            exc.correlation_id = call.correlation_id
            audit("circuit_open", None, exc, None)
            raise
        if self._pacer is not None:
            self._pacer()
        wait = self._bucket.reserve()
        if wait > 0:
            self._sleep(wait)
        response: httpx.Response | None = None
        t0 = time.perf_counter()
        error: errors.ConnectorError | None
        try:
            response = self._read(call, self._client.send(request, stream=True))
            error = response_error(
                call,
                response,
                provider=self.name,
                reader=self._reader,
                secrets=self._secrets,
                emit=self._emit,
            )
        except httpx.TransportError as exc:
            error = transport_error(call, request, exc, provider=self.name, secrets=self._secrets)
            if call.remaining() <= 0:  # the deadline, not the provider, ended this call
                error = deadline_error(call, error, provider=self.name)
        except errors.LimitExceeded as exc:
            error = exc
        duration_ms = int((time.perf_counter() - t0) * 1000)
        counted = isinstance(error, errors.TransientError | errors.AuthError)
        if counted and not isinstance(error, errors.RateLimited):
            self.breaker.record_failure(probe, str(error))
        else:  # any answer, even a 404 or 429, shows the provider is up
            self.breaker.record_success(probe)
        if error is None:
            audit("success", response, None, duration_ms)
            assert response is not None
            return response
        final = not (call.retryable(error) and call.attempt < self._attempts and call.remaining() > 0)
        if final and call.attempt > 1:
            error.args = (f"{error.args[0]} after {call.attempt} attempts",)
        timed_out = isinstance(error.__cause__, httpx.TimeoutException) or isinstance(
            error, errors.LimitExceeded
        )
        audit("retry" if not final else "timeout" if timed_out else "fail", response, error, duration_ms)
        raise error

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        cap = self.settings.http_retry_max_wait_s
        remaining = max(0.0, state.args[0].remaining()) if state.args else cap
        if isinstance(exc, errors.RateLimited) and exc.retry_after is not None:
            # A little upward jitter so clients told the same Retry-After do not all come back at once.
            return min(cap, remaining, exc.retry_after + random.uniform(0, min(1.0, exc.retry_after * 0.1)))
        return min(remaining, float(self._backoff(state)))

    def _emit(self, kind: str, data: dict[str, Any]) -> None:
        if self._events is None:
            return
        try:
            self._events(kind, data)
        except Exception:  # events are best-effort, like the audit trail
            log.exception("%s: event sink failed on %s", self.name, kind)
