"""The retry policy of HttpClient's calls (tenacity): only what ``Call.retryable`` allows is retried; the
waits grow from ``http_retry_backoff_ms`` with full jitter, or follow what a 429 asks for (a little more, so
clients told the same wait do not all come back at once); none exceeds ``http_retry_max_wait_s`` or the
call's remaining time; attempts stop at ``http_retries + 1`` or at the call's deadline."""

from __future__ import annotations

import random
from collections.abc import Callable

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
from sync_core.http.pacing import WaitTally
from sync_core.settings import Settings


class RetryPolicy:
    """Runs a call's attempts; a wait after a 429 is counted in ``tally`` as time spent on the rate limit."""

    def __init__(self, settings: Settings, *, sleep: Callable[[float], None], tally: WaitTally) -> None:
        self.attempts = settings.http_retries + 1
        self._cap = settings.http_retry_max_wait_s
        self._sleep, self._tally = sleep, tally
        self._backoff = wait_random_exponential(
            multiplier=settings.http_retry_backoff_ms / 1000, max=settings.http_retry_max_wait_s
        )

    def run(self, call: Call, attempt: Callable[[Call], httpx.Response]) -> httpx.Response:
        """``attempt(call)`` until it succeeds, fails for good, runs out of attempts or of time."""
        retrying = Retrying(
            stop=stop_any(stop_after_attempt(self.attempts), stop_after_delay(call.bounds.deadline_s)),
            wait=self._wait,
            sleep=lambda seconds: self._pause(call, seconds),
            retry=retry_if_exception(call.retryable),
            reraise=True,
        )
        response: httpx.Response = retrying(attempt, call)
        return response

    def _pause(self, call: Call, seconds: float) -> None:
        if call.rate_limited:
            self._tally.waited(seconds)
        self._sleep(seconds)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        remaining = max(0.0, state.args[0].remaining()) if state.args else self._cap
        if isinstance(exc, errors.RateLimited) and exc.retry_after is not None:
            jitter = random.uniform(0, min(1.0, exc.retry_after * 0.1))
            return min(self._cap, remaining, exc.retry_after + jitter)
        return min(remaining, float(self._backoff(state)))
