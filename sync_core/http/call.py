"""One call's bookkeeping while HttpClient attempts it: what to send, its correlation id (one per call, or one
per attempt when the client sends it in a header), the lane that paces it, the bounds and deadline it must
finish within, the attempt count, and whether a failure may be retried."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import urlencode

import httpx

from sync_core import errors, json_codec
from sync_core.http.responses import ReadBounds

JSON_TYPE = "application/json"
FORM_TYPE = "application/x-www-form-urlencoded"


@dataclass(slots=True)
class Call:
    method: str
    path: str
    params: dict[str, Any] | None
    json: Any
    context: str | None
    resend_ok: bool
    correlation_id: str
    bounds: ReadBounds
    attempt: int = 0
    sink: IO[bytes] | None = None  # a download: the 2xx body goes here, streamed, not into memory
    deadline: float = 0.0  # time.monotonic() by which the call must be done
    headers: Mapping[str, str] | None = None  # this call's own, over the client's
    form: Mapping[str, str] | None = None  # a form body (when ``json`` is None)
    lane: str | None = None  # the lane that paces it (None: the connection's)
    rate_limited: bool = False  # the last attempt was answered 429

    def build(
        self, client: httpx.Client, timeout: float, *, correlation_header: str | None = None
    ) -> httpx.Request:
        """The request of an attempt: a JSON body encoded by orjson, or a form; the call's headers, and its
        correlation id in ``correlation_header`` when given."""
        headers: dict[str, str] = {}
        body: bytes | None = None
        if self.json is not None:
            body, headers["Content-Type"] = json_codec.dumps(self.json), JSON_TYPE
        elif self.form is not None:
            body, headers["Content-Type"] = urlencode(self.form).encode(), FORM_TYPE
        headers.update(self.headers or {})
        if correlation_header:
            headers[correlation_header] = self.correlation_id
        # The whole address parsed once (httpx would parse the path, join it to the base and parse again).
        base = str(client.base_url)
        base = base if base.endswith("/") else f"{base}/"  # httpx keeps the slash out of a bare host's text
        address = self.path if "://" in self.path else f"{base}{self.path.lstrip('/')}"
        # params=None would drop a query written into the path (a provider's next-page link).
        url = httpx.URL(address, params=self.params) if self.params is not None else httpx.URL(address)
        return client.build_request(self.method, url, content=body, headers=headers or None, timeout=timeout)

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def retryable(self, exc: BaseException) -> bool:
        # A request that never reached the server (connect failure, 429) can be resent even if not idempotent.
        unsent = isinstance(exc, errors.RateLimited) or isinstance(
            exc.__cause__, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout
        )
        return isinstance(exc, errors.TransientError) and (self.resend_ok or unsent)
