"""One error tree for the whole engine.

    SyncError
     ├── ConfigError            bad or missing settings; the user must fix something
     ├── ConnectorError         a provider call went wrong (provider, status, correlation id)
     │    ├── TransientError    worth retrying: 5xx, timeouts, connection errors
     │    │    └── RateLimited  429, with the Retry-After delay when the server gave one
     │    ├── CircuitOpenError  the address's circuit is open; no call was made
     │    └── PermanentError    retrying will not help
     │         ├── AuthError    401 / 403: bad or expired credentials
     │         ├── NotFound     404
     │         ├── InvalidRequest  400 / 409 / 422: the provider refused what we sent
     │         └── LimitExceeded   a read went past a bound we set: deadline, size, pages, a repeated page
     ├── MappingError           one record cannot be mapped; it is quarantined, the batch goes on
     ├── PersistenceError       the state store cannot be reached or written
     └── PipelineBusy           another run of the pipeline holds its lease; nothing was done

Only TransientError is retried, by tenacity per request and by Prefect per task.
"""

from __future__ import annotations


class SyncError(Exception):
    """Base of every error the engine raises on purpose."""


class ConfigError(SyncError):
    """A setting is missing or wrong; the message says which and how to fix it."""


class ConnectorError(SyncError):
    """A call to a provider failed."""

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        status: int | None = None,
        correlation_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.status = status
        self.correlation_id = correlation_id


class TransientError(ConnectorError):
    """A failure that may pass: 5xx, timeout, connection error."""


class RateLimited(TransientError):
    """HTTP 429; ``retry_after`` is the server's requested delay in seconds, if any."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class CircuitOpenError(ConnectorError):
    """The provider's circuit breaker is open: the call was not made."""


class PermanentError(ConnectorError):
    """A failure that retrying will not fix."""


class RejectedByStore(PermanentError):
    """The target answered the call but reported this item as not updated (a per-item refusal)."""


class AuthError(PermanentError):
    """Credentials were refused (401 / 403)."""


class NotFound(PermanentError):
    """The addressed item does not exist (404)."""


class InvalidRequest(PermanentError):
    """The provider rejected the request's content (400 / 409 / 422)."""


class LimitExceeded(PermanentError):
    """A provider read went past a bound the engine sets (total time, size, page count, a repeated page):
    retrying would only repeat it, so the run stops and says which bound."""


class MappingError(SyncError):
    """A record could not be mapped; ``key`` names it, ``reason`` is a short slug."""

    def __init__(self, message: str, *, key: str | None = None, reason: str = "invalid-record") -> None:
        super().__init__(message)
        self.key = key
        self.reason = reason


class PersistenceError(SyncError):
    """The state store failed."""


class PipelineBusy(SyncError):
    """Another run of the same pipeline holds its lease (one run at a time); this run did nothing."""


def is_transient(exc: BaseException) -> bool:
    """True when ``exc`` is worth retrying (the one retry rule for both retry layers)."""
    return isinstance(exc, TransientError)
