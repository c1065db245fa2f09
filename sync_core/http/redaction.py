"""Keeping secrets out of audit rows, logs and messages: URLs, bodies and free text are redacted here."""

from __future__ import annotations

import json as jsonlib
import logging
import re
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote_plus

import httpx

REDACTED = "REDACTED"
_SECRET_WORDS = ("token", "secret", "passw", "authoriz", "credential", "signature")
_SECRET_TEXT = re.compile(  # name=value or "name": "value" in a body that is not JSON
    r"(?i)\b([\w-]*(?:token|secret|passw|authoriz|key)[\w-]*)([\"']?\s*[:=]\s*[\"']?)([^\"'&\s,;}]+)"
)


def is_secret_name(name: str) -> bool:
    """True for a header, query parameter or JSON key whose value must never be stored or shown."""
    low = name.lower().replace("-", "_")
    return low.endswith("key") or any(word in low for word in _SECRET_WORDS)


def redact_url(url: str) -> str:
    """The URL without user info and with secret-looking query values replaced."""
    if "?" not in url and "@" not in url:  # nothing to take out (most writes): no second parse
        return url
    parsed = httpx.URL(url)
    params = [(k, REDACTED if is_secret_name(k) else v) for k, v in parsed.params.multi_items()]
    return str(parsed.copy_with(params=params or None, username=None, password=None))


class RedactUrlsInLogs(logging.Filter):
    """Redacts the URLs a log record carries as arguments: httpx logs every request as ``HTTP Request: GET
    <url>`` at INFO, user info and query credentials (WooCommerce's consumer_key/consumer_secret) included."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(arg, httpx.URL) for arg in record.args):
            record.args = tuple(
                redact_url(str(arg)) if isinstance(arg, httpx.URL) else arg for arg in record.args
            )
        return True


def redact_library_logs() -> None:
    """Install :class:`RedactUrlsInLogs` on httpx's logger (once)."""
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, RedactUrlsInLogs) for f in logger.filters):
        logger.addFilter(RedactUrlsInLogs())


def scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:  # the client's own credentials, wherever a server or library echoes them
        if len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    return text


def header_secrets(name: str, value: str) -> list[str]:
    """The secrets a header carries: its value when its name is a secret one, and the token of
    "Bearer <token>"."""
    if not is_secret_name(name):
        return []
    return [part for part in (value, *value.split(" ")[1:]) if part]


class Secrets:
    """A client's secrets, scrubbed from every text it stores or shows: those it was built with, and those
    it learns while it runs (a token fetched at run time), of which it keeps the latest ``keep_learned``.
    Thread-safe; ``values`` is a list that is replaced, never changed, so a reader may keep it."""

    def __init__(self, values: Iterable[str] = (), *, keep_learned: int = 16) -> None:
        self._fixed = [value for value in values if value]
        self._learned: list[tuple[str, ...]] = []  # each learned secret in the forms it may be seen in
        self._keep = keep_learned
        self._lock = threading.Lock()
        self.values: list[str] = list(self._fixed)

    @classmethod
    def of(cls, headers: dict[str, str], url: httpx.URL) -> Secrets:
        """The secrets of a client's headers and of its base URL (basic-auth credentials)."""
        fixed = [secret for name, value in headers.items() for secret in header_secrets(name, value)]
        if url.password:
            fixed += [f"{url.username}:{url.password}", url.password]
        return cls(fixed)

    def add(self, value: str) -> None:
        """Learn ``value`` (and its URL-encoded form, as a form body carries it); a known one is a no-op."""
        forms = tuple(form for form in dict.fromkeys((value, quote_plus(value))) if form)
        if all(form in self.values for form in forms):
            return
        with self._lock:
            learned = [known for known in self._learned if known != forms] + [forms]
            self._learned = learned[-self._keep :]
            self.values = self._fixed + [form for known in self._learned for form in known]

    def add_header(self, name: str, value: str) -> None:
        """Learn the secrets a header carries (see :func:`header_secrets`)."""
        for secret in header_secrets(name, value):
            self.add(secret)


def _redact_json(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: REDACTED if is_secret_name(str(k)) else _redact_json(v) for k, v in data.items()}
    return [_redact_json(v) for v in data] if isinstance(data, list) else data


def redact_body(content: bytes, secrets: list[str], max_chars: int) -> str | None:
    """A body fit for the audit trail: secret keys redacted, known secrets scrubbed, truncated."""
    if not content:
        return None
    text = content.decode("utf-8", "replace")
    try:
        text = jsonlib.dumps(_redact_json(jsonlib.loads(text)), ensure_ascii=False)
    except ValueError:
        text = _SECRET_TEXT.sub(lambda m: m.group(1) + m.group(2) + REDACTED, text)
    return scrub(text, secrets)[:max_chars]
