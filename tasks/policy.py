"""Prefect retry and cache policies shared by the tasks.

Retry budgets: each HTTP request is retried by tenacity (HTTP_RETRIES, short jittered backoff, Retry-After
for 429); a task that still fails with a TransientError is retried by Prefect twice more, after 2 s and 10 s.
Nothing else is retried: a 401, a bad record or a bug fails at once.

Network tasks carry the tag ``<connection>-requests`` of the connection they call (``tasks.runtime.tags_for``): a
Prefect tag concurrency limit (``prefect concurrency-limit create <connection>-requests 2``) caps how many run
at once across all workers.
"""

from __future__ import annotations

import hashlib
import pickle
from typing import Any

from prefect.context import TaskRunContext

from sync_core.errors import is_transient

TASK_RETRIES = 2
TASK_RETRY_DELAYS = [2.0, 10.0]


def transient_only(task: Any, task_run: Any, state: Any) -> bool:
    """retry_condition_fn: retry a task only when it failed with a TransientError."""
    try:
        exc = state.result(raise_on_failure=False)
    except Exception as error:  # the result itself may be the raised exception
        exc = error
    return isinstance(exc, BaseException) and is_transient(exc)


def batch_cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    """Same flow run + same batch content ⇒ same key: a retried flow run does not resend a batch that landed.

    The flow-run id is part of the key, so a new run never reuses an old result (the store may have changed).
    """
    flow_run_id = str(context.task_run.flow_run_id) if context.task_run else "none"
    digest = hashlib.blake2b(pickle.dumps(sorted(parameters.items()), protocol=5), digest_size=16).hexdigest()
    return f"{context.task.name}-{flow_run_id}-{digest}"


# The one retry policy of every task that talks to a provider: `@task(..., **RETRY_TRANSIENT)`.
RETRY_TRANSIENT: dict[str, Any] = {
    "retries": TASK_RETRIES,
    "retry_delay_seconds": TASK_RETRY_DELAYS,
    "retry_condition_fn": transient_only,
}
