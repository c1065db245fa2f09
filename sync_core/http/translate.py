"""Translating what came back from an attempt into sync_core.errors: a non-2xx answer (or a 2xx whose
envelope says it failed), a transport failure, and a transport failure that was really the call's deadline.
Every message names the connection and the call and has the connection's secrets scrubbed from it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from sync_core import errors
from sync_core.http.call import Call
from sync_core.http.redaction import scrub
from sync_core.http.responses import (
    ResponseReader,
    connection_reason,
    error_class,
    exceeded,
    rate_limit_wait,
)


def response_error(
    call: Call,
    response: httpx.Response,
    *,
    provider: str,
    reader: ResponseReader,
    secrets: list[str],
    emit: Callable[[str, dict[str, Any]], None],
) -> errors.ConnectorError | None:
    """None for a success (as ``reader`` sees it), else the error it means; a 429 emits ``rate_limited``
    and carries the wait its X-RateLimit-Reset or Retry-After asks for."""
    status, reason = reader(response)
    if response.is_success and 200 <= status < 300:
        return None
    http = response.status_code
    seen = f"HTTP {http}" if status == http else f"HTTP {http}, status {status} in body"
    message = f"{provider}: {call.method} {call.path} failed ({seen})"
    if reason:
        message += ": " + scrub(" ".join(reason.split())[:160], secrets)
    cls = error_class(status)
    kwargs: dict[str, Any] = {
        "provider": provider,
        "status": status,
        "correlation_id": call.correlation_id,
    }
    if cls is errors.RateLimited:
        retry_after = rate_limit_wait(response.headers)
        emit("rate_limited", {"provider": provider, "retry_after": retry_after})
        error: errors.ConnectorError = errors.RateLimited(message, retry_after=retry_after, **kwargs)
    else:
        error = cls(message, **kwargs)
    # The cause keeps the response reachable for a connector that reads the provider's own error code.
    error.__cause__ = httpx.HTTPStatusError(message, request=response.request, response=response)
    return error


def transport_error(
    call: Call, request: httpx.Request, exc: httpx.TransportError, *, provider: str, secrets: list[str]
) -> errors.ConnectorError:
    """The TransientError a transport failure (cannot connect, timed out, connection broke) means."""
    url = request.url
    origin = f"{url.scheme}://{url.host}" + (f":{url.port}" if url.port else "")
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        message = f"{provider}: cannot reach {origin} ({connection_reason(exc)})"
    elif isinstance(exc, httpx.TimeoutException):
        message = (
            f"{provider}: {call.method} {call.path} timed out after "
            f"{request.extensions['timeout']['read']:g}s ({type(exc).__name__})"
        )
    else:
        message = f"{provider}: {call.method} {call.path} failed: connection error ({connection_reason(exc)})"
    error = errors.TransientError(
        scrub(message, secrets), provider=provider, correlation_id=call.correlation_id
    )
    error.__cause__ = exc
    return error


def deadline_error(call: Call, error: errors.ConnectorError, *, provider: str) -> errors.LimitExceeded:
    """The LimitExceeded of a call whose deadline, not the provider, ended it with ``error``."""
    what = f"{provider}: {call.method} {call.path} did not finish within "
    return exceeded(
        f"{what}{call.bounds.deadline_s:g} s ({error})",
        call.bounds.deadline_setting,
        provider=provider,
        correlation_id=call.correlation_id,
    )
