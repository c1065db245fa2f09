"""Shared helpers for the sandbox tests."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
from starlette.testclient import TestClient

from sync_core.sandbox import SandboxHandle, SandboxState, build_app


def linked_ids(handle: SandboxHandle) -> list[int]:
    """Store variant ids whose sku is an Anar360 variant `_id`, in id order."""
    cat = handle.state.catalogue
    return sorted(v.id for v in cat.store_variants.values() if v.sku in cat.variant_index)


INGRAM_TOKEN = "/ingram/oauth/oauth20/token"
INGRAM_PNA = "/ingram/resellers/v6/catalog/priceandavailability?includeAvailability=true&includePricing=true"
INGRAM_DETAILS = "/ingram/resellers/v6/catalog/details/"


class IngramCaller:
    """Drives the Ingram simulator of an in-process sandbox (no server) the way the contract says."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.http = TestClient(build_app(state), base_url="http://sandbox")
        self._ids = itertools.count(1)
        self._token: str | None = None

    def credentials(self, **overrides: str) -> dict[str, str]:
        """The token call's form: grant_type, client_id and client_secret (overridable)."""
        cfg = self.state.config
        form = {
            "grant_type": "client_credentials",
            "client_id": cfg.ingram_client_id,
            "client_secret": cfg.ingram_client_secret,
        }
        return {**form, **overrides}

    def token(self) -> str:
        """A fresh token (also kept for the next calls)."""
        answer = self.http.post(INGRAM_TOKEN, data=self.credentials())
        assert answer.status_code == 200, answer.text
        self._token = str(answer.json()["access_token"])
        return self._token

    def headers(self, **overrides: str | None) -> dict[str, str]:
        """The catalog headers with a new IM-CorrelationID; an override of None leaves a header out."""
        headers: dict[str, str | None] = {
            "Authorization": f"Bearer {self._token or self.token()}",
            "IM-CustomerNumber": self.state.config.ingram_customer_number,
            "IM-CountryCode": "US",
            "IM-CorrelationID": f"test-{next(self._ids)}",
            **overrides,
        }
        return {k: v for k, v in headers.items() if v is not None}

    def pna(self, parts: list[Any], path: str = INGRAM_PNA, **headers: str | None) -> httpx.Response:
        """One price-and-availability call for `parts` (request order kept)."""
        body = {"products": [{"ingramPartNumber": part} for part in parts]}
        return self.http.post(path, json=body, headers=self.headers(**headers))

    def details(self, part: str, **headers: str | None) -> httpx.Response:
        """One details call."""
        return self.http.get(INGRAM_DETAILS + part, headers=self.headers(**headers))
