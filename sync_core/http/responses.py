"""Reading a provider's answer: within its bounds (time, size), which error class a status means,
how long a 429 asks to wait (X-RateLimit-Reset, Retry-After), a short reason."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import IO, Any

import httpx

from sync_core import errors, json_codec

MAX_ANSWER_BYTES = 64 * 1024 * 1024  # an API answer held in memory; downloads set their own bound


@dataclass(frozen=True, slots=True)
class ReadBounds:
    """How long one call may take in all (attempts, waits, body) and how large its answer may be; the
    setting names go into the error, so it says what to raise."""

    deadline_s: float
    max_bytes: int = MAX_ANSWER_BYTES
    deadline_setting: str = "HTTP_DEADLINE_S"
    size_setting: str | None = None


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MiB" if n >= 1024 * 1024 else f"{n} bytes"


def exceeded(
    message: str, setting: str | None, *, provider: str, correlation_id: str
) -> errors.LimitExceeded:
    """The error of a read stopped at a bound; ``message`` says which, ``setting`` how to raise it."""
    bound = f"; {setting} sets that bound" if setting else ""
    return errors.LimitExceeded(
        f"{message}: stopped{bound}", provider=provider, correlation_id=correlation_id
    )


def read_answer(
    response: httpx.Response,
    bounds: ReadBounds,
    *,
    deadline: float,
    sink: IO[bytes] | None,
    provider: str,
    what: str,
    correlation_id: str,
) -> httpx.Response:
    """Read a streamed answer by ``deadline`` (``time.monotonic()``) and within ``bounds.max_bytes``: into
    ``sink`` (rewritten from its start; the closed response comes back) or into memory (a response holding
    the body comes back). ``what`` names the call in the LimitExceeded it raises."""

    def stop(message: str, setting: str | None) -> errors.LimitExceeded:
        return exceeded(message, setting, provider=provider, correlation_id=correlation_id)

    received = 0
    try:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > bounds.max_bytes:
            message = f"{what} announced {_size(int(declared))}, more than {_size(bounds.max_bytes)}"
            raise stop(message, bounds.size_setting)
        if sink is not None:
            sink.seek(0)
            sink.truncate()
        chunks: list[bytes] = []
        for chunk in response.iter_bytes():
            received += len(chunk)
            if received > bounds.max_bytes:
                message = f"{what} answered more than {_size(bounds.max_bytes)}"
                raise stop(message, bounds.size_setting)
            if time.monotonic() > deadline:
                message = f"{what} did not finish within {bounds.deadline_s:g} s ({_size(received)} received)"
                raise stop(message, bounds.deadline_setting)
            if sink is not None:
                sink.write(chunk)
            else:
                chunks.append(chunk)
    finally:
        response.close()
    if sink is None:
        return _with_body(response, b"".join(chunks))
    sink.flush()
    sink.seek(0)
    return response


class Answer(httpx.Response):
    """A response read into memory whose JSON is decoded once (orjson), however many readers ask for it."""

    _decoded: Any = None
    _is_decoded = False

    def json(self, **kwargs: Any) -> Any:
        if kwargs:
            return super().json(**kwargs)
        if not self._is_decoded:
            self._decoded, self._is_decoded = json_codec.loads(self.content), True
        return self._decoded


def _with_body(response: httpx.Response, body: bytes) -> httpx.Response:
    """A closed streamed response with the body it had, decoded (so without its Content-Encoding)."""
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() != "content-encoding"]
    return Answer(
        response.status_code,
        headers=headers,
        content=body,
        request=response.request,
        extensions=response.extensions,
    )


# (effective status, short reason) for a response; lets a provider flag a failure inside a 2xx envelope.
ResponseReader = Callable[[httpx.Response], tuple[int, str | None]]


def body_detail(response: httpx.Response) -> str | None:
    """The provider's short error text (``error`` / ``message`` / ``detail`` of a JSON body), if any."""
    try:
        data = response.json()
    except ValueError:
        return None
    for key in ("error", "message", "detail") if isinstance(data, dict) else ():
        value = data.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
            return str(value)
    return None


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or HTTP-date); None if absent or garbage."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
        return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
    return seconds if 0 <= seconds < float("inf") else None


EPOCH_FLOOR = 1_000_000_000  # an X-RateLimit-Reset at least this large is an epoch second (2001 on)


def parse_rate_limit_reset(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from an X-RateLimit-Reset header: an epoch second (when the window ends: the wait is
    that minus ``now``, ``time.time()`` by default, and never below 0), or, for a smaller number, a delay
    in seconds as some providers send it; None if absent or garbage."""
    value = (value or "").strip()
    try:
        reset = float(value)
    except ValueError:
        return None
    if not 0 <= reset < float("inf"):
        return None
    if reset < EPOCH_FLOOR:
        return reset
    return max(0.0, reset - (time.time() if now is None else now))


def rate_limit_wait(headers: httpx.Headers, *, now: float | None = None) -> float | None:
    """How long a 429 asks to wait: X-RateLimit-Reset when it has one (the end of the window, exact), else
    Retry-After; None when neither says."""
    reset = parse_rate_limit_reset(headers.get("X-RateLimit-Reset"), now=now)
    return reset if reset is not None else parse_retry_after(headers.get("Retry-After"))


def error_class(status: int) -> type[errors.ConnectorError]:
    """The error-tree class for a failed HTTP (or in-body) status."""
    if status == 429:
        return errors.RateLimited
    if status >= 500 or status == 408:
        return errors.TransientError
    table: dict[int, type[errors.ConnectorError]] = {
        401: errors.AuthError,
        403: errors.AuthError,
        404: errors.NotFound,
        400: errors.InvalidRequest,
        409: errors.InvalidRequest,
        422: errors.InvalidRequest,
    }
    return table.get(status, errors.PermanentError)


def default_reader(response: httpx.Response) -> tuple[int, str | None]:
    """Judge by HTTP status alone; the reason is the body's error/message field, if any."""
    return response.status_code, None if response.is_success else body_detail(response)


def connection_reason(exc: BaseException) -> str:
    """A short, secret-free reason for a transport error (refused, unresolved host ...)."""
    text = " ".join(str(exc).split())
    low = text.lower()
    if "refused" in low:
        return "connection refused"
    if any(s in low for s in ("name or service", "nodename", "name resolution", "getaddrinfo", "no address")):
        return "host name not resolved"
    if text.startswith("[Errno") and "]" in text:
        text = text.split("]", 1)[1].strip()
    return text[:120] or type(exc).__name__
