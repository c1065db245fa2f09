"""Simulator of the Ingram Micro Reseller API v6 (contracts/ingram.md), served under `/ingram`.

`POST` (or `GET`) `/oauth/oauth20/token` issues client-credentials tokens (`expires_in` a string);
`POST /resellers/v6/catalog/priceandavailability` answers up to 50 parts as a bare JSON array in request order
(207 when some are unknown: those items carry productStatusCode "E"); `GET /resellers/v6/catalog/details/{part}`
answers one part's details (404 when unknown). Catalog calls need a live Bearer token and the IM-* headers.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sync_core.sandbox.ingram_shaping import (
    DETAILS_PATH,
    PNA_PATH,
    TOKEN_PATH,
    FieldError,
    IngramMiddleware,
    ingram_error,
)
from sync_core.sandbox.state import SandboxState

COUNTRY_CODE = "US"  # what sandbox_settings() suggests; any two letters, either case, are accepted
MAX_PRODUCTS = 50
_LETTERS2 = re.compile(r"[A-Za-z]{2}")
_FLAGS = ("includeAvailability", "includePricing")


def _fail(status: int, message: str, fields: list[FieldError] | None = None) -> JSONResponse:
    return JSONResponse(ingram_error(status, message, fields or ()), status_code=status)


def _invalid(fields: list[FieldError]) -> JSONResponse:
    return _fail(400, "Validation failed", fields)


def header_errors(request: Request, customer_number: str) -> list[FieldError]:
    """What is wrong with a catalog call's IM-* headers (empty when they are right)."""
    errors: list[FieldError] = []
    customer = request.headers.get("im-customernumber", "").strip()
    if not customer:
        errors.append(("IM-CustomerNumber", customer, "IM-CustomerNumber cannot be blank"))
    elif len(customer) > 10:
        errors.append(("IM-CustomerNumber", customer, "IM-CustomerNumber must be at most 10 characters"))
    elif customer != customer_number:
        errors.append(("IM-CustomerNumber", customer, "IM-CustomerNumber is not a customer of this account"))
    country = request.headers.get("im-countrycode", "")
    if not _LETTERS2.fullmatch(country.strip()):
        errors.append(("IM-CountryCode", country, "IM-CountryCode must be a two-letter country code"))
    correlation = request.headers.get("im-correlationid", "")
    if not correlation.strip():
        errors.append(("IM-CorrelationID", correlation, "IM-CorrelationID cannot be blank"))
    elif len(correlation) > 32:
        errors.append(("IM-CorrelationID", correlation, "IM-CorrelationID must be at most 32 characters"))
    sender = request.headers.get("im-senderid")
    if sender is not None and len(sender) > 32:
        errors.append(("IM-SenderID", sender, "IM-SenderID must be at most 32 characters"))
    return errors


def _flags(request: Request) -> tuple[dict[str, bool], list[FieldError]]:
    """includeAvailability / includePricing: both required, "true" or "false"."""
    values: dict[str, bool] = {}
    errors: list[FieldError] = []
    for name in _FLAGS:
        raw = request.query_params.get(name)
        if raw is None or raw.lower() not in ("true", "false"):
            errors.append((name, raw, f"{name} is required and must be true or false"))
        else:
            values[name] = raw.lower() == "true"
    return values, errors


def requested_parts(raw: bytes) -> tuple[list[str], list[FieldError]]:
    """The part numbers of a P&A body `{"products": [{"ingramPartNumber": "..."}, ...]}`, in order."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return [], [("body", None, "the body must be JSON")]
    products = body.get("products") if isinstance(body, dict) else None
    if not isinstance(products, list) or not products:
        return [], [("products", None, "products must be a non-empty list")]
    if len(products) > MAX_PRODUCTS:
        return [], [("products", str(len(products)), f"at most {MAX_PRODUCTS} products a call")]
    parts: list[str] = []
    for i, product in enumerate(products):
        part = product.get("ingramPartNumber") if isinstance(product, dict) else None
        if not isinstance(part, str) or not part.strip():  # a number is refused: part numbers are strings
            return [], [(f"products[{i}].ingramPartNumber", repr(part), "ingramPartNumber must be a string")]
        parts.append(part)
    return parts, []


def unknown_item(part: str) -> dict[str, Any]:
    """A 207 answer's item for a part number the catalogue does not hold."""
    return {
        "productStatusCode": "E",
        "productStatusMessage": f"Product not found for IngramPartNumber:  {part}",
        "ingramPartNumber": part,
    }


async def _token_params(request: Request) -> dict[str, str]:
    """The token call's parameters: the query string, then a form body (which wins)."""
    params = dict(request.query_params)
    if request.method == "POST":
        params.update(parse_qsl((await request.body()).decode("latin-1"), keep_blank_values=True))
    return params


def build_ingram_app(state: SandboxState) -> Starlette:
    """The Ingram simulator over `state` (`state.ingram` holds its catalogue, tokens and traffic)."""
    ingram = state.ingram

    def denied(request: Request) -> JSONResponse | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and ingram.token_ok(token.strip()):
            return None
        return _fail(401, "Unauthorized: the access token is missing, invalid or expired")

    def refused(request: Request) -> JSONResponse | None:
        """401 for a bad token, else 400 for bad IM-* headers, else None."""
        if (answer := denied(request)) is not None:
            return answer
        errors = header_errors(request, state.config.ingram_customer_number)
        return _invalid(errors) if errors else None

    async def token(request: Request) -> Response:
        params = await _token_params(request)
        if params.get("grant_type") != "client_credentials":
            grant = params.get("grant_type")
            return _invalid([("grant_type", grant, "grant_type must be client_credentials")])
        if not ingram.credentials_ok(params.get("client_id", ""), params.get("client_secret", "")):
            return _fail(401, "Unauthorized: invalid client_id or client_secret")
        access_token, expires_in = ingram.issue_token()
        return JSONResponse({"access_token": access_token, "token_type": "Bearer", "expires_in": expires_in})

    async def price_and_availability(request: Request) -> Response:
        if (answer := refused(request)) is not None:
            return answer
        flags, flag_errors = _flags(request)
        parts, body_errors = requested_parts(await request.body())
        if flag_errors or body_errors:
            return _invalid(flag_errors + body_errors)
        include = {"availability": flags["includeAvailability"], "pricing": flags["includePricing"]}
        with state.lock:
            records = [ingram.catalogue.record(part) for part in parts]
            unknown = sum(record is None for record in records)
            nested = unknown > 0 or ingram.nest_pricing()  # the vendor's 207 sample nests pricing
            items = [
                unknown_item(part) if record is None else record.to_json(nested_pricing=nested, **include)
                for part, record in zip(parts, records, strict=True)
            ]
            traffic = ingram.traffic
            traffic.parts_asked += len(parts)
            traffic.unknown_items += unknown
            traffic.answers_207 += unknown > 0
        return JSONResponse(items, status_code=207 if unknown else 200)

    async def details(request: Request) -> Response:
        if (answer := refused(request)) is not None:
            return answer
        part = request.path_params["part"]
        with state.lock:
            body = ingram.catalogue.details(part)
        if body is None:
            return _fail(404, "No Records Found")
        return JSONResponse(body)

    routes = [
        Route(TOKEN_PATH, token, methods=["GET", "POST"]),
        Route(PNA_PATH, price_and_availability, methods=["POST"]),
        Route(DETAILS_PATH, details, methods=["GET"]),
    ]
    return Starlette(routes=routes, middleware=[Middleware(IngramMiddleware, state=state, routes=routes)])
