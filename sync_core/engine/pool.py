"""Thread pools for concurrent provider calls that do not hold up an interrupted run."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager


@contextmanager
def thread_pool(workers: int) -> Iterator[ThreadPoolExecutor]:
    """A pool that, when its block ends with an exception (SIGTERM, Ctrl-C, an error), cancels the calls not
    started and does not wait for those in flight: what lands is recorded as it lands, the rest is sent
    again by the next run. A normal end waits for every call, as ``with ThreadPoolExecutor()`` does."""
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
