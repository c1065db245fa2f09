"""The audit trail of HTTP attempts: RequestRecord (one attempt, no secrets in any field), the AuditSink
protocol that receives them, and ``auditor``, which builds one call's records and hands them to the sink."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import httpx

from sync_core.http.call import Call
from sync_core.http.redaction import redact_body, redact_url, scrub
from sync_core.settings import Settings

log = logging.getLogger(__name__)

# Records one attempt: (outcome, response, error, duration_ms).
Audit = Callable[[str, httpx.Response | None, BaseException | None, int | None], None]


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One HTTP attempt, as written to the audit trail (no secrets in any field)."""

    provider: str  # the connection's name (a default connection's is its provider's)
    method: str
    url: str
    status: int | None
    duration_ms: int
    attempt: int
    outcome: str  # success | fail | retry | circuit_open | timeout
    correlation_id: str
    error: str | None
    context: str | None
    started_at: datetime
    request_body: str | None = None
    response_body: str | None = None


class AuditSink(Protocol):
    """Receives every attempt; must be thread-safe."""

    def record(self, rec: RequestRecord) -> None: ...


def auditor(
    call: Call,
    request: httpx.Request,
    started: datetime,
    *,
    sink: AuditSink | None,
    provider: str,
    settings: Settings,
    secrets: list[str],
) -> Audit:
    """What records an attempt of ``call`` (sending ``request``, started at ``started``) to ``sink``, if any;
    bodies only when the settings ask for them. A failing sink is logged, never raised."""
    url = scrub(redact_url(str(request.url)), secrets)

    def audit(
        outcome: str,
        response: httpx.Response | None,
        error: BaseException | None,
        duration_ms: int | None,
    ) -> None:
        if sink is None:
            return
        limit = settings.audit_body_max_chars if settings.audit_bodies else 0
        rec = RequestRecord(
            provider=provider,
            method=call.method,
            url=url,
            status=response.status_code if response is not None else None,
            duration_ms=duration_ms or 0,
            attempt=call.attempt,
            outcome=outcome,
            correlation_id=call.correlation_id,
            error=str(error)[:500] if error else None,
            started_at=started,
            context=call.context[:128] if call.context else None,  # the audit column is 128 wide
            request_body=redact_body(request.content, secrets, limit) if limit else None,
            response_body=(
                redact_body(response.content, secrets, limit)
                if limit and response is not None and call.sink is None
                else None
            ),
        )
        try:
            sink.record(rec)
        except Exception:  # an audit outage must not turn a good write into a failure
            log.exception("%s: audit sink failed", provider)

    return audit
