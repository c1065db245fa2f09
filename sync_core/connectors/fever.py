"""The Fever events feed (contracts/fever.md): one GET of the whole current snapshot, as XML.

The answer is spooled to a temporary file as it arrives (memory stays flat however large the feed is), then
parsed as a stream by :func:`sync_core.mapping.fever_events.parse_feed`. A ``file://`` URL reads a saved
answer instead (no HTTP).
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import IO
from urllib.parse import unquote, urlsplit

from typing_extensions import Unpack

from sync_core import errors
from sync_core.connectors.base import HttpConnector, Wiring
from sync_core.engine.connections import Connection
from sync_core.http.client import ReadBounds
from sync_core.http.responses import default_reader
from sync_core.settings import Settings

SPOOL_IN_MEMORY_BYTES = 4 * 1024 * 1024  # a larger answer goes to a temporary file


def feed_file(url: str) -> Path | None:
    """The local file a ``file://`` feed URL names; None for any other URL."""
    parts = urlsplit(url)
    return Path(unquote(parts.path)) if parts.scheme == "file" else None


def refuse_credentials(url: str, what: str) -> None:
    """ConfigError when ``url`` carries user:password@: given as a parameter, it would be stored with the run."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        raise errors.ConfigError(
            f"{what} must not carry credentials (user:password@): they would be stored with the run; put "
            "that URL in FEVER_PROVIDER_URL (environment or .env), where they stay out of runs and logs"
        )


class FeverFeed(HttpConnector):
    """The feed at a connection's URL (the default connection's is FEVER_PROVIDER_URL), or at ``url``; use as
    a context manager."""

    provider = "fever"
    base_setting = "fever_provider_url"
    schemes = ("http", "https", "file")

    def __init__(
        self,
        settings: Settings,
        connection: Connection | None = None,
        *,
        url: str | None = None,
        **wiring: Unpack[Wiring],
    ) -> None:
        """``url`` (a run parameter) overrides the connection's URL (FEVER_PROVIDER_URL, which may then be
        unset); it may not carry credentials, which would be stored with the run's parameters: those belong in
        FEVER_PROVIDER_URL, where they are redacted."""
        if url:
            refuse_credentials(url, "a feed URL given as a run parameter")
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https", "file"):
                raise errors.ConfigError(f"fever feed URL must be http(s):// or file://, not {url!r}")
            if connection is None:
                connection = self.resolve(settings.model_copy(update={"fever_provider_url": url}), None)
            connection = replace(connection, base_url=url)
        connection = self.resolve(settings, connection)
        self.url = connection.base_url
        parts = urlsplit(self.url)
        self._file = feed_file(self.url)
        base = f"{parts.scheme}://{parts.netloc}" if self._file is None else "http://localhost"
        super().__init__(
            settings, replace(connection, base_url=base), headers={}, reader=default_reader, **wiring
        )
        self.connection = connection  # the whole feed URL: a check's success is remembered for it
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    def _check(self) -> None:
        """A saved answer's file is readable; an http(s) feed answers a HEAD (any answer but 401/403 will do:
        the feed has no credentials unless its URL carries them)."""
        if self._file is not None:
            if not self._file.is_file():
                raise errors.ConfigError(f"no such feed file: {self._file}")
            return
        try:
            self.http.request("HEAD", self._path, context="check feed")
        except errors.AuthError as exc:
            where = "FEVER_PROVIDER_URL" if self.connection.is_default else "its URL"
            raise errors.AuthError(
                f"{self.connection.name}: the feed refused the credentials of {where} (HTTP {exc.status})",
                provider=self.connection.name,
                status=exc.status,
            ) from exc
        except errors.PermanentError:
            pass  # it answered: HEAD may be refused or unknown, the GET says what is wrong with it

    def fetch(self) -> IO[bytes]:
        """The whole answer, rewound, in a spooled temporary file (the caller closes it)."""
        spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES)  # noqa: SIM115
        try:
            if self._file is not None:
                self._copy_file(spool)
            else:
                bounds = ReadBounds(
                    self.settings.feed_deadline_s,
                    self.settings.feed_max_mb * 1024 * 1024,
                    deadline_setting="FEED_DEADLINE_S",
                    size_setting="FEED_MAX_MB",
                )
                self.http.download(self._path, spool, bounds=bounds, context="events feed")
        except BaseException:
            spool.close()
            raise
        return spool

    def _copy_file(self, spool: IO[bytes]) -> None:
        assert self._file is not None
        try:
            with self._file.open("rb") as f:
                shutil.copyfileobj(f, spool)
        except OSError as exc:
            raise errors.ConfigError(
                f"{self.connection.name}: cannot read {self._file}: {exc.strerror}"
            ) from None
        spool.seek(0)
