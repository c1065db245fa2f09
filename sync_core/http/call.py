"""One call's bookkeeping while HttpClient attempts it: what to send, its correlation id, the bounds and
deadline it must finish within, the attempt count, and whether a failure may be retried."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import IO, Any

import httpx

from sync_core import errors, json_codec
from sync_core.http.responses import ReadBounds

JSON_HEADERS = {"Content-Type": "application/json"}


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

    def build(self, client: httpx.Client, timeout: float) -> httpx.Request:
        """The request of an attempt; a JSON body encoded by orjson."""
        body = None if self.json is None else json_codec.dumps(self.json)
        headers = JSON_HEADERS if body is not None else None
        # The whole address parsed once (httpx would parse the path, join it to the base and parse again).
        base = str(client.base_url)
        base = base if base.endswith("/") else f"{base}/"  # httpx keeps the slash out of a bare host's text
        address = self.path if "://" in self.path else f"{base}{self.path.lstrip('/')}"
        url = httpx.URL(address, params=self.params)
        return client.build_request(self.method, url, content=body, headers=headers, timeout=timeout)

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def retryable(self, exc: BaseException) -> bool:
        # A request that never reached the server (connect failure, 429) can be resent even if not idempotent.
        unsent = isinstance(exc, errors.RateLimited) or isinstance(
            exc.__cause__, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout
        )
        return isinstance(exc, errors.TransientError) and (self.resend_ok or unsent)
