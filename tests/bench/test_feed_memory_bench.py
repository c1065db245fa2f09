"""bench/feed_memory.py still runs (its figures come from running it, never from a test)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bench.feed_memory import SHAPES, WIDE_PLAN_ZONES, main, write_feed
from sync_core.mapping.fever_events import MAX_ZONES_PER_PLAN, FeedEvent, RejectedPlan, parse_feed


@pytest.mark.parametrize("shape", list(SHAPES))
def test_each_shape_is_a_well_formed_feed_of_about_the_size_asked(tmp_path: Path, shape: str) -> None:
    path = tmp_path / "feed.xml"
    size = write_feed(path, shape, 600_000)
    assert 600_000 <= size < 1_000_000
    stats: Counter[str] = Counter()
    with path.open("rb") as f:
        items = list(parse_feed(f, stats))
    assert stats["plans"] == len(items) > 0
    if shape == "many-zones":
        (over_the_cap,) = items
        assert isinstance(over_the_cap, RejectedPlan) and over_the_cap.reason == "too-many-zones"
    else:
        assert all(isinstance(item, FeedEvent) for item in items)


def test_wide_plans_stay_under_the_zone_cap() -> None:
    assert WIDE_PLAN_ZONES < MAX_ZONES_PER_PLAN


def test_the_script_measures_a_shape_in_a_child_process(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--mb", "0.05", "--shapes", "huge-base-plan", "--parse-only"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("huge-base-plan"))
    fields = row.split()
    assert int(fields[3].replace(",", "")) > 0 and float(fields[-1]) > 0  # events parsed, peak RSS
