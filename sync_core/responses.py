"""Reading a provider's answer: which error class a status means, Retry-After, a short reason."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from sync_core import errors

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
