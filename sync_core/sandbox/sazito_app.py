"""Simulator of the Sazito store API (contracts/sazito.md), served under `/sazito/api/v1`."""

from __future__ import annotations

import asyncio
import hmac
import itertools
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from sync_core.sandbox import sazito_bodies as bodies
from sync_core.sandbox.catalogue import StoreProduct
from sync_core.sandbox.middleware import SandboxMiddleware
from sync_core.sandbox.state import SandboxState

T = TypeVar("T")
DEFAULT_PAGE_SIZE = 10
HOLD_POLL_S = 0.02
BAD_GATEWAY_PAGE = "<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"
_OUTCOME_STATUS = {
    "unknown": (404, "variant not found"),
    "rejected": (422, "the store refused this variant"),
    "invalid": (422, "discount_price must be lower than price"),
}


def sazito_error(status: int, error: str) -> dict[str, Any]:
    """A failed Sazito envelope."""
    return {"result": None, "error": error, "error_code": status, "status": status}


def envelope(result: Any, status: int = 200, error: str = "") -> JSONResponse:
    """The Sazito envelope `{"result", "error", "error_code", "status"}` at HTTP `status`."""
    body = (
        sazito_error(status, error)
        if status != 200
        else {"result": result, "error": "", "error_code": 0, "status": 200}
    )
    return JSONResponse(body, status_code=status)


def _product_json(state: SandboxState, product: StoreProduct) -> dict[str, Any]:
    variants = [state.catalogue.store_variants[v].to_json() for v in product.variant_ids]
    return {"id": product.id, "name": product.name, "url": product.url, "product_variants": variants}


def _query_int(request: Request, name: str, default: int) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        return None


def build_sazito_app(state: SandboxState) -> Starlette:
    """The Sazito simulator over `state`: public catalogue, keyed price/stock writes and product create."""

    def key_error(request: Request) -> JSONResponse | None:
        key = request.headers.get("x-api-key", "")
        if hmac.compare_digest(key.encode(), state.config.sazito_key.encode()):
            return None
        return envelope(None, 401, "invalid or missing API key")

    async def held_write(
        request: Request, apply: Callable[[], T], applied: Callable[[Any], bool] = lambda _: True
    ) -> tuple[bool, T | None]:
        """Apply one write call, waiting while the hold is on; gives up (unapplied) if the client leaves."""
        waiting = False
        try:
            while not state.closing:
                done, result = state.try_write(apply, applied)
                if done:
                    return True, result
                if not waiting:
                    state.note_waiting(1)
                    waiting = True
                if await request.is_disconnected():
                    state.note_abandoned_write()
                    return False, None
                await asyncio.sleep(HOLD_POLL_S)
            return False, None
        finally:
            if waiting:
                state.note_waiting(-1)

    def bulk_answer(success: list[int], failed: list[int]) -> JSONResponse:
        lists = {"success_variants": success, "failed_variant_ids": failed}
        shape = state.next_envelope()
        if shape == "wrapped":
            return JSONResponse({"result": lists, "error": "", "error_code": 0, "status": 200})
        if shape == "flat":
            return JSONResponse({**lists, "error": "", "error_code": 0, "status": 200})
        return JSONResponse(lists)

    async def list_products(request: Request) -> Response:
        page = _query_int(request, "page_number", 0)
        size = _query_int(request, "page_size", DEFAULT_PAGE_SIZE)
        if page is None or size is None or page < 0 or size < 1:
            return envelope(None, 400, "page_number must be an integer >= 0 and page_size >= 1")
        used = min(size, state.config.sazito_max_page_size)
        with state.lock:
            products = state.catalogue.store_products
            page_items = itertools.islice(products.values(), page * used, (page + 1) * used)
            chunk = [_product_json(state, p) for p in page_items]
            result = {"page_number": page, "page_size": used, "total_count": len(products), "products": chunk}
            return envelope(result)

    async def bulk_write(request: Request, write_one: Callable[[dict[str, Any]], str]) -> Response:
        if (denied := key_error(request)) is not None:
            return denied
        try:
            entries = bodies.bulk_entries(bodies.parse_json(await request.body()))
        except bodies.Malformed as exc:
            return envelope(None, 422, str(exc))

        def apply() -> tuple[list[int], list[int]]:
            success: list[int] = []
            failed: list[int] = []
            for entry in entries:
                (success if write_one(entry) == "ok" else failed).append(entry["id"])
            return success, failed

        done, result = await held_write(request, apply)
        if not done or result is None:
            return envelope(None, 503, "write not applied: the sandbox is holding writes")
        if state.traffic.html_roll(state.config.html_answer_fraction):  # applied, but the answer is lost
            return HTMLResponse(BAD_GATEWAY_PAGE)
        return bulk_answer(*result)

    def write_price_entry(entry: dict[str, Any]) -> str:
        write = bodies.price_write(entry)
        if write is None:
            return "invalid"
        return state.write_price(entry["id"], write.price, write.discount_price, write.keep_discount)

    def write_stock_entry(entry: dict[str, Any]) -> str:
        stock = bodies.bulk_stock(entry)
        return "invalid" if stock is None else state.write_stock(entry["id"], True, stock)

    async def bulk_price(request: Request) -> Response:
        return await bulk_write(request, write_price_entry)

    async def bulk_stock(request: Request) -> Response:
        return await bulk_write(request, write_stock_entry)

    async def single_write(request: Request, parse: Callable[[Any], Callable[[int], str]]) -> Response:
        if (denied := key_error(request)) is not None:
            return denied
        raw_id = request.path_params["variant_id"]
        if not raw_id.isdigit():
            return envelope(None, 404, "variant not found")
        variant_id = int(raw_id)
        try:
            write = parse(bodies.parse_json(await request.body()))
        except bodies.Malformed as exc:
            return envelope(None, 422, str(exc))
        done, outcome = await held_write(request, lambda: write(variant_id), lambda r: r == "ok")
        if not done or outcome is None:
            return envelope(None, 503, "write not applied: the sandbox is holding writes")
        if outcome != "ok":
            return envelope(None, *_OUTCOME_STATUS[outcome])
        with state.lock:
            return envelope(state.catalogue.store_variants[variant_id].to_json())

    def parse_price(body: Any) -> Callable[[int], str]:
        if not isinstance(body, dict):
            raise bodies.Malformed("body must be a JSON object")
        write = bodies.price_write(body)
        if write is None or not isinstance(body.get("has_raw_price", False), bool):
            raise bodies.Malformed("price must be an integer >= 0, discount_price null or lower than price")
        return lambda vid: state.write_price(vid, write.price, write.discount_price, write.keep_discount)

    def parse_stock(body: Any) -> Callable[[int], str]:
        write = bodies.stock_write(body)
        return lambda vid: state.write_stock(vid, write.managed, write.stock, write.relative)

    async def update_price(request: Request) -> Response:
        return await single_write(request, parse_price)

    async def update_stock(request: Request) -> Response:
        return await single_write(request, parse_stock)

    async def create_product(request: Request) -> Response:
        if (denied := key_error(request)) is not None:
            return denied
        try:
            name, ptype, description, variants = bodies.new_product(bodies.parse_json(await request.body()))
        except bodies.Malformed as exc:
            return envelope(None, 422, str(exc))
        done, product = await held_write(
            request, lambda: state.create_product(name, ptype, description, variants)
        )
        if not done or product is None:
            return envelope(None, 503, "write not applied: the sandbox is holding writes")
        with state.lock:
            return envelope({"product": _product_json(state, product)})

    routes = [
        Route("/products", list_products, methods=["GET"]),
        Route("/products", create_product, methods=["POST"]),
        Route("/accounting/bulk-update-price", bulk_price, methods=["PUT"]),
        Route("/accounting/bulk-update-stock", bulk_stock, methods=["PUT"]),
        Route("/accounting/update-price/{variant_id}", update_price, methods=["PUT"]),
        Route("/accounting/update-stock/{variant_id}", update_stock, methods=["PUT"]),
    ]
    shaping = Middleware(SandboxMiddleware, state=state, api="sazito", routes=routes, error_body=sazito_error)
    return Starlette(routes=routes, middleware=[shaping])
