"""The Prefect retry rule: only transient errors are retried by the task layer."""

from __future__ import annotations

from typing import Any

import pytest

from sync_core.errors import AuthError, MappingError, RateLimited, TransientError
from tasks.policy import transient_only


class FailedState:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def result(self, raise_on_failure: bool = True) -> Any:
        return self.exc


@pytest.mark.parametrize(
    ("exc", "retried"),
    [
        (TransientError("5xx"), True),
        (RateLimited("429", retry_after=1.0), True),
        (AuthError("403"), False),
        (MappingError("bad"), False),
        (ValueError("bug"), False),
    ],
)
def test_only_transient_errors_are_retried(exc: BaseException, retried: bool) -> None:
    assert transient_only(None, None, FailedState(exc)) is retried
