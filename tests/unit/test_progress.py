"""Progress of a run: the tracker (pages, items, rate, ETA, listeners), the throttle, the Prefect artifact it
moves (at most every 2 s, always at the end) and what the command line shows of it (a bar on a terminal,
plain lines elsewhere)."""

from __future__ import annotations

import io
import logging
import threading
from typing import Any
from uuid import UUID, uuid4

import pytest

import flows.artifacts
from catalog_sync.console import ProgressBar, ProgressLines, showing_progress
from sync_core.engine.progress import PagesTold, Progress, Snapshot, Throttle, describe, listening, throttled


class FakeClock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    encoding = "utf-8"

    def isatty(self) -> bool:
        return True


def test_the_tracker_counts_pages_and_items_and_works_out_rate_and_eta() -> None:
    clock, seen = FakeClock(), []
    progress = Progress("p", listeners=[seen.append], clock=clock)
    clock.now += 10
    snap = progress.advance(10, items=250, expected_pages=40, expected_items=1000)
    assert (snap.pages, snap.expected_pages, snap.items, snap.expected_items) == (10, 40, 250, 1000)
    assert snap.fraction == 0.25 and snap.rate == 1.0 and snap.eta_s == 30.0
    assert describe(snap) == "10/40 pages 25% · 1.0 pages/s · ETA 0:30"
    clock.now += 10
    snap = progress.advance(5)  # a total not reported again stays as it was
    assert (snap.pages, snap.expected_pages, snap.items, snap.expected_items) == (15, 40, 250, 1000)
    clock.now += 1
    done = progress.finish()
    assert done.finished and done.complete and done.fraction == 1.0 and done.eta_s is None
    assert (done.expected_pages, done.expected_items) == (15, 250)  # the listing ended: it had what was done
    assert describe(done) == "15/15 pages 100% · 0.7 pages/s · done in 0:21"
    assert progress.finish(complete=False) == done and progress.advance(3) == done  # only the first counts
    assert [s.pages for s in seen] == [10, 15, 15]


def test_without_a_total_there_is_no_fraction_nor_eta() -> None:
    clock = FakeClock()
    progress = Progress("p", clock=clock)
    assert progress.snapshot().rate is None
    clock.now += 2
    snap = progress.advance(120, items=3000)
    assert snap.fraction is None and snap.eta_s is None and snap.rate == 60.0
    assert describe(snap, " - ") == "120 pages - 60 pages/s"
    clock.now += 3600 + 62
    assert describe(progress.finish(complete=False)) == "120 pages · 0.0 pages/s · stopped after 1:01:04"


def test_process_listeners_see_every_run_and_a_failing_listener_does_not_stop_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[tuple[str, int]] = []

    def broken(snapshot: Snapshot) -> None:
        raise OSError("closed terminal")

    with listening(lambda s: seen.append((s.name, s.pages))), listening(broken):
        Progress("a").advance(2)
        Progress("b", listeners=[broken]).advance(1)
    Progress("c").advance(1)  # no longer listening
    assert seen == [("a", 2), ("b", 1)]
    assert "a progress listener failed" in caplog.text


def test_the_tracker_is_thread_safe_and_its_listeners_see_snapshots_in_order() -> None:
    seen: list[int] = []
    progress = Progress("p", listeners=[lambda s: seen.append(s.pages)])

    def work() -> None:
        for _ in range(500):
            progress.advance(1, items=2)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert progress.snapshot().pages == 2000 and progress.snapshot().items == 4000
    assert seen == list(range(1, 2001))


def test_the_throttle_lets_through_the_first_then_one_every_interval_and_always_the_final() -> None:
    clock = FakeClock()
    throttle = Throttle(2.0, clock)
    answers = []
    for step in (0.0, 0.5, 1.0, 1.99, 2.0, 2.5, 3.9, 4.0):
        clock.now = 100.0 + step
        answers.append(throttle.due())
    assert answers == [True, False, False, False, True, False, False, True]
    clock.now = 104.1
    assert throttle.due(final=True)

    shown: list[int] = []
    listener = throttled(lambda s: shown.append(s.pages), 2.0, clock)
    progress = Progress("p", listeners=[listener], clock=clock)
    for _ in range(5):  # five batches 0.5 s apart: the first, and one 2 s later
        progress.advance(10)
        clock.now += 0.5
    progress.finish()
    assert shown == [10, 50, 50]


def test_the_progress_artifact_moves_at_most_every_2_s_and_ends_at_100(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    artifact = uuid4()
    created: list[dict[str, Any]] = []
    updates: list[tuple[float, float]] = []
    clock = FakeClock(0.0)
    monkeypatch.setattr(
        flows.artifacts, "create_progress_artifact", lambda progress, **kw: created.append(kw) or artifact
    )

    def update(artifact_id: UUID, progress: float) -> None:
        assert artifact_id == artifact
        updates.append((clock.now, progress))

    monkeypatch.setattr(flows.artifacts, "update_progress_artifact", update)
    progress = flows.artifacts.start_progress("anar360-sazito@target=Store B", clock=clock)
    assert created == [
        {
            "key": "anar360-sazito-target-store-b-progress",
            "description": "anar360-sazito@target=Store B: pages done",
        }
    ]
    progress.advance(1)  # no total yet: nothing to show
    for _ in range(12):  # a page every 0.7 s
        clock.now += 0.7
        progress.advance(1, expected_pages=20)
    clock.now += 0.1
    progress.finish()
    assert updates == [
        (0.7, 10.0),  # the first known percentage
        (pytest.approx(2.8), 25.0),
        (pytest.approx(4.9), 40.0),
        (pytest.approx(7.0), 55.0),
        (pytest.approx(8.5), 100.0),  # the end, whenever it comes
    ]
    gaps = [later[0] - earlier[0] for earlier, later in zip(updates, updates[1:], strict=False)][:-1]
    assert all(gap >= 2.0 for gap in gaps)


def test_a_stopped_run_leaves_the_artifact_where_it_got_to(monkeypatch: pytest.MonkeyPatch) -> None:
    updates: list[float] = []
    monkeypatch.setattr(flows.artifacts, "create_progress_artifact", lambda progress, **kw: uuid4())
    monkeypatch.setattr(flows.artifacts, "update_progress_artifact", lambda artifact_id, p: updates.append(p))
    clock = FakeClock()
    progress = flows.artifacts.start_progress("p", clock=clock)
    progress.advance(3, expected_pages=10)
    clock.now += 0.5
    progress.advance(1, expected_pages=10)  # throttled
    progress.finish(complete=False)
    assert updates == [30.0, 40.0]


def snapshot(pages: int, expected: int | None, elapsed: float, **kw: Any) -> Snapshot:
    return Snapshot("anar360-sazito", pages, expected, 0, None, elapsed, **kw)


def test_the_bar_is_rewritten_in_place_keeps_log_lines_above_it_and_finishes_on_its_own_line() -> None:
    term, clock = Terminal(), FakeClock()
    bar = ProgressBar(term, clock=clock)
    bar(snapshot(1200, 2000, 14.1))
    assert term.getvalue() == "\r\x1b[K[############........] 1,200/2,000 pages 60% · 85 pages/s · ETA 0:09"
    bar(snapshot(1300, 2000, 14.2))  # 0.1 s later at most: not redrawn
    assert term.getvalue().count("\r") == 1

    taken_away: list[bool] = []
    bar.print_above(
        lambda record: taken_away.append(term.getvalue().endswith("\r\x1b[K")), logging.makeLogRecord({})
    )
    assert taken_away == [True]  # the bar was taken away before the line went out
    assert term.getvalue().endswith(  # and drawn again after it, as it is now
        "ETA 0:09\r\x1b[K\r\x1b[K[#############.......] 1,300/2,000 pages 65% · 92 pages/s · ETA 0:08"
    )

    clock.now += 1
    bar(snapshot(2000, 2000, 20.0, finished=True, complete=True))
    assert term.getvalue().endswith(
        "\r\x1b[K[####################] 2,000/2,000 pages 100% · 100 pages/s · done in 0:20\n"
    )
    before = term.getvalue()
    bar.print_above(lambda record: None, logging.makeLogRecord({}))
    bar.close()
    assert term.getvalue() == before  # nothing shown any more: nothing to take away


def test_a_bar_of_a_run_that_stops_is_taken_away(monkeypatch: pytest.MonkeyPatch) -> None:
    term, piped = Terminal(), io.StringIO()
    handler = logging.StreamHandler(piped)
    monkeypatch.setattr(logging.getLogger(), "handlers", [handler])
    with showing_progress(err=term, out=piped) as view:
        assert isinstance(view, ProgressBar)
        assert "emit" not in vars(handler)  # stdout is not the terminal: its log lines need no clearing
        Progress("p").advance(3)
    assert term.getvalue().startswith("\r\x1b[K3 pages") and term.getvalue().endswith("\r\x1b[K")


def test_on_a_terminal_log_lines_print_above_the_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    term, out = Terminal(), Terminal()
    handler = logging.StreamHandler(out)
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [handler])
    log = logging.getLogger("tests.progress")
    with showing_progress(err=term, out=out):
        assert "emit" in vars(handler)
        progress = Progress("p", clock=FakeClock())
        progress.advance(1, expected_pages=4)
        log.warning("a line")
        progress.finish()
    assert "emit" not in vars(handler)  # the handler is as it was
    assert out.getvalue() == "a line\n"
    assert (
        term.getvalue().count("[#####...............] 1/4 pages 25%") == 2
    )  # drawn, then again after the line
    assert term.getvalue().endswith("[####################] 1/1 pages 100% · done in 0:00\n")


def test_elsewhere_progress_is_plain_lines_on_stdout_every_2_s_at_most() -> None:
    err, out, clock = io.StringIO(), io.StringIO(), FakeClock()
    lines = ProgressLines(out, clock=clock)
    for pages in (10, 20, 30):
        lines(snapshot(pages, 30, pages / 10))
        clock.now += 1.5
    lines(snapshot(30, 30, 4.5, finished=True, complete=True))
    assert out.getvalue().splitlines() == [
        "progress anar360-sazito: 10/30 pages 33% · 10 pages/s · ETA 0:02",
        "progress anar360-sazito: 30/30 pages 100% · 10 pages/s · ETA 0:00",  # 20 came 1.5 s after 10
        "progress anar360-sazito: 30/30 pages 100% · 6.7 pages/s · done in 0:04",
    ]
    with showing_progress(err=err, out=out) as view:
        assert isinstance(view, ProgressLines)
    assert err.getvalue() == "" and "\r" not in out.getvalue()


def test_a_stream_that_cannot_encode_the_dot_gets_a_dash() -> None:
    stream = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    lines = ProgressLines(stream)
    lines(snapshot(1, 2, 1.0))
    stream.seek(0)
    assert stream.read() == "progress anar360-sazito: 1/2 pages 50% - 1.0 pages/s - ETA 0:01\n"


def test_pages_are_told_as_their_share_of_the_writes_lands_and_never_twice() -> None:
    told: list[int] = []
    pages = PagesTold(10, told.append)
    pages.share(15, 100)  # 1.5 pages' worth
    pages.share(10, 100)  # 2.5
    pages.share(75, 100)  # all
    pages.all()
    assert told == [1, 1, 8] and sum(told) == 10


def test_a_batch_with_nothing_to_write_tells_its_pages_at_the_end() -> None:
    told: list[int] = []
    pages = PagesTold(3, told.append)
    pages.share(0, 0)
    pages.all()
    pages.all()
    assert told == [3]


def test_without_a_listener_nothing_is_told() -> None:
    PagesTold(2, None).all()  # no listener: no error
