"""The pure pieces of a run report: endpoint paths, percentiles, grouping and the markdown."""

from __future__ import annotations

from typing import Any

import pytest

from sync_core.reports import (
    RequestRow,
    connection_bases,
    normalise_path,
    percentile,
    render_run_report,
    request_figures,
    slowest_endpoints,
)
from sync_core.settings import Settings

SAZITO = "https://shop.example.com/api/v1"


@pytest.mark.parametrize(
    ("url", "base", "path"),
    [
        (f"{SAZITO}/accounting/update-price/12345", SAZITO, "/accounting/update-price/{id}"),
        (f"{SAZITO}/products?page_number=3&page_size=50", SAZITO, "/products"),
        (f"{SAZITO}/products?page_number=3", None, "/api/v1/products"),
        (
            f"{SAZITO}/products/9f1c2d3e-4b5a-6789-abcd-ef0123456789/variants",
            SAZITO,
            "/products/{id}/variants",
        ),
        (f"{SAZITO}/products/9f1c2d3e4b5a6789abcdef0123456789", SAZITO, "/products/{id}"),
        (
            "https://api.anar360.com/api/360/products/64b7f0c2a1b2c3d4e5f60718",
            "https://api.anar360.com/api/360/",
            "/products/{id}",
        ),
        (
            "https://api.anar360.com/api/360/auth/validate",
            "https://api.anar360.com/api/360",
            "/auth/validate",
        ),
        ("https://api.anar360.com/api/360", "https://api.anar360.com/api/360", "/"),
        # A path that merely starts like the base is not under it.
        ("https://shop.example.com/api/v10/products", SAZITO, "/api/v10/products"),
        # Words that happen to be hex stay: only whole numeric, UUID or 24-hex segments are ids.
        (f"{SAZITO}/feed/v2/cafe", SAZITO, "/feed/v2/cafe"),
    ],
)
def test_normalise_path(url: str, base: str | None, path: str) -> None:
    assert normalise_path(url, base) == path


def test_percentile_is_nearest_rank() -> None:
    values = list(range(10, 201, 10))  # 10, 20, ... 200
    assert percentile(values, 95) == 190  # rank ceil(0.95 × 20) = 19
    assert percentile(values, 50) == 100
    assert percentile(values, 100) == 200
    assert percentile(reversed(values), 95) == 190
    assert percentile([5, 7, 100], 95) == 100
    assert percentile([5, 7, 100], 50) == 7
    assert percentile([42], 50) == percentile([42], 95) == 42
    assert percentile([], 95) is None
    with pytest.raises(ValueError):
        percentile([1], 0)


def rows() -> list[RequestRow]:
    puts = [
        RequestRow("sazito", "PUT", f"{SAZITO}/accounting/update-price/{i}", 10 * i, "success")
        for i in range(1, 21)
    ]
    bulk = [RequestRow("sazito", "PUT", f"{SAZITO}/accounting/bulk-update-price", 400, "retry")]
    pages = [
        RequestRow("anar360", "GET", f"https://a.test/api/360/products?page={i}", d, outcome)
        for i, (d, outcome) in enumerate([(5, "success"), (7, "timeout"), (100, "success")])
    ]
    return puts + bulk + pages


def test_slowest_endpoints_group_by_normalised_path_and_sort_by_p95() -> None:
    bases = {"sazito": SAZITO, "anar360": "https://a.test/api/360"}
    endpoints = slowest_endpoints(rows(), bases)
    assert endpoints == [
        {"provider": "sazito", "method": "PUT", "path": "/accounting/bulk-update-price", "count": 1}
        | {"p50_ms": 400, "p95_ms": 400, "max_ms": 400},
        {"provider": "sazito", "method": "PUT", "path": "/accounting/update-price/{id}", "count": 20}
        | {"p50_ms": 100, "p95_ms": 190, "max_ms": 200},
        {"provider": "anar360", "method": "GET", "path": "/products", "count": 3}
        | {"p50_ms": 7, "p95_ms": 100, "max_ms": 100},
    ]
    assert [e["path"] for e in slowest_endpoints(rows(), bases, top=1)] == ["/accounting/bulk-update-price"]


def test_request_figures() -> None:
    figures = request_figures(rows())
    assert (figures["requests"], figures["errors"], figures["retries"]) == (24, 2, 1)
    # 5, 7, 10, 20 ... 100, 100, ... 200, 400: ranks ceil(12) and ceil(22.8)
    assert (figures["p50_ms"], figures["p95_ms"], figures["max_ms"]) == (100, 200, 400)
    assert figures["outcomes"] == [
        {"provider": "anar360", "outcome": "success", "count": 2},
        {"provider": "anar360", "outcome": "timeout", "count": 1},
        {"provider": "sazito", "outcome": "retry", "count": 1},
        {"provider": "sazito", "outcome": "success", "count": 20},
    ]
    empty = request_figures([])
    assert (empty["requests"], empty["p95_ms"], empty["max_ms"], empty["endpoints"]) == (0, None, None, [])


def report(**overrides: Any) -> dict[str, Any]:
    base = {
        "run_id": 7,
        "pipeline": "anar360-sazito",
        "scope": "full",
        "status": "partial",
        "dry_run": False,
        "duration_s": 12.5,
        "failures": [{"context": "map", "reason": "bad|price", "status": "pending", "count": 3}],
        "failures_total": 3,
        **request_figures(rows(), {"sazito": SAZITO}),
    }
    return base | overrides


def test_render_run_report_has_headings_figures_and_tables() -> None:
    text = render_run_report(report())
    lines = text.splitlines()
    assert lines[0] == "# Run 7: anar360-sazito full — partial"
    assert "- p95 request duration: 200 ms" in lines
    assert "- p50 request duration: 100 ms" in lines
    assert "- requests: 24 (2 not successful, 1 retried)" in lines
    for heading in ("## Slowest endpoints", "## Requests by outcome", "## Failures by reason"):
        assert heading in lines
    assert "| provider | method | path | count | p50 ms | p95 ms | max ms |" in lines
    assert "| sazito | PUT | `/accounting/update-price/{id}` | 20 | 100 | 190 | 200 |" in lines
    assert "| anar360 | timeout | 1 |" in lines[lines.index("## Requests by outcome") :][3:]
    assert "| map | bad\\|price | pending | 3 |" in lines  # a pipe in a value does not break the table


def test_render_run_report_without_requests_or_failures() -> None:
    text = render_run_report(report(failures=[], failures_total=0, dry_run=True, **request_figures([])))
    assert text.splitlines()[0].endswith("(dry run)")
    assert "- p95 request duration: –" in text.splitlines()
    assert text.count("No requests.") == 2 and "No failures." in text


def test_connection_bases_are_the_configured_connections() -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        sazito_base=SAZITO,
        sazito_key="k3y-sazito",
        anar360_base="https://a.test/api/360",  # no token: not configured, so not shortened
        connections=[{"name": "store-b", "provider": "sazito", "base_url": "https://b.test/api/v1"}],
    )
    assert connection_bases(settings) == {"sazito": SAZITO, "store-b": "https://b.test/api/v1"}
