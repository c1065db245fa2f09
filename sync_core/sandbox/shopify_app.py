"""Simulator of the Shopify Admin GraphQL API (contracts/shopify.md), catalogue reads only; mounted under
`/shopify` (the store URL is then `<sandbox>/shopify`).

`POST /admin/api/{version}/graphql.json` (2026-04 or later) answers queries (sync_core.sandbox.shopify_resolve)
with `X-Shopify-Access-Token`; `POST /admin/oauth/access_token` trades the client credentials
(`grant_type=client_credentials&client_id&client_secret`, form or JSON) for a token.

Order per GraphQL call: count it; `down` → 503; a wrong version → 404; a refused token → 401 `{"errors":
"[API] Invalid API key ..."}`; a body that is not `{"query", "variables"}` → 400; a query it cannot parse or
serve (a connection without `first` included) → 200 with `errors` and no cost; priced over 1000 →
MAX_COST_EXCEEDED (no `extensions.cost`); the bucket short of the price → THROTTLED with `extensions.cost`
on a 200 (or, with `throttle_as_429`, a 429 with Retry-After); else the data, the actual cost taken from the
bucket, and `extensions.cost`.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sync_core.sandbox.shopify_graphql import GraphQLError, parse_query
from sync_core.sandbox.shopify_resolve import Execution
from sync_core.sandbox.shopify_state import SCOPES, TOKEN_LIFETIME_S, ShopifyState

MAX_QUERY_COST = 1000
OLDEST_VERSION = "2026-04"
DOCS = "https://shopify.dev/api/usage/rate-limits"
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
Answer = tuple[int, dict[str, Any], dict[str, str]]


def _refused(exc: GraphQLError) -> dict[str, Any]:
    error: dict[str, Any] = {"message": str(exc), "locations": [{"line": 1, "column": 1}]}
    if exc.code:
        error["extensions"] = {"code": exc.code}
    return {"errors": [error]}


def _too_costly(requested: int) -> dict[str, Any]:
    message = (
        f"Query cost is {requested}, which exceeds the single query max cost limit ({MAX_QUERY_COST}).\n\n"
        "See https://shopify.dev/concepts/about-apis/rate-limits for more information on how the\n"
        "cost of a query is calculated.\n"
    )
    code = {"code": "MAX_COST_EXCEEDED", "cost": requested, "maxCost": MAX_QUERY_COST, "documentation": DOCS}
    return {"errors": [{"message": message, "extensions": code}]}


def answer_query(state: ShopifyState, query: Any, variables: dict[str, Any]) -> Answer:
    """(HTTP status, body, extra headers) of one GraphQL request the credentials were accepted for."""
    try:
        fields = parse_query(query)
        execution = Execution(state.shop, variables)
        with state.lock:
            requested = execution.price(fields)
            if requested > MAX_QUERY_COST:
                state.note("max_cost_refusals")
                return 200, _too_costly(requested), {}
            bucket = state.bucket
            bucket.restore()
            if bucket.available < requested:
                state.note("throttled")
                cost = {
                    "requestedQueryCost": requested,
                    "actualQueryCost": None,
                    "throttleStatus": bucket.status(),
                }
                errors = [
                    {"message": "Throttled", "extensions": {"code": "THROTTLED", "documentation": DOCS}}
                ]
                body = {"errors": errors, "extensions": {"cost": cost}}
                if not state.throttle_as_429:
                    return 200, body, {}
                state.note("throttled_429")
                wait = math.ceil((requested - bucket.available) / bucket.restore_rate)
                return 429, body, {"Retry-After": str(max(1, wait))}
            data, actual = execution.run(fields)
            bucket.available -= actual
            state.note("answered")
            state.note("requested_cost", requested)
            state.note("actual_cost", actual)
            cost = {
                "requestedQueryCost": requested,
                "actualQueryCost": actual,
                "throttleStatus": bucket.status(),
            }
            return 200, {"data": data, "extensions": {"cost": cost}}, {}
    except GraphQLError as exc:
        state.note("graphql_errors")
        return 200, _refused(exc), {}


def _answer(state: ShopifyState, status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    state.note_status(status)
    if isinstance(body, str):
        return Response(body, status, headers=headers, media_type="text/plain")
    return JSONResponse(body, status, headers=headers)


def build_shopify_app(state: ShopifyState) -> Starlette:
    """The Shopify simulator over ``state``."""

    async def graphql(request: Request) -> Response:
        state.note("calls")
        if state.down:
            state.note("down_answers")
            return _answer(state, 503, "Service Unavailable")
        version = request.path_params["version"]
        if not re.fullmatch(r"\d{4}-\d{2}", version) or version < OLDEST_VERSION:
            return _answer(state, 404, {"errors": "Not Found"})
        if not state.accepts(request.headers.get("x-shopify-access-token")):
            state.note("unauthorized")
            return _answer(state, 401, {"errors": INVALID_TOKEN})
        try:
            body = json.loads(await request.body())
            query, variables = body["query"], body.get("variables") or {}
            if not isinstance(variables, dict):
                raise ValueError("variables must be an object")
        except (ValueError, KeyError, TypeError):
            return _answer(state, 400, {"errors": {"query": "Required parameter missing or invalid"}})
        status, answer, headers = answer_query(state, query, variables)
        return _answer(state, status, answer, headers)

    async def access_token(request: Request) -> Response:
        if state.down:
            state.note("down_answers")
            return _answer(state, 503, "Service Unavailable")
        raw = await request.body()
        try:
            if request.headers.get("content-type", "").startswith("application/json"):
                form = {k: str(v) for k, v in json.loads(raw).items()}
            else:
                form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        except (ValueError, AttributeError, UnicodeDecodeError):
            form = {}
        if form.get("grant_type") != "client_credentials":
            return _answer(state, 400, {"error": "unsupported_grant_type"})
        token = state.issue_token(form.get("client_id"), form.get("client_secret"))
        if token is None:
            body = {"error": "invalid_client", "error_description": "Client authentication failed"}
            return _answer(state, 400, body)
        return _answer(state, 200, {"access_token": token, "scope": SCOPES, "expires_in": TOKEN_LIFETIME_S})

    return Starlette(
        routes=[
            Route("/admin/api/{version}/graphql.json", graphql, methods=["POST"]),
            Route("/admin/oauth/access_token", access_token, methods=["POST"]),
        ]
    )
