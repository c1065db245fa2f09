"""The Ingram simulator's live state: its catalogue, the tokens it issued, maintenance, and its traffic.

Owned by `SandboxState` (as `state.ingram`) and guarded by the same lock; `SandboxState.configure` keeps
`config` current.
"""

from __future__ import annotations

import hmac
import math
import random
import secrets
import threading
import time
from typing import Any

from sync_core.sandbox.ingram_catalogue import IngramCatalogue, unknown_part_numbers
from sync_core.sandbox.ingram_traffic import IngramTraffic
from sync_core.sandbox.records import SandboxConfig


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


class IngramState:
    """Everything the Ingram endpoints read or change, behind the sandbox's lock (`self.lock`)."""

    def __init__(self, config: SandboxConfig, lock: threading.RLock) -> None:
        self.config = config
        self.lock = lock
        self.catalogue = IngramCatalogue(config.ingram_parts, config.seed)
        self.traffic = IngramTraffic()
        self._tokens: dict[str, float] = {}  # token -> time.monotonic() it expires at
        self.tokens_issued: list[str] = []  # every token ever issued, for "no secret leaked" checks
        self._nest_rng = random.Random(config.seed * 6_700_417 + 5)
        self._change_rng = random.Random(config.seed * 15_485_863 + 9)
        self._maintenance_until = 0.0
        self.start_maintenance(config.ingram_maintenance_s)

    # ----- catalogue ---------------------------------------------------------------------------------
    @property
    def parts(self) -> list[str]:
        """Every part number the sandbox knows, in a stable order (a copy)."""
        with self.lock:
            return list(self.catalogue.parts)

    @staticmethod
    def unknown_parts(count: int) -> list[str]:
        """`count` part numbers the sandbox never knows (answered as 207 "E" items, details 404)."""
        return unknown_part_numbers(count)

    def change(self, count: int, seed: int | None = None) -> list[str]:
        """Change price and/or stock of `count` distinct parts (seeded); returns their part numbers."""
        with self.lock:
            rng = random.Random(seed) if seed is not None else self._change_rng
            changed = self.catalogue.change(rng, count)
            self.traffic.changes += len(changed)
            return changed

    def nest_pricing(self) -> bool:
        """Whether the next 200 P&A answer nests `pricing` inside `availability` (ingram_nested_pricing)."""
        with self.lock:
            share = self.config.ingram_nested_pricing
            return share >= 1 or (share > 0 and self._nest_rng.random() < share)

    # ----- tokens ------------------------------------------------------------------------------------
    def credentials_ok(self, client_id: str, client_secret: str) -> bool:
        """True for the configured client id and secret."""
        cfg = self.config
        return _same(client_id, cfg.ingram_client_id) & _same(client_secret, cfg.ingram_client_secret)

    def issue_token(self) -> tuple[str, str]:
        """A new token living `ingram_token_ttl_s`: (token, the `expires_in` string the answer claims)."""
        with self.lock:
            ttl = self.config.ingram_token_ttl_s
            now = time.monotonic()
            self._tokens = {t: until for t, until in self._tokens.items() if until > now}
            token = secrets.token_urlsafe(24)
            self._tokens[token] = now + ttl
            self.tokens_issued.append(token)
            claimed = self.config.ingram_token_expires_in or math.ceil(ttl)
            return token, str(claimed)

    def token_ok(self, token: str) -> bool:
        """True for an issued token that has not expired."""
        with self.lock:
            until = self._tokens.get(token)
            return until is not None and time.monotonic() < until

    def expire_tokens(self) -> int:
        """Expire every token now (the next catalog call with one gets 401); returns how many were live."""
        with self.lock:
            now = time.monotonic()
            live = sum(until > now for until in self._tokens.values())
            self._tokens.clear()
            return live

    # ----- maintenance -------------------------------------------------------------------------------
    def start_maintenance(self, seconds: float) -> None:
        """Answer every Ingram call 503 (maintenance) for `seconds` from now; 0 ends a window."""
        with self.lock:
            self._maintenance_until = time.monotonic() + seconds if seconds > 0 else 0.0

    def in_maintenance(self) -> bool:
        """True while a maintenance window is open."""
        with self.lock:
            return time.monotonic() < self._maintenance_until

    # ----- stats -------------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Traffic per endpoint and the P&A figures (see IngramTraffic.stats), plus tokens issued."""
        with self.lock:
            data = self.traffic.stats()
            data["tokens_issued"] = len(self.tokens_issued)
            return data

    def reset_stats(self) -> None:
        """Zero the traffic counters (catalogue, tokens and rate-limit windows are untouched)."""
        with self.lock:
            self.traffic.reset()
