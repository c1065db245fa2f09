"""One error envelope for every answer of the service: ``{"data": null, "error": {"code", "message"}}``.

Codes: ``invalid_parameter`` and ``invalid_range`` (400), ``not_found`` (404), ``method_not_allowed`` (405),
``unavailable`` (503: the state store cannot answer or the settings are invalid), ``internal_error`` (500;
also `/search`'s store errors, as its contract says). A message is one line for people; it never carries
connection details or driver messages: those go to the service's log.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, Literal

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException

from sync_core.errors import ConfigError, PersistenceError

log = logging.getLogger(__name__)

ErrorCode = Literal[
    "invalid_parameter",
    "invalid_range",
    "not_found",
    "method_not_allowed",
    "unavailable",
    "internal_error",
    "invalid_request",
    "unauthorized",
    "not_deployed",
    "conflict",
]
STORE_UNAVAILABLE = "the state store is unavailable"
SETTINGS_INVALID = "the service's settings are invalid; its log says which"
UNEXPECTED = "unexpected error; the service's log has the details"
MAX_ECHO = 64  # characters of a client's value or path repeated in a message
CODES: dict[int, ErrorCode] = {
    400: "invalid_parameter",
    404: "not_found",
    405: "method_not_allowed",
    503: "unavailable",
}


class ErrorOut(BaseModel):
    code: ErrorCode = Field(
        description="invalid_parameter / invalid_range: 400; not_found: 404; method_not_allowed: 405; "
        "unavailable: 503, the state store cannot answer or the settings are invalid; internal_error: 500; "
        "invalid_request: any other refused request; unauthorized: 401, a missing or wrong token or key; "
        "not_deployed: 409, the Prefect server lacks the pipeline's deployment; conflict: 409, the name is taken "
        "or the item's state refuses it",
        examples=["invalid_parameter"],
    )
    message: str = Field(
        description="one line for people: the parameter and the problem, or what failed",
        examples=["limit must be an integer, not 'abc'"],
    )


class ErrorResponse(BaseModel):
    """The body of every error answer of the service."""

    data: None = None
    error: ErrorOut


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    """The envelope as a JSON response."""
    body = orjson.dumps({"data": None, "error": {"code": code, "message": message}})
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def error_responses(*groups: Mapping[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` of a route: each status of ``groups`` answered with the envelope."""
    return {
        status: {"model": ErrorResponse, "description": text}
        for group in groups
        for status, text in group.items()
    }


PARAMETER_ERROR = {400: "A query parameter is invalid (code `invalid_parameter`); the message names it"}
STORE_ERROR = {503: "The state store cannot answer, or the settings are invalid (code `unavailable`)"}
OTHER_ERRORS: dict[int | str, dict[str, Any]] = {
    "default": {
        "model": ErrorResponse,
        "description": "Any other error in the same envelope: 404 `not_found` (unknown path), "
        "405 `method_not_allowed`, 500 `internal_error`",
    }
}

_PROBLEMS: dict[str, str] = {
    "int_parsing": "must be an integer",
    "greater_than_equal": "must be at least {ge}",
    "less_than_equal": "must be at most {le}",
    "literal_error": "must be {expected}",
    "string_too_long": "must be at most {max_length} characters long",
    "missing": "is required",
}


def parameter_message(errors: Sequence[Any]) -> str:
    """One line from FastAPI's validation errors: the first parameter and its problem, e.g. ``limit must be at
    least 1, not '0'``."""
    first: Mapping[str, Any] = errors[0] if errors else {}
    loc = first.get("loc") or ("request",)
    name, kind, ctx = str(loc[-1]), first.get("type", ""), first.get("ctx") or {}
    if kind == "string_too_short":
        problem = "must not be empty" if ctx.get("min_length") == 1 else "is too short"
    elif kind in _PROBLEMS:
        problem = _PROBLEMS[kind].format(**ctx)
    else:
        problem = "is invalid: " + str(first.get("msg", "")).lower()
    given = first.get("input")
    text = f"{name} {problem}" + (f", not {given[:MAX_ECHO]!r}" if isinstance(given, str) and given else "")
    return text + (f" ({len(errors) - 1} more problem(s))" if len(errors) > 1 else "")


async def _validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return error_response(400, "invalid_parameter", parameter_message(exc.errors()))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    path = request.url.path[:MAX_ECHO]
    code = CODES.get(exc.status_code) or ("internal_error" if exc.status_code >= 500 else "invalid_request")
    if exc.status_code == 404:
        message = f"no endpoint at {path}; /docs lists them"
    elif exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "GET")
        message = f"{request.method[:16]} is not allowed on {path}; use {allowed}"
    else:
        message = str(exc.detail).splitlines()[0] if exc.detail else "request refused"
    return error_response(exc.status_code, code, message, exc.headers)


async def _config_error(request: Request, exc: Exception) -> Response:
    # A ConfigError may quote the database URL: the log gets it, the client does not.
    log.error("%s %s: invalid settings: %s", request.method, request.url.path, exc)
    return error_response(503, "unavailable", SETTINGS_INVALID)


async def _store_error(request: Request, exc: Exception) -> Response:
    log.warning("%s %s: the state store did not answer: %s", request.method, request.url.path, one_line(exc))
    return error_response(503, "unavailable", STORE_UNAVAILABLE)


async def _unexpected_error(_request: Request, _exc: Exception) -> Response:
    # Starlette's ServerErrorMiddleware re-raises after this answer: the server logs the traceback.
    return error_response(500, "internal_error", UNEXPECTED)


def one_line(exc: BaseException) -> str:
    """The first line of an error (of its driver error for SQLAlchemy), for the log."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def install_error_handlers(app: FastAPI) -> None:
    """Every error the app can raise, answered in the envelope."""
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(ConfigError, _config_error)
    app.add_exception_handler(PersistenceError, _store_error)
    app.add_exception_handler(SQLAlchemyError, _store_error)
    app.add_exception_handler(Exception, _unexpected_error)


async def store_answer(
    what: str, pending: Awaitable[bytes | None], *, store: str, missing: str = ""
) -> Response:
    """The JSON answer a read API's copy of the ``store`` gives (``what``: the request, for the log); 404
    ``missing`` when it has none; 500 in the envelope when the store cannot answer (as `/search`'s contract
    says), the cause logged, never answered."""
    try:
        body = await pending
    except ConfigError as exc:  # its message may quote the database URL: for the log only
        log.error("%s: invalid settings: %s", what, exc)
        return error_response(500, "internal_error", SETTINGS_INVALID)
    except (SQLAlchemyError, PersistenceError) as exc:
        log.warning("%s: the %s did not answer: %s", what, store, one_line(exc))
        return error_response(500, "internal_error", f"the {store} is unavailable; try again shortly")
    except Exception:
        log.exception("%s failed", what)
        return error_response(500, "internal_error", UNEXPECTED)
    if body is None:
        return error_response(404, "not_found", missing)
    return Response(body, media_type="application/json")
