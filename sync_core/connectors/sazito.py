"""Sazito store API as a target: a ``Writer`` (absolute price/stock writes, in bulk), a ``CatalogueReader``,
a ``Replayer`` (one write per call) and a ``Creator`` (product create).

Contract: /work/shared/contracts/sazito.md. Canonical write values: kind "price" →
``{"price": int, "discount_price": int | None}``; kind "stock" → ``{"managed": bool, "stock": int | None}``;
a catalogue item ``holds`` the values the catalogue reports in the same shapes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import as_completed
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any

import httpx
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from typing_extensions import Unpack

from sync_core import errors
from sync_core.connectors.base import HttpConnector, Wiring
from sync_core.engine.connections import Connection
from sync_core.engine.paging import PageWalk
from sync_core.engine.pool import thread_pool
from sync_core.models import CatalogueItem, CataloguePage, FailedWrite, NewProduct, Write, WriteOutcome
from sync_core.settings import Settings

log = logging.getLogger(__name__)
BULK_MAX = 50  # the API refuses a bulk call of more than 50 variants with a 422 for the whole call
BULK_PATHS = {"price": "/accounting/bulk-update-price", "stock": "/accounting/bulk-update-stock"}


@dataclass(frozen=True, slots=True)
class StoreVariant:
    """A variant as read from the store's catalogue; None means 'not reported'."""

    id: str
    product_id: str
    product_name: str
    title: str | None
    sku: str | None
    price: int | None = None
    discount_price: int | None = None
    is_stock_managed: bool | None = None
    stock_number: int | None = None


def _current_values(variant: StoreVariant) -> dict[str, dict[str, Any]]:
    """The price and stock values the catalogue reports, in the canonical write shapes (kind → value)."""
    values: dict[str, dict[str, Any]] = {}
    if variant.price is not None:
        values["price"] = {"price": variant.price, "discount_price": variant.discount_price}
    if variant.is_stock_managed is not None:
        stock = variant.stock_number if variant.is_stock_managed else None
        values["stock"] = {"managed": variant.is_stock_managed, "stock": stock}
    return values


def _item(variant: StoreVariant) -> CatalogueItem:
    """The engine's view of a catalogue variant: its keys, names and the values it holds."""
    return CatalogueItem(
        key=variant.id,
        product_key=variant.product_id,
        sku=variant.sku,
        product_name=variant.product_name,
        title=variant.title,
        holds=_current_values(variant),
    )


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _text(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


Num = Annotated[int | None, BeforeValidator(_int_or_none)]  # an unreadable number is "not reported"
Text = Annotated[str, BeforeValidator(_text)]


class _Variant(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: Text
    title: str | None = None
    sku: Text | None = None
    price: Num = None
    discount_price: Num = None
    is_stock_managed: bool | None = None
    stock_number: Num = None


class _Product(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: Text
    name: str | None = None
    product_variants: list[dict[str, Any]] = Field(default_factory=list)


class _Catalogue(BaseModel):
    model_config = ConfigDict(extra="ignore")

    page_size: Num = None
    total_count: Num = None
    products: list[dict[str, Any]] = Field(default_factory=list)


def _reason(body: Any) -> str | None:
    if isinstance(body, dict):
        for key in ("error", "message"):
            if isinstance(body.get(key), str) and body[key].strip():
                return str(body[key])
    return None


def _reader(response: httpx.Response) -> tuple[int, str | None]:
    """Envelope rule: failed when HTTP is not 2xx, or ``status`` != 200, or ``error_code`` != 0."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not response.is_success:
        return response.status_code, _reason(body)
    if not isinstance(body, dict):
        return response.status_code, None
    # A bulk answer may carry no envelope fields at all: a missing status or error_code is not a failure.
    status = _int_or_none(body["status"]) if "status" in body else 200
    code = body.get("error_code")
    failed_code = code not in (None, 0, "0", "")
    if status == 200 and not failed_code:
        return response.status_code, None
    # An in-body status says what kind of failure it was; otherwise it reads like a 400.
    effective = status if status is not None and 400 <= status < 600 else 400
    return effective, _reason(body) or f"error_code {code}"


def _invalid(what: str) -> errors.InvalidRequest:
    return errors.InvalidRequest(f"sazito: {what} (not sent)", provider="sazito")


def _variant_id(write: Write) -> int:
    key = _int_or_none(write.target_key)
    if key is None or key < 0:
        raise _invalid(f"variant id {write.target_key!r} is not an integer")
    return key


def _price(value: dict[str, Any]) -> tuple[int, int | None]:
    """(price, discount price) of a price write's value; InvalidRequest when they are not integral."""
    price, discount = _int_or_none(value.get("price")), value.get("discount_price")
    if price is None or (discount is not None and _int_or_none(discount) is None):
        raise _invalid(f"price value {value!r} is not integral")
    return price, _int_or_none(discount)


def _stock(value: dict[str, Any]) -> int | None:
    """The managed quantity of a stock write's value, None for "unlimited" (unmanaged); InvalidRequest when
    it is not valid."""
    managed, stock = value.get("managed"), _int_or_none(value.get("stock"))
    if not isinstance(managed, bool) or (managed and stock is None):
        raise _invalid(f"stock value {value!r} is not valid")
    return stock if managed else None


def _single_call(write: Write) -> tuple[str, dict[str, Any]]:
    """Path and body of the per-variant call for a write; raises InvalidRequest for a malformed write."""
    variant_id = _variant_id(write)
    if write.kind == "price":
        price, discount = _price(write.value)
        return f"/accounting/update-price/{variant_id}", {
            "price": price,
            "discount_price": discount,
            "has_raw_price": False,
        }
    if write.kind == "stock":
        stock = _stock(write.value)
        # is_relative stays false: a retried relative write would add the quantity twice.
        return f"/accounting/update-stock/{variant_id}", {
            "is_stock_manager": stock is not None,
            "stock_number": stock or 0,
            "is_relative": False,
        }
    raise _invalid(f"unsupported write kind {write.kind!r}")


def _bulk_entry(write: Write) -> dict[str, Any] | None:
    """The bulk-call entry for a write, from its value; None when it needs the per-variant endpoint; raises
    InvalidRequest for a malformed write."""
    variant_id = _variant_id(write)
    if write.kind == "price":
        price, discount = _price(write.value)
        return {"id": variant_id, "price": price, "discount_price": discount}
    if write.kind == "stock":
        stock = _stock(write.value)
        # Bulk stock always sets a managed quantity: "unlimited" (unmanaged) needs the per-variant call.
        return None if stock is None else {"id": variant_id, "stock": stock}
    raise _invalid(f"unsupported write kind {write.kind!r}")


def _bulk_lists(answer: Any) -> tuple[dict[int, str | None], str | None]:
    """Failed variant ids (→ their own error text, if any) from any of the three bulk answer shapes."""
    holder = answer.get("result") if isinstance(answer, dict) else None
    if not (isinstance(holder, dict) and ("failed_variant_ids" in holder or "success_variants" in holder)):
        holder = answer if isinstance(answer, dict) else {}
    failed: dict[int, str | None] = {}
    for entry in holder.get("failed_variant_ids") or []:
        entry_id = _int_or_none(entry.get("id") if isinstance(entry, dict) else entry)
        if entry_id is not None:
            failed[entry_id] = _reason(entry)
    return failed, _reason(answer)


def _failed(writes: Sequence[Write], exc: errors.SyncError) -> WriteOutcome:
    return WriteOutcome(failed=[FailedWrite(w, type(exc), str(exc)) for w in writes])


def _new_variant(key: str, values: dict[str, Any]) -> dict[str, Any]:
    """A POST /products variant from price, discount_price, is_stock_managed and stock_number (or stock)."""
    price = _int_or_none(values.get("price"))
    if price is None:
        raise _invalid(f"new variant {key} has no integral price")
    number = _int_or_none(values.get("stock_number", values.get("stock")))
    managed = values.get("is_stock_managed")
    entry: dict[str, Any] = {
        "sku": key,
        "price": price,
        "stock_number": number or 0,
        "is_stock_managed": bool(number is not None if managed is None else managed),
    }
    if _int_or_none(values.get("discount_price")) is not None:
        entry["discount_price"] = _int_or_none(values.get("discount_price"))
    return entry


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
        super().__init__(settings, connection, headers=headers, reader=_reader, **wiring)
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
            page = _Catalogue.model_validate(inner if isinstance(inner, dict) else body)
        except ValidationError as exc:
            raise errors.TransientError(
                f"{self.connection.name}: GET /products page {number} has an unexpected shape "
                f"({exc.errors()[0]['msg']})",
                provider=self.connection.name,
                status=200,
            ) from None
        items = [_item(v) for p in page.products for v in self._store_variants(p)]
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
                entry = _bulk_entry(write)
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
        path, body = _single_call(write)
        try:
            self.http.request("PUT", path, json=body, context=f"{write.kind} variant {write.target_key}")
        except errors.InvalidRequest as exc:
            if exc.status != 409:
                raise

    def create_product(self, product: NewProduct) -> dict[str, str]:
        """POST /products; return source variant key → new Sazito variant id, matched by SKU."""
        body = {
            "product": {"name": product.name, "product_type": "simple", "description": product.description},
            "product_variants": [_new_variant(key, values) for key, values in product.variants],
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

    def _store_variants(self, raw: dict[str, Any]) -> list[StoreVariant]:
        try:
            product = _Product.model_validate(raw)
        except ValidationError:
            log.warning("%s: catalogue product without a usable id skipped", self.connection.name)
            return []
        variants = []
        for entry in product.product_variants:
            try:
                v = _Variant.model_validate(entry)
            except ValidationError:
                log.warning(
                    "%s: variant without a usable id in product %s skipped", self.connection.name, product.id
                )
                continue
            variants.append(
                StoreVariant(
                    id=v.id,
                    product_id=product.id,
                    product_name=product.name or "",
                    title=v.title,
                    sku=v.sku,
                    price=v.price,
                    discount_price=v.discount_price,
                    is_stock_managed=v.is_stock_managed,
                    stock_number=v.stock_number,
                )
            )
        return variants

    def _bulk(self, kind: str, chunk: list[tuple[Write, dict[str, Any]]], context: str) -> WriteOutcome:
        writes = [w for w, _ in chunk]
        try:
            response = self.http.request(
                "PUT", BULK_PATHS[kind], json={"variants": [e for _, e in chunk]}, context=context
            )
            failed, note = _bulk_lists(self.http.json_body(response))
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
