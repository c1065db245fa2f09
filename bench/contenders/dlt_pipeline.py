"""The same sync as an idiomatic dlt pipeline: rest_api source → transformer → custom Sazito destination.

Run: `python -m bench.contenders.dlt_pipeline` with ANAR360_BASE, ANAR360_TOKEN, SAZITO_BASE and SAZITO_KEY set.
HTTP retries are dlt's defaults (its requests session: 5 attempts on 429/5xx/connection errors, exponential
backoff); a failed batch is retried by dlt's loader from the last committed batch. Exit 1 when the run fails.
"""

from __future__ import annotations

import os

# dlt reads these when it is imported: quiet logs, no telemetry.
os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")
os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"

import json  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from typing import Any  # noqa: E402

import dlt  # noqa: E402
from dlt.common.destination.exceptions import DestinationTerminalException  # noqa: E402
from dlt.common.schema import TTableSchema  # noqa: E402
from dlt.common.typing import TDataItems  # noqa: E402
from dlt.pipeline.exceptions import PipelineStepFailed  # noqa: E402
from dlt.sources.helpers.requests import Response  # noqa: E402
from dlt.sources.helpers.rest_client import RESTClient  # noqa: E402
from dlt.sources.helpers.rest_client.auth import BearerTokenAuth  # noqa: E402
from dlt.sources.helpers.rest_client.paginators import PageNumberPaginator  # noqa: E402
from dlt.sources.rest_api import RESTAPIConfig, rest_api_source  # noqa: E402

from bench.contenders import rules  # noqa: E402

PAGE_SIZE = 100
BATCH = 50  # Sazito's bulk cap
TABLE = "sazito_variants"
PER_VARIANT_REFUSALS = {404, 409, 422}  # sazito.md: permanent for that variant (409: value already set)


class Counters:
    """What the run read and sent; the destination runs on dlt's loader threads, hence the lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.variants_seen = self.bad = self.linked = self.writes_sent = self.refused = 0

    def add(self, **deltas: int) -> None:
        """Add to the named counters."""
        with self.lock:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)


COUNTERS = Counters()


def log(message: str) -> None:
    """A progress line on stderr (stdout carries only the final JSON line)."""
    print(f"[dlt] {message}", file=sys.stderr, flush=True)


class EnvelopeFailed(RuntimeError):
    """Sazito answered HTTP 2xx with a failed envelope (status != 200 or error_code != 0)."""


def envelope_error(body: Any) -> str | None:
    """The reason of a failed Sazito envelope, None when it did not fail (a bare answer never fails)."""
    if isinstance(body, dict) and (body.get("status", 200) != 200 or body.get("error_code", 0) != 0):
        return str(body.get("error") or body.get("message") or "unknown error")
    return None


def check_envelope(response: Response, *args: Any, **kwargs: Any) -> None:
    """requests response hook for the catalogue read: raise on an HTTP error or a failed envelope."""
    response.raise_for_status()
    if (reason := envelope_error(response.json())) is not None:
        raise EnvelopeFailed(f"Sazito GET {response.url}: {reason}")


def sazito_client() -> RESTClient:
    """A dlt RESTClient on the Sazito API (dlt's default retrying session)."""
    return RESTClient(base_url=os.environ["SAZITO_BASE"], headers={"X-API-KEY": os.environ["SAZITO_KEY"]})


def read_store_links() -> dict[str, list[int]]:
    """sku → Sazito variant ids, paging the public catalogue (0-based) until an empty page."""
    paginator = PageNumberPaginator(
        base_page=0, page_param="page_number", total_path=None, stop_after_empty_page=True
    )
    pages = sazito_client().paginate(
        "products",
        params={"page_size": PAGE_SIZE},
        paginator=paginator,
        data_selector="result.products",
        hooks={"response": [check_envelope]},
    )
    return rules.sku_map(product for page in pages for product in page)


def validate_anar360() -> None:
    """GET /auth/validate before anything else; raises HTTPError (after dlt's retries) on failure."""
    client = RESTClient(
        base_url=os.environ["ANAR360_BASE"], auth=BearerTokenAuth(os.environ["ANAR360_TOKEN"])
    )
    client.get("auth/validate").raise_for_status()


def anar360_source() -> Any:
    """A rest_api source with one resource: every Anar360 product, pages 1.. of 100 until an empty page."""
    config: RESTAPIConfig = {
        "client": {
            "base_url": os.environ["ANAR360_BASE"],
            "auth": {"type": "bearer", "token": os.environ["ANAR360_TOKEN"]},
        },
        "resources": [
            {
                "name": "anar360_products",
                "endpoint": {
                    "path": "products",
                    "params": {"limit": PAGE_SIZE},
                    "data_selector": "items",
                    "paginator": {
                        "type": "page_number",
                        "base_page": 1,
                        "page_param": "page",
                        "total_path": None,
                        "stop_after_empty_page": True,
                    },
                },
            }
        ],
    }
    return rest_api_source(config)


@dlt.transformer(name=TABLE)
def sazito_targets(products: TDataItems, links: dict[str, list[int]]) -> Iterator[TDataItems]:
    """One row per linked Sazito variant with its target values (rules.py); bad variants are skipped."""
    for product in products if isinstance(products, list) else [products]:
        rows, seen, bad = rules.product_rows(product, links)
        COUNTERS.add(variants_seen=seen, bad=bad, linked=len(rows))
        if rows:
            yield rows


def put(client: RESTClient, path: str, body: dict[str, Any], variant_id: int | None = None) -> Any:
    """One write through dlt's retrying session; None when the store refused that one variant (404/409/422).

    Other 4xx and failed envelopes are terminal for the load job; a 5xx or 429 left after dlt's retries is
    raised as a plain HTTPError, which dlt's loader treats as transient and retries the job.
    """
    COUNTERS.add(writes_sent=1)
    response = client.request(path, method="PUT", json=body)
    status = response.status_code
    if variant_id is not None and status in PER_VARIANT_REFUSALS:
        COUNTERS.add(refused=1)
        log(f"store refused variant {variant_id}: HTTP {status}")
        return None
    if 400 <= status < 500 and status != 429:
        raise DestinationTerminalException(f"Sazito PUT {path}: HTTP {status} {response.text[:200]}")
    response.raise_for_status()
    answer = response.json()
    if (reason := envelope_error(answer)) is not None:
        raise DestinationTerminalException(f"Sazito PUT {path}: {reason}")
    return answer


def bulk_failed(answer: Any) -> list[int]:
    """failed_variant_ids of a bulk answer in any of its three shapes (wrapped, flat, bare)."""
    if isinstance(answer, dict) and isinstance(answer.get("result"), dict):
        answer = answer["result"]
    return list(answer.get("failed_variant_ids") or []) if isinstance(answer, dict) else []


@dlt.destination(batch_size=BATCH, name="sazito")
def sazito_destination(items: TDataItems, table: TTableSchema) -> None:
    """Write one batch (≤ 50 rows): bulk price for all, bulk stock for managed, update-stock for unmanaged."""
    client = sazito_client()
    prices = [
        {"id": r["variant_id"], "price": r["price"], "discount_price": r.get("discount_price")} for r in items
    ]
    stocks = [{"id": r["variant_id"], "stock": r["stock_number"]} for r in items if r["stock_managed"]]
    failed = bulk_failed(put(client, "accounting/bulk-update-price", {"variants": prices}))
    if stocks:
        failed += bulk_failed(put(client, "accounting/bulk-update-stock", {"variants": stocks}))
    for row in items:
        if not row["stock_managed"]:
            body = {"is_stock_manager": False, "stock_number": None, "is_relative": False}
            put(client, f"accounting/update-stock/{row['variant_id']}", body, variant_id=row["variant_id"])
    if failed:
        COUNTERS.add(refused=len(failed))
        log(f"store refused variants {failed[:10]}{' ...' if len(failed) > 10 else ''}")


def run() -> None:
    """Validate, read the store links, then run the pipeline in a throwaway pipelines dir."""
    validate_anar360()
    links = read_store_links()
    log(f"{len(links)} skus in the store")
    products = anar360_source().resources["anar360_products"]
    with tempfile.TemporaryDirectory(prefix="dlt-contender-") as pipelines_dir:
        pipeline = dlt.pipeline(
            pipeline_name="sazito_sync",
            destination=sazito_destination,
            pipelines_dir=pipelines_dir,
            dev_mode=True,
        )
        info = pipeline.run(products | sazito_targets(links))
        log(f"load packages: {len(info.loads_ids)}, has failed jobs: {info.has_failed_jobs}")


def main() -> int:
    """Run the pipeline; 0 when done, 1 when it failed. Prints the JSON summary line either way."""
    started = time.monotonic()
    code = 0
    try:
        run()
    except PipelineStepFailed as exc:
        cause = exc.__cause__ or exc
        log(f"aborted in step {exc.step}: {type(cause).__name__}: {str(cause).splitlines()[0]}")
        code = 1
    except Exception as exc:  # the catalogue read or validate failed before the pipeline ran
        log(f"aborted: {type(exc).__name__}: {exc}")
        code = 1
    c = COUNTERS
    log(
        f"{c.linked} linked, {c.bad} bad variants skipped, {c.refused} writes refused, "
        f"{time.monotonic() - started:.2f}s"
    )
    print(json.dumps({"variants_seen": c.variants_seen, "writes_sent": c.writes_sent}), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
