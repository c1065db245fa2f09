"""Bearer-token protection of the service: ``Authorization: Bearer <API_TOKEN>``, compared in constant time.

Endpoints that change something (``POST /pipelines/{name}/runs``) always ask for the token, and answer 503
while API_TOKEN is not set rather than run open. Read-only endpoints ask for it only with
API_TOKEN_FOR_READS=true. `/docs`, `/openapi.json` and the docs' assets never do. The guards themselves are
dependencies in :mod:`catalog_sync.service.deps` (``WriteAccess``, ``ReadAccess``); this module holds the
check, the refusal answers and their documentation. A refusal is logged without the token.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.responses import Response
from fastapi.security.base import SecurityBase
from pydantic import BaseModel, Field

from catalog_sync.service.errors import MAX_ECHO, error_response
from sync_core.settings import Settings

log = logging.getLogger(__name__)

SCHEME_NAME = "bearerAuth"
CHALLENGE = {"WWW-Authenticate": "Bearer"}
MISSING = "missing bearer token: send the header Authorization: Bearer <API_TOKEN>"
WRONG = "wrong bearer token"
UNSET_FOR_WRITES = (
    "API_TOKEN is not set: endpoints that change something refuse to run without one; set it and send it "
    "as Authorization: Bearer <API_TOKEN>"
)
UNSET_FOR_READS = (
    "API_TOKEN is not set, and API_TOKEN_FOR_READS=true asks it of every endpoint; set API_TOKEN and send it "
    "as Authorization: Bearer <API_TOKEN>"
)


@dataclass(frozen=True)
class Access:
    """What the guards compare against: the token's bytes (None: not set) and whether reads need it."""

    token: bytes | None
    for_reads: bool


def access_of(settings: Settings) -> Access:
    token = settings.api_token.get_secret_value().encode() if settings.api_token is not None else None
    return Access(token=token, for_reads=settings.api_token_for_reads)


class AccessRefused(Exception):
    """A request the guards refuse; answered in the error envelope by :func:`install_auth`'s handler."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def presented_token(authorization: str | None) -> bytes | None:
    """The token of an ``Authorization: Bearer <token>`` header (scheme in any case); None without one."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token.encode("latin-1")  # as the client sent it: Starlette decodes header bytes as latin-1


def check(access: Access, authorization: str | None, *, write: bool) -> None:
    """Raise AccessRefused unless ``authorization`` carries the token; 503 when there is no token to ask."""
    if access.token is None:
        raise AccessRefused(503, "unavailable", UNSET_FOR_WRITES if write else UNSET_FOR_READS)
    given = presented_token(authorization)
    if given is None:
        raise AccessRefused(401, "unauthorized", MISSING, CHALLENGE)
    if not hmac.compare_digest(given, access.token):  # constant time: no timing hint of a matching prefix
        raise AccessRefused(401, "unauthorized", WRONG, CHALLENGE)


class BearerScheme(SecurityBase):
    """Base of the guards: FastAPI documents a dependency that is a SecurityBase as the operation's security
    requirement, and its ``model`` as the scheme (one ``bearerAuth`` scheme for both guards)."""

    def __init__(self) -> None:
        self.model = HTTPBearerModel(
            description="`Authorization: Bearer <API_TOKEN>`. Asked by every endpoint that changes something "
            "(503 while API_TOKEN is not set), and by the read-only ones only with API_TOKEN_FOR_READS=true."
        )
        self.scheme_name = SCHEME_NAME


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AccessRefused)
    client = request.client.host if request.client else "?"
    path = request.url.path[:MAX_ECHO]
    # The message never holds the token; the header is not logged at all.
    log.warning("%s %s from %s refused (%s): %s", request.method[:16], path, client, exc.status, exc.message)
    return error_response(exc.status, exc.code, exc.message, exc.headers)


def install_auth(app: FastAPI) -> None:
    """Answer the guards' refusals in the error envelope."""
    app.add_exception_handler(AccessRefused, _refused)


class RefusalOut(BaseModel):
    code: Literal["unauthorized", "unavailable"] = Field(
        description="unauthorized: 401, the bearer token is missing or wrong; unavailable: 503, API_TOKEN is "
        "not set",
        examples=["unauthorized"],
    )
    message: str = Field(description="one line; never the token", examples=[WRONG])


class RefusalResponse(BaseModel):
    """The error envelope of a refused token."""

    data: None = None
    error: RefusalOut


UNAUTHORIZED = {
    "model": RefusalResponse,
    "description": "No bearer token, or the wrong one (code `unauthorized`, header `WWW-Authenticate: Bearer`)",
    "headers": {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}},
}
READ_REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {
        **UNAUTHORIZED,
        "description": "Only with API_TOKEN_FOR_READS=true: no bearer token, or the wrong one (code "
        "`unauthorized`, header `WWW-Authenticate: Bearer`)",
    },
}
WRITE_REFUSALS: dict[int | str, dict[str, Any]] = {401: UNAUTHORIZED}
# The security requirement the guards document, for a route that calls deps.check_read itself.
READ_SECURITY: dict[str, Any] = {"security": [{SCHEME_NAME: []}]}
