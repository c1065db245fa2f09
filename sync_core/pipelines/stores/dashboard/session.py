"""Who may use the dashboard: a login cookie, or HTTP Basic with API_TOKEN as the password (any user name).

The cookie never holds the token: it is ``<issued>.<nonce>.<mac>``, the MAC an HMAC-SHA256 of the first two
parts under a key derived from API_TOKEN, good for :data:`SESSION_S`. A changed API_TOKEN changes the key, so
it logs everyone out. Every form that changes something carries a CSRF token: an HMAC of the session cookie
(of the word ``basic`` for HTTP Basic) under the same key, checked in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import Response

from catalog_sync.service.auth import access_of
from catalog_sync.service.deps import request_settings
from catalog_sync.service.errors import SETTINGS_INVALID
from sync_core.errors import ConfigError
from sync_core.pipelines.stores.dashboard.render import LoginRequired, Problem, log, prefix_of
from sync_core.settings import Settings

COOKIE = "catalog_sync_dashboard"
SESSION_S = 12 * 3600
CLOCK_SKEW_S = 60  # a cookie issued this far "in the future" (another worker's clock) still counts
KEY_CONTEXT = b"catalog-sync dashboard session v1"
BASIC_CHALLENGE = {"WWW-Authenticate": 'Basic realm="catalog-sync dashboard", charset="UTF-8"'}
WRONG_TOKEN = "wrong API token"
STALE_FORM = "the form's CSRF token is missing or stale: reload the page and send it again"


@dataclass(frozen=True)
class Login:
    """A request that proved it knows API_TOKEN; ``csrf`` is what its forms must send back."""

    key: bytes
    binding: str  # the session cookie, or "basic"

    @property
    def csrf(self) -> str:
        return mac(self.key, "csrf", self.binding)


def session_key(token: bytes) -> bytes:
    """The key sessions and CSRF tokens are signed with, derived from API_TOKEN's bytes."""
    return hmac.new(token, KEY_CONTEXT, hashlib.sha256).digest()


def mac(key: bytes, purpose: str, text: str) -> str:
    return hmac.new(key, f"{purpose}\0{text}".encode(), hashlib.sha256).hexdigest()


def new_session(key: bytes, now: float | None = None) -> str:
    """A fresh cookie value: issued now, signed with ``key``."""
    body = f"{int(time.time() if now is None else now)}.{secrets.token_urlsafe(12)}"
    return f"{body}.{mac(key, 'session', body)}"


def session_valid(key: bytes, value: str, now: float | None = None) -> bool:
    """Whether ``value`` was signed with ``key`` and issued less than SESSION_S ago."""
    issued, _, rest = value.partition(".")
    nonce, _, signature = rest.partition(".")
    if not (issued.isascii() and issued.isdigit() and nonce and signature) or len(value) > 200:
        return False
    if not hmac.compare_digest(signature.encode(), mac(key, "session", f"{issued}.{nonce}").encode()):
        return False
    age = (time.time() if now is None else now) - int(issued)
    return -CLOCK_SKEW_S <= age <= SESSION_S


def token_matches(given: bytes, token: bytes) -> bool:
    """Constant time: no timing hint of a matching prefix."""
    return hmac.compare_digest(given, token)


def basic_password(authorization: str | None) -> bytes | None:
    """The password of an ``Authorization: Basic`` header (b"" when malformed); None without one."""
    scheme, _, value = (authorization or "").strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return b""
    _user, colon, password = decoded.partition(b":")
    return password if colon else b""


def dashboard_settings(request: Request) -> Settings:
    """The request's settings (``request_settings``); invalid ones are a 503 page, the reason in the log."""
    try:
        return request_settings(request)
    except ConfigError as exc:
        log.error("dashboard %s: invalid settings: %s", request.url.path[:64], exc)
        raise Problem(503, SETTINGS_INVALID) from None


SettingsPage = Annotated[Settings, Depends(dashboard_settings)]


def token_of(settings: Settings) -> bytes | None:
    return access_of(settings).token


async def require_login(request: Request, settings: SettingsPage) -> Login:
    """The login of the request (cookie or HTTP Basic); otherwise LoginRequired (a 303 to the login page),
    or a 401 page for a wrong Basic password."""
    token = token_of(settings)
    if token is None:
        raise LoginRequired(request, expired=False)
    key = session_key(token)
    password = basic_password(request.headers.get("authorization"))
    if password is not None:
        if token_matches(password, token):
            return Login(key, "basic")
        raise Problem(401, f"{WRONG_TOKEN} (the HTTP Basic password)", BASIC_CHALLENGE)
    cookie = request.cookies.get(COOKIE)
    if cookie and session_valid(key, cookie):
        return Login(key, cookie)
    raise LoginRequired(request, expired=bool(cookie))


LoggedIn = Annotated[Login, Depends(require_login)]


def check_csrf(login: Login, form: dict[str, str]) -> None:
    """A 403 page unless the form's ``csrf`` field is this login's."""
    if not hmac.compare_digest(form.get("csrf", "").encode(), login.csrf.encode()):
        raise Problem(403, STALE_FORM)


def set_session(response: Response, request: Request, value: str) -> None:
    """The login cookie: HttpOnly, SameSite=Strict, Path=the dashboard, Secure only over https."""
    response.set_cookie(
        COOKIE,
        value,
        max_age=SESSION_S,
        path=prefix_of(request),
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )


def clear_session(response: Response, request: Request) -> None:
    response.delete_cookie(
        COOKIE,
        path=prefix_of(request),
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
