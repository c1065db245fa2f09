"""The HTTP layer every connector uses: one httpx client per connection, error translation, tenacity retries,
pacing, a persisted circuit breaker (sync_core.http.circuit) and a per-attempt audit hook.

A client is named after its connection (``sync_core.engine.connections``): the circuit, the shared pacing
bucket, error messages and the audit rows' ``provider`` column all carry that name, so two connections of
one provider never share a circuit or a request budget. A provider's default connection is named after the
provider.

Pacing: a call waits for its lane: the connection's (its bucket, and its pacer when one is wired), or one
of the client's ``lanes``, each a budget of its own (a provider that limits some endpoints apart from the
rest). ``waited_s`` and ``throttled`` tell what rate limits cost the client's calls so far.

Correlation: one id per call, in every audit row of its attempts; with ``correlation_header``, a new id per
attempt, sent in that header (the provider logs each attempt as a call of its own).

Budget: ``http_retries`` retries per request (``http_retries + 1`` attempts), on TransientError only; waits
grow from ``http_retry_backoff_ms`` with full jitter, or follow a 429's X-RateLimit-Reset or Retry-After;
none exceeds ``http_retry_max_wait_s`` (sync_core.http.retry). Prefect retries whole tasks on top of this,
on TransientError too.

Bounds: a call (every attempt, wait and the body) ends within its deadline (``http_deadline_s``; a download
has its own) and an answer is read up to a size bound; past either, LimitExceeded, which nothing retries.

Here: HttpClient and the layer's public names. A call's bookkeeping is in sync_core.http.call, the errors
an answer or a transport failure means in sync_core.http.translate, the audit trail in sync_core.http.records.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import IO, Any

import httpx

from sync_core import errors
from sync_core.http.call import Call
from sync_core.http.circuit import BreakerState, BreakerStore, CircuitBreaker, JournalSink, MemoryBreakerStore
from sync_core.http.pacing import Lane, Pacer, TokenBucket, WaitTally, shared_bucket, window_limit_shape
from sync_core.http.records import AuditSink, RequestRecord, auditor
from sync_core.http.redaction import (
    Secrets,
    is_secret_name,
    redact_body,
    redact_library_logs,
    redact_url,
    scrub,
)
from sync_core.http.responses import (
    ReadBounds,
    ResponseReader,
    default_reader,
    error_class,
    parse_retry_after,
    read_answer,
)
from sync_core.http.retry import RetryPolicy
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
    "LanePacer",
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
redact_library_logs()  # httpx logs every request's URL, credentials included

# The pacer of a client's lane, from the lane's name and rate a minute (None: its bucket alone paces it).
LanePacer = Callable[[str, int], Pacer | None]


class HttpClient:
    """One connection's HTTP client: only 2xx comes back, everything else raises from sync_core.errors.

    ``name`` is the connection's name, ``base_url`` its address and ``rate_limit_per_min`` its request budget
    (the process-wide bucket of that name, unless ``bucket`` is given). ``lanes`` (lane → rate a minute) are
    budgets of their own for the calls that name them: the process-wide bucket ``<name>/<lane>`` and the pacer
    ``lane_pacer`` gives. ``correlation_header`` sends a new correlation id per attempt in that header.
    With ``renewable_auth`` a 401 is not counted by the circuit: its caller renews the credential it sends
    and calls again (an expired token says nothing of the provider's health)."""

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
        lanes: Mapping[str, int] | None = None,
        lane_pacer: LanePacer | None = None,
        correlation_header: str | None = None,
        renewable_auth: bool = False,
    ) -> None:
        self.name, self.settings = name, settings
        headers = {"User-Agent": "catalog-sync/0.1", **(headers or {})}
        url = httpx.URL(base_url)
        self._secret_list = Secrets.of(headers, url)
        self.address = f"{url.scheme}://{url.host}:{url.port or {'https': 443}.get(url.scheme, 80)}"
        self._client = httpx.Client(
            base_url=base_url,
            headers=headers,
            timeout=settings.http_timeout,
            transport=transport,
            verify=shared_tls_context(),
        )
        self._audit, self._events, self._reader = audit, events, reader or default_reader
        self._sleep = sleep or time.sleep
        self._bucket = bucket or shared_bucket(name, rate_limit_per_min)
        self._lane = Lane(self._bucket, pacer)
        self._lanes = {lane: self._new_lane(lane, rate, lane_pacer) for lane, rate in (lanes or {}).items()}
        self._tally = WaitTally()
        self._correlation_header, self._renewable_auth = correlation_header, renewable_auth
        self._retry = RetryPolicy(settings, sleep=self._sleep, tally=self._tally)
        self._bounds = ReadBounds(settings.http_deadline_s)
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

    def _new_lane(self, lane: str, per_min: int, lane_pacer: LanePacer | None) -> Lane:
        """A lane's bucket, shaped for a budget counted in fixed minutes (window_limit_shape), and its pacer."""
        burst, paced = window_limit_shape(per_min)
        bucket = shared_bucket(f"{self.name}/{lane}", paced, burst)
        return Lane(bucket, lane_pacer(lane, per_min) if lane_pacer else None)

    @property
    def _secrets(self) -> list[str]:
        return self._secret_list.values

    @property
    def waited_s(self) -> float:
        """Seconds this client's calls have waited on rate limits: pacing (pacers and buckets) and 429s."""
        return self._tally.waited_s

    @property
    def throttled(self) -> int:
        """How many 429 answers this client's calls have had."""
        return self._tally.throttled

    def add_secret(self, value: str) -> None:
        """Scrub ``value`` from every audit row and message from now on (a credential learned at run time)."""
        self._secret_list.add(value)

    def redact(self, text: str) -> str:
        """``text`` with this client's secrets scrubbed out."""
        return scrub(text, self._secrets)

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
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        context: str | None = None,
        idempotent: bool | None = None,
        lane: str | None = None,
    ) -> httpx.Response:
        """Send with circuit check, pacing and retries; return a 2xx response or raise a ConnectorError.

        ``data`` is a form body (when ``json`` is None); ``headers`` go over the client's, and the values of
        secret ones are scrubbed from then on. ``lane`` names the lane that paces the call (ValueError for
        one the client has not). ``idempotent`` defaults to False for POST/PATCH: those are resent only when
        they never left.
        """
        method = method.upper()
        if lane is not None and lane not in self._lanes:
            raise ValueError(
                f"{self.name} has no lane {lane!r} (its lanes: {', '.join(self._lanes) or 'none'})"
            )
        for name, value in (headers or {}).items():
            self._secret_list.add_header(name, value)
        resend_ok = idempotent if idempotent is not None else method not in ("POST", "PATCH")
        call = Call(method, path, params, json, context, resend_ok, uuid.uuid4().hex, self._bounds)
        call.headers, call.form, call.lane = headers, data, lane
        return self._send(call)

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
        return self._retry.run(call, self._attempt)

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

    def json_body(self, response: httpx.Response, *, loads: Callable[[bytes], Any] | None = None) -> Any:
        """Decode a response's JSON body (with ``loads`` when given, e.g. to read decimals exactly) or raise
        TransientError naming the call."""
        try:
            return response.json() if loads is None else loads(response.content)
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
        if self._correlation_header and call.attempt > 1:  # each attempt is a call of its own to the provider
            call.correlation_id = uuid.uuid4().hex
        started = datetime.now(UTC)
        timeout = max(0.001, min(self.settings.http_timeout, call.remaining()))
        request = call.build(self._client, timeout, correlation_header=self._correlation_header)
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
        lane = self._lanes[call.lane] if call.lane is not None else self._lane
        self._tally.waited(lane.pace(self._sleep))
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
        call.rate_limited = isinstance(error, errors.RateLimited)
        if call.rate_limited:
            self._tally.throttled_once()
        self._tell_circuit(probe, error)
        if error is None:
            audit("success", response, None, duration_ms)
            assert response is not None
            return response
        final = not (call.retryable(error) and call.attempt < self._retry.attempts and call.remaining() > 0)
        if final and call.attempt > 1:
            error.args = (f"{error.args[0]} after {call.attempt} attempts",)
        timed_out = isinstance(error.__cause__, httpx.TimeoutException) or isinstance(
            error, errors.LimitExceeded
        )
        audit("retry" if not final else "timeout" if timed_out else "fail", response, error, duration_ms)
        raise error

    def _tell_circuit(self, probe: bool, error: errors.ConnectorError | None) -> None:
        """Count a failure that may mean the provider is down (5xx, timeout, connection, auth); any other
        answer, even a 404 or 429, shows it is up."""
        counted = isinstance(error, errors.TransientError | errors.AuthError) and not isinstance(
            error, errors.RateLimited
        )
        if self._renewable_auth and isinstance(error, errors.AuthError) and error.status == 401:
            counted = False  # an expired token: the caller renews it
        if counted:
            self.breaker.record_failure(probe, str(error))
        else:
            self.breaker.record_success(probe)

    def _emit(self, kind: str, data: dict[str, Any]) -> None:
        if self._events is None:
            return
        try:
            self._events(kind, data)
        except Exception:  # events are best-effort, like the audit trail
            log.exception("%s: event sink failed on %s", self.name, kind)
