"""TokenBucket pacing with a fake clock."""

from __future__ import annotations

import threading

import pytest

from sync_core.http.pacing import TokenBucket, shared_bucket, window_limit_shape
from tests.fakes import FakeTime


def test_burst_then_paced() -> None:
    t = FakeTime()
    bucket = TokenBucket(60, burst=2, clock=t.clock, sleep=t.sleep)
    waits = [bucket.acquire() for _ in range(4)]
    assert waits == [0.0, 0.0, 1.0, 1.0]
    assert t.slept == [1.0, 1.0]


def test_refill_is_capped_at_burst() -> None:
    t = FakeTime()
    bucket = TokenBucket(120, burst=3, clock=t.clock, sleep=t.sleep)
    for _ in range(3):
        bucket.acquire()
    t.now += 3600  # an idle hour does not bank an hour of requests
    assert [bucket.acquire() for _ in range(4)] == [0.0, 0.0, 0.0, 0.5]


def test_default_burst_is_one_second_of_budget() -> None:
    assert TokenBucket(240).burst == 4
    assert TokenBucket(30).burst == 1


def test_reservations_queue_up_across_threads() -> None:
    t = FakeTime()  # frozen clock: every reservation after the burst waits one more interval
    bucket = TokenBucket(60, burst=1, clock=t.clock, sleep=t.sleep)
    waits: list[float] = []
    lock = threading.Lock()

    def take() -> None:
        wait = bucket.reserve()
        with lock:
            waits.append(wait)

    threads = [threading.Thread(target=take) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(waits) == [float(i) for i in range(20)]


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError):
        TokenBucket(0)
    with pytest.raises(ValueError):
        TokenBucket(60, burst=0)


def test_shared_bucket_is_per_provider_and_rate() -> None:
    assert shared_bucket("p-test", 60) is shared_bucket("p-test", 60)
    assert shared_bucket("p-test", 60) is not shared_bucket("q-test", 60)


@pytest.mark.parametrize("per_min", [1, 2, 11, 12, 60, 100, 600, 90_001])
def test_a_window_shaped_bucket_never_lets_a_minute_hold_more_than_the_budget(per_min: int) -> None:
    """Whatever minute the provider counts, a bucket of the window shape lets at most ``per_min`` through:
    its burst at once, then the rest paced (checked by simulation, for the worst start: a full bucket)."""
    burst, paced = window_limit_shape(per_min)
    assert burst >= 1 and paced > 0
    assert burst + paced <= per_min or per_min == 1
    clock = [0.0]
    bucket = TokenBucket(paced, burst, clock=lambda: clock[0])
    sent = []
    while clock[0] < 60.0:
        wait = bucket.reserve()
        clock[0] += wait
        if clock[0] < 60.0:
            sent.append(clock[0])
    assert len(sent) <= max(per_min, 1)
