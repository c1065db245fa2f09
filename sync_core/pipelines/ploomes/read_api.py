"""`/products/...`: the Ploomes products the store holds, from an in-memory copy per process
(``read_index``: at most about a second behind the last sync; ``read_snapshot``: the copy).

Parameters are read here rather than by FastAPI (cheaper on this hot path; declared apart for the docs), as
`/search` reads its own: an empty value is the same as none, a parameter given twice is refused, and an
unknown parameter is ignored (as FastAPI would). Text is compared folded: no case, no accents, one space
between words (``locacao`` finds "Locação", ``MANUTENÇÃO`` finds "manutencao").
"""

from __future__ import annotations

import re
from collections.abc import Awaitable
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.datastructures import QueryParams

from catalog_sync.service.errors import (
    MAX_ECHO,
    ErrorResponse,
    error_response,
    store_answer,
)
from catalog_sync.service.folding import fold
from catalog_sync.service.search import BadParameter
from sync_core.pipelines.ploomes.read_index import ProductIndex
from sync_core.pipelines.ploomes.read_snapshot import TYPES, Query

router = APIRouter(tags=["products"])

MAX_TEXT = 200  # characters of q or category
DEFAULT_LIMIT, MAX_LIMIT = 50, 200
_INTEGER = re.compile(r"^[0-9]{1,18}$")
_ID = re.compile(r"^-?[0-9]{1,19}$")
_BOOLEANS = {"true": True, "false": False}
ORDER = "ordered by name compared as the search compares (no case, no accents), then ploomes_id"


class ProductOut(BaseModel):
    ploomes_id: int = Field(description="the product's id in Ploomes", examples=[401234])
    name: str = Field(examples=["Locação de Andaime Tubular 1,5 m"])
    code: str | None = Field(examples=["CIA_LOC_0042"])
    description: str | None = Field(examples=["Andaime tubular galvanizado, diária"])
    product_type: Literal["service", "rental", "product"] = Field(examples=["rental"])
    category: str | None = Field(examples=["Locação"])
    subcategory: str | None = Field(examples=["Andaimes"])
    unit_price: float | None = Field(
        description="a decimal number, exact as stored (up to 4 decimals, always written with a decimal "
        "point); null when the product has no price",
        examples=[189.9],
    )
    currency: str | None = Field(examples=["BRL"])
    unit_of_measure: str | None = Field(examples=["diária"])
    custom_fields: dict[str, Any] = Field(
        description="the product's other Ploomes fields, as read", examples=[{"Marca": "Atlas"}]
    )
    source_created_at: str | None = Field(
        description="ISO 8601, UTC (`Z`); fractions of a second when not zero",
        examples=["2024-03-05T14:20:00Z"],
    )
    source_updated_at: str | None = Field(
        description="ISO 8601, UTC (`Z`); fractions of a second when not zero",
        examples=["2026-10-01T09:00:12Z"],
    )
    active: bool = Field(description="false: a complete read of Ploomes no longer found it", examples=[True])
    version: int = Field(description="goes up each time a sync finds the product changed", examples=[3])
    last_synced_at: str = Field(
        description="the last sync that read it, ISO 8601 UTC; may lag up to 30 s behind the store",
        examples=["2026-11-26T21:00:03.512000Z"],
    )


class ProductPage(BaseModel):
    products: list[ProductOut] = Field(description=ORDER)
    total: int = Field(description="products matching, over every page", examples=[137])
    limit: int = Field(examples=[DEFAULT_LIMIT])
    offset: int = Field(examples=[0])


class ProductSearchResponse(BaseModel):
    data: ProductPage
    error: None = None


class ProductOne(BaseModel):
    product: ProductOut


class ProductResponse(BaseModel):
    data: ProductOne
    error: None = None


class CategoryOut(BaseModel):
    category: str | None = Field(
        description="as most of its products spell it; null: the products without a category (last)",
        examples=["Atlas"],
    )
    products: int = Field(examples=[120])
    active: int = Field(description="active products among them", examples=[118])
    types: dict[str, int] = Field(
        description="products by product_type (types with none left out)",
        examples=[{"product": 100, "service": 20}],
    )


class CategoryList(BaseModel):
    categories: list[CategoryOut]


class CategoriesResponse(BaseModel):
    data: CategoryList
    error: None = None


STORE_FAILURE = {
    "model": ErrorResponse,
    "description": "The store cannot answer: database down, table missing, bad settings (code `internal_error`)",
}
BAD_PARAMETER = {
    "model": ErrorResponse,
    "description": "A parameter is invalid or given twice (code `invalid_parameter`); the message names it",
}


def _query_parameter(name: str, description: str, schema: dict[str, Any], example: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
        "example": example,
    }


# Declared for the docs only, as /search's are: FastAPI's own parameter handling is the costlier part of a
# cached answer.
SEARCH_PARAMETERS = [
    _query_parameter(
        "q",
        "text inside the name, the code or the description, without case or accents (`locacao` finds "
        f'"Locação"); none: every product. At most {MAX_TEXT} characters',
        {"type": "string", "maxLength": MAX_TEXT},
        "locacao andaime",
    ),
    _query_parameter(
        "category",
        'the whole category, without case or accents (`locacao` finds category "Locação", not "Locação '
        'de Máquinas"); see /products/categories',
        {"type": "string", "maxLength": MAX_TEXT},
        "Atlas",
    ),
    _query_parameter("type", "the product type", {"type": "string", "enum": list(TYPES)}, "rental"),
    _query_parameter(
        "active", "true: active products only; false: inactive only; none: both", {"type": "boolean"}, True
    ),
    _query_parameter(
        "limit",
        f"products per page, 1 to {MAX_LIMIT}",
        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
        20,
    ),
    _query_parameter(
        "offset", "products skipped first (paging)", {"type": "integer", "minimum": 0, "default": 0}, 0
    ),
]
ID_PARAMETER = {
    "name": "ploomes_id",
    "in": "path",
    "required": True,
    "description": "the product's id in Ploomes",
    "schema": {"type": "integer"},
    "example": 401234,
}


def _one(params: QueryParams, name: str) -> str | None:
    given = params.getlist(name)
    if len(given) > 1:
        raise BadParameter("invalid_parameter", f"{name} is given {len(given)} times; give it once")
    value = given[0].strip() if given else ""
    return value or None


def _refusal(name: str, allowed: str, raw: str) -> BadParameter:
    return BadParameter("invalid_parameter", f"{name} must be {allowed}, not {raw[:MAX_ECHO]!r}")


def _text(params: QueryParams, name: str) -> str | None:
    raw = _one(params, name)
    if raw is None:
        return None
    if len(raw) > MAX_TEXT:
        raise BadParameter("invalid_parameter", f"{name} must be at most {MAX_TEXT} characters long")
    return fold(raw) or None


def _integer(params: QueryParams, name: str, default: int, low: int, high: float, allowed: str) -> int:
    raw = _one(params, name)
    if raw is None:
        return default
    if not _INTEGER.match(raw) or not low <= int(raw) <= high:
        raise _refusal(name, allowed, raw)
    return int(raw)


def parse_query(params: QueryParams) -> Query:
    """The checked, normalised parameters of a search: equal queries written differently share a cache
    entry. Raises BadParameter."""
    q, category = _text(params, "q"), _text(params, "category")
    product_type = _one(params, "type")
    if product_type is not None and product_type not in TYPES:
        raise _refusal("type", "one of " + ", ".join(TYPES), product_type)
    active_text = _one(params, "active")
    active = None
    if active_text is not None:
        active = _BOOLEANS.get(active_text.lower())
        if active is None:
            raise _refusal("active", "true or false", active_text)
    limit = _integer(params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT, f"an integer from 1 to {MAX_LIMIT}")
    offset = _integer(params, "offset", 0, 0, float("inf"), "an integer of 0 or more")
    return q, category, product_type, active, limit, offset


async def _answer(what: str, pending: Awaitable[bytes | None]) -> Response:
    """The JSON answer, 404 when there is none, or 500 in the envelope when the store cannot answer (as
    `/search` answers its store errors)."""
    missing = f"no product {what.rsplit('/', 1)[1][:MAX_ECHO]}"
    return await store_answer(what, pending, store="product store", missing=missing)


@router.get(
    "/products/search",
    response_class=Response,
    response_model=None,
    responses={
        200: {"model": ProductSearchResponse, "description": "A page of the matching products"},
        400: BAD_PARAMETER,
        500: STORE_FAILURE,
    },
    openapi_extra={"parameters": SEARCH_PARAMETERS},
)
async def search_products(request: Request) -> Response:
    """Products whose name, code or description contains ``q``, narrowed by category, type and active, a page
    at a time (``total`` counts every match), ordered by name compared without case or accents, then
    ploomes_id. Served from a copy of the store at most about a second behind the last sync. Unknown
    parameters are ignored."""
    try:
        query = parse_query(request.query_params)
    except BadParameter as exc:
        return error_response(400, exc.code, str(exc))
    index: ProductIndex = request.app.state.products
    return await _answer("/products/search", index.search(query))


@router.get(
    "/products/categories",
    response_class=Response,
    response_model=None,
    responses={
        200: {"model": CategoriesResponse, "description": "Every category with its counts"},
        500: STORE_FAILURE,
    },
)
async def product_categories(request: Request) -> Response:
    """Every category with its count of products, of active ones, and of each product type; categories that
    differ only in case or accents are one. Ordered by name; the products without a category last."""
    index: ProductIndex = request.app.state.products
    return await _answer("/products/categories", index.categories())


@router.get(
    "/products/{ploomes_id}",
    response_class=Response,
    response_model=None,
    responses={
        200: {"model": ProductResponse, "description": "The product"},
        400: {"model": ErrorResponse, "description": "The id is not an integer (code `invalid_parameter`)"},
        404: {"model": ErrorResponse, "description": "No product with this id (code `not_found`)"},
        500: STORE_FAILURE,
    },
    openapi_extra={"parameters": [ID_PARAMETER]},
)
async def product(request: Request) -> Response:
    """One product by its Ploomes id, active or not."""
    raw: str = request.path_params["ploomes_id"]
    if not _ID.match(raw):
        return error_response(
            400, "invalid_parameter", f"ploomes_id must be an integer, not {raw[:MAX_ECHO]!r}"
        )
    index: ProductIndex = request.app.state.products
    return await _answer(f"/products/{int(raw)}", index.product(int(raw)))
