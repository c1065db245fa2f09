"""Keeping secrets out of audit rows, logs and messages: URLs, bodies and free text are redacted here."""

from __future__ import annotations

import json as jsonlib
import re
from typing import Any

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


def scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:  # the client's own credentials, wherever a server or library echoes them
        if len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    return text


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
