"""Sazito store API as a target: a ``Writer`` (absolute price/stock writes, in bulk), a ``CatalogueReader``,
a ``Replayer`` (one write per call) and a ``Creator`` (product create).

Contract: /work/shared/contracts/sazito.md. Canonical write values: kind "price" →
``{"price": int, "discount_price": int | None}``; kind "stock" → ``{"managed": bool, "stock": int | None}``;
a catalogue item ``holds`` the values the catalogue reports in the same shapes. The bodies sent and the
answers read are in sync_core.connectors.sazito_wire; here is the connector that makes the calls.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import as_completed
from functools import partial
from typing import Any

from pydantic import ValidationError
from typing_extensions import Unpack

from sync_core import errors
from sync_core.connectors.base import HttpConnector, Wiring
from sync_core.connectors.sazito_wire import (
    BULK_MAX,
    BULK_PATHS,
    READABLE_PRODUCTS,
    CatalogueAnswer,
    ProductAnswer,
    StoreVariant,
    VariantAnswer,
    bulk_entry,
    bulk_lists,
    catalogue_item,
    new_variant,
    reader,
    single_call,
    store_variant,
)
from sync_core.engine.connections import Connection
from sync_core.engine.paging import PageWalk
from sync_core.engine.pool import thread_pool
from sync_core.models import CataloguePage, FailedWrite, NewProduct, Write, WriteOutcome
from sync_core.settings import Settings

log = logging.getLogger(__name__)


def _failed(writes: Sequence[Write], exc: errors.SyncError) -> WriteOutcome:
    return WriteOutcome(failed=[FailedWrite(w, type(exc), str(exc)) for w in writes])


class Sazito(HttpConnector):
    """A Sazito store as a target, on one connection (the default one, from SAZITO_BASE and SAZITO_KEY,
    unless given); owns its HTTP client (use as a context manager)."""

    provider = "sazito"
    base_setting = "sazito_base"
    secret_setting = "sazito_key"
    rate_setting = "sazito_rate_limit_per_min"
    write_kinds = frozenset({"price", "stock"})

    def __init__(
        self, settings: Settings, connection: Connection | None = None, **wiring: Unpack[Wiring]
    ) -> None:
        connection = self.resolve(settings, connection)
        headers = {"X-API-KEY": self._credential(connection)}
        super().__init__(settings, connection, headers=headers, reader=reader, **wiring)
        self._secret_name = connection.secret_name or "the key"
        self._catalogue = PageWalk(connection.name, "the catalogue", max_pages=settings.sync_max_pages)

    def _check(self) -> None:
        """The public catalogue answers (address, envelope), then the key: Sazito has no authenticated read,
        so an empty bulk stock update (``{"variants": []}``, which changes nothing) shows whether it is
        accepted; a 401/403 raises AuthError naming the key's setting (SAZITO_KEY for the default connection).
        A 422 for the empty list also means accepted."""
        self.http.get_json("/products", params={"page_number": 0, "page_size": 1}, context="check catalogue")
        try:
            self.http.request("PUT", BULK_PATHS["stock"], json={"variants": []}, context="check key")
        except errors.AuthError as exc:
            raise errors.AuthError(
                f"{self.connection.name} refused the key: PUT {BULK_PATHS['stock']} answered HTTP {exc.status}; "
                f"check {self._secret_name}",
                provider=self.connection.name,
                status=exc.status,
                correlation_id=exc.correlation_id,
            ) from exc
        except errors.InvalidRequest:
            pass  # the key got past authentication; only the (empty) body was refused

    def read_catalogue_page(self, number: int) -> CataloguePage:
        """One 0-based catalogue page, an item per variant (holding the price and stock values the catalogue
        reports); variants that cannot be read are skipped with a warning."""
        size = self.settings.sazito_page_size
        self._catalogue.admit(number + 1)
        body = self.http.get_json(
            "/products", params={"page_number": number, "page_size": size}, context=f"catalogue page {number}"
        )
        inner = body.get("result") if isinstance(body, dict) else None
        try:
            page = CatalogueAnswer.model_validate(inner if isinstance(inner, dict) else body)
        except ValidationError as exc:
            raise errors.TransientError(
                f"{self.connection.name}: GET /products page {number} has an unexpected shape "
                f"({exc.errors()[0]['msg']})",
                provider=self.connection.name,
                status=200,
            ) from None
        items = [catalogue_item(v) for v in self._page_variants(page.products)]
        limit = page.page_size if page.page_size and page.page_size > 0 else size
        keys = sorted(str(p.get("id")) for p in page.products)
        self._catalogue.record(number + 1, keys, total=page.total_count, size=limit)
        following = None if not page.products or len(page.products) < limit else number + 1
        last_number = -(-page.total_count // limit) - 1 if page.total_count is not None else None  # 0-based
        return CataloguePage(
            number=number, items=items, next=following, total=page.total_count, last_number=last_number
        )

    def apply(
        self, writes: Sequence[Write], on_outcome: Callable[[WriteOutcome], None] | None = None
    ) -> WriteOutcome:
        """Bulk price/managed-stock writes in chunks of 50, unmanaged stock per variant, concurrently.

        Never raises for a chunk's error: its writes land in ``failed`` with the error's class and message
        (``RejectedByStore`` for a variant the answer lists as not updated).
        ``on_outcome`` gets each chunk's outcome as it completes, in the calling thread, so the caller
        can record what landed before the rest is done.
        """
        outcome = WriteOutcome()
        bulk: dict[str, list[tuple[Write, dict[str, Any]]]] = {"price": [], "stock": []}
        jobs: list[Callable[[], WriteOutcome]] = []
        for write in writes:
            try:
                entry = bulk_entry(write)
            except errors.ConnectorError as exc:
                outcome.failed.append(FailedWrite(write, type(exc), str(exc)))
                continue
            if entry is None:
                jobs.append(partial(self._single, write))
            else:
                bulk[write.kind].append((write, entry))
        for kind, entries in bulk.items():
            chunks = [entries[i : i + BULK_MAX] for i in range(0, len(entries), BULK_MAX)]
            jobs.extend(
                partial(self._bulk, kind, chunk, f"bulk {kind} {n}/{len(chunks)}")
                for n, chunk in enumerate(chunks, 1)
            )
        if jobs:
            with thread_pool(min(self.settings.http_concurrency, len(jobs))) as pool:
                for future in as_completed([pool.submit(job) for job in jobs]):
                    part = future.result()
                    outcome.succeeded.extend(part.succeeded)
                    outcome.failed.extend(part.failed)
                    if on_outcome is not None:
                        on_outcome(part)
        return outcome

    def apply_one(self, write: Write) -> None:
        """Apply one write through the per-variant endpoint; raise ConnectorError (409 = already set = ok)."""
        path, body = single_call(write)
        try:
            self.http.request("PUT", path, json=body, context=f"{write.kind} variant {write.target_key}")
        except errors.InvalidRequest as exc:
            if exc.status != 409:
                raise

    def create_product(self, product: NewProduct) -> dict[str, str]:
        """POST /products; return source variant key → new Sazito variant id, matched by SKU."""
        body = {
            "product": {"name": product.name, "product_type": "simple", "description": product.description},
            "product_variants": [new_variant(key, values) for key, values in product.variants],
        }
        response = self.http.request("POST", "/products", json=body, context=f"create {product.source_key}")
        answer = self.http.json_body(response)
        result = answer.get("result") if isinstance(answer, dict) else None
        created = result.get("product") if isinstance(result, dict) else None
        if not isinstance(created, dict):
            # Not retried: the product may exist now, and a second POST would duplicate it.
            raise errors.PermanentError(
                f"{self.connection.name}: POST /products for {product.source_key} answered without "
                "result.product; the product may have been created",
                provider=self.connection.name,
                status=response.status_code,
            )
        by_sku = {
            str(v["sku"]): str(v["id"])
            for v in created.get("product_variants") or []
            if isinstance(v, dict) and v.get("sku") not in (None, "") and v.get("id") is not None
        }
        return {key: by_sku[key] for key, _ in product.variants if key in by_sku}

    def _page_variants(self, products: list[dict[str, Any]]) -> list[StoreVariant]:
        """Every readable variant of a page: the whole page in one validation, product by product only when
        something in it cannot be read (so one bad variant skips itself, not its page)."""
        try:
            readable = READABLE_PRODUCTS.validate_python(products)
        except ValidationError:
            return [v for raw in products for v in self._store_variants(raw)]
        return [store_variant(p.id, p.name, v) for p in readable for v in p.product_variants]

    def _store_variants(self, raw: dict[str, Any]) -> list[StoreVariant]:
        try:
            product = ProductAnswer.model_validate(raw)
        except ValidationError:
            log.warning("%s: catalogue product without a usable id skipped", self.connection.name)
            return []
        variants = []
        for entry in product.product_variants:
            try:
                v = VariantAnswer.model_validate(entry)
            except ValidationError:
                log.warning(
                    "%s: variant without a usable id in product %s skipped", self.connection.name, product.id
                )
                continue
            variants.append(store_variant(product.id, product.name, v))
        return variants

    def _bulk(self, kind: str, chunk: list[tuple[Write, dict[str, Any]]], context: str) -> WriteOutcome:
        writes = [w for w, _ in chunk]
        try:
            response = self.http.request(
                "PUT", BULK_PATHS[kind], json={"variants": [e for _, e in chunk]}, context=context
            )
            failed, note = bulk_lists(self.http.json_body(response))
        except errors.ConnectorError as exc:
            return WriteOutcome(succeeded=writes) if exc.status == 409 else _failed(writes, exc)
        outcome = WriteOutcome()
        for write, entry in chunk:
            if entry["id"] in failed:
                reason = failed[entry["id"]] or note or "listed in failed_variant_ids"
                message = f"{self.connection.name} did not update variant {entry['id']}: {reason}"
                outcome.failed.append(FailedWrite(write, errors.RejectedByStore, message))
            else:  # in success_variants, or in neither list of a call that succeeded
                outcome.succeeded.append(write)
        return outcome

    def _single(self, write: Write) -> WriteOutcome:
        try:
            self.apply_one(write)
        except errors.ConnectorError as exc:
            return _failed([write], exc)
        return WriteOutcome(succeeded=[write])
