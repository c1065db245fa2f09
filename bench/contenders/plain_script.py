"""The original PHP sync, ported as-is: one sequential client, no retries, every linked variant written.

Run: `python -m bench.contenders.plain_script` with ANAR360_BASE, ANAR360_TOKEN, SAZITO_BASE and SAZITO_KEY set.
Any HTTP error status or failed Sazito envelope aborts the run (exit 1), as the original did.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx

from bench.contenders import rules

PAGE_SIZE = 100
TIMEOUT_S = 30.0


class SyncAborted(RuntimeError):
    """An API answered with an error: the original script stopped there."""


def log(message: str) -> None:
    """A progress line on stderr (stdout carries only the final JSON line)."""
    print(f"[plain] {message}", file=sys.stderr, flush=True)


class PlainSync:
    """The whole job over one `httpx.Client`, counting what it reads and writes."""

    def __init__(self, client: httpx.Client, env: dict[str, str]) -> None:
        self.client = client
        self.anar_base, self.sazito_base = env["ANAR360_BASE"].rstrip("/"), env["SAZITO_BASE"].rstrip("/")
        self.anar_headers = {"Authorization": f"Bearer {env['ANAR360_TOKEN']}"}
        self.sazito_headers = {"X-API-KEY": env["SAZITO_KEY"]}
        self.variants_seen = self.writes_sent = self.bad = self.linked = 0

    def anar(self, path: str, **params: Any) -> Any:
        """GET an Anar360 path; raises SyncAborted on any error status."""
        response = self.client.get(self.anar_base + path, params=params, headers=self.anar_headers)
        if response.is_error:
            raise SyncAborted(f"Anar360 GET {path} answered HTTP {response.status_code}")
        return response.json()

    def sazito(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call Sazito; raises SyncAborted on an error status or a failed envelope."""
        response = self.client.request(method, self.sazito_base + path, headers=self.sazito_headers, **kwargs)
        if response.is_error:
            raise SyncAborted(f"Sazito {method} {path} answered HTTP {response.status_code}")
        body = response.json()
        if isinstance(body, dict) and (body.get("status", 200) != 200 or body.get("error_code", 0) != 0):
            raise SyncAborted(f"Sazito {method} {path} failed: {body.get('error') or body.get('message')}")
        return body

    def store_links(self) -> dict[str, list[int]]:
        """Read the whole Sazito catalogue (0-based pages) into sku → variant ids."""
        products: list[dict[str, Any]] = []
        page = 0
        while True:
            params = {"page_number": page, "page_size": PAGE_SIZE}
            chunk = self.sazito("GET", "/products", params=params)["result"]["products"]
            if not chunk:
                return rules.sku_map(products)
            products += chunk
            page += 1

    def supplier_products(self) -> Iterator[dict[str, Any]]:
        """Every Anar360 product, page 1.. until an empty page."""
        for page in itertools.count(1):
            items = self.anar("/products", page=page, limit=PAGE_SIZE)["items"]
            if not items:
                return
            yield from items

    def write(self, row: rules.Row) -> None:
        """Price then stock for one variant, always (the original never compared)."""
        vid = row["variant_id"]
        price = {"price": row["price"], "discount_price": row["discount_price"], "has_raw_price": False}
        stock = {
            "is_stock_manager": row["stock_managed"],
            "stock_number": row["stock_number"],
            "is_relative": False,
        }
        self.sazito("PUT", f"/accounting/update-price/{vid}", json=price)
        self.writes_sent += 1
        self.sazito("PUT", f"/accounting/update-stock/{vid}", json=stock)
        self.writes_sent += 1

    def run(self) -> None:
        """Validate, map, then page the supplier and write every linked variant; raises SyncAborted."""
        self.anar("/auth/validate")
        links = self.store_links()
        log(f"{len(links)} skus in the store")
        for product in self.supplier_products():
            rows, seen, bad = rules.product_rows(product, links)
            self.variants_seen += seen
            self.bad += bad
            self.linked += len(rows)
            for row in rows:
                self.write(row)


def main() -> int:
    """Run the sync; 0 when done, 1 when it aborted. Prints the JSON summary line either way."""
    sync = None
    started = time.monotonic()
    code = 0
    try:
        with httpx.Client(timeout=TIMEOUT_S) as client:
            sync = PlainSync(client, dict(os.environ))
            sync.run()
    except (SyncAborted, httpx.HTTPError, KeyError, ValueError) as exc:
        log(f"aborted: {type(exc).__name__}: {exc}")
        code = 1
    seen, sent = (sync.variants_seen, sync.writes_sent) if sync else (0, 0)
    if sync:
        log(f"{sync.linked} linked, {sync.bad} bad variants skipped, {time.monotonic() - started:.2f}s")
    print(json.dumps({"variants_seen": seen, "writes_sent": sent}), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
