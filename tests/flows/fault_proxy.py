"""An HTTP forwarder in front of the sandbox that spoils chosen requests the way real providers and networks do:
429 with Retry-After in seconds or as an HTTP date, 5xx, a silence past the client's timeout, a connection
reset halfway through the body, a body cut short (malformed JSON or XML), an HTML error page answered 200,
a 401 in the middle of a run, and a write that is applied upstream but answered with an error.

A fault is armed for the requests a predicate picks: it lets ``skip`` of them through first, then spoils the
next ``times``. Everything else is forwarded untouched.
"""

from __future__ import annotations

import http.client
import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

Picks = Callable[[str, str], bool]  # (method, path) → whether this fault may spoil the request

HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}
HTML_PAGE = b"<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"


@dataclass
class Fault:
    # 429-seconds | 429-date | 5xx | timeout | reset | malformed | html-200 | 401 | applied-error | corrupt
    kind: str
    picks: Picks
    skip: int = 0
    times: int = 1
    seen: int = 0
    spoiled: int = 0

    def take(self, method: str, path: str) -> bool:
        if self.spoiled >= self.times or not self.picks(method, path):
            return False
        self.seen += 1
        if self.seen <= self.skip:
            return False
        self.spoiled += 1
        return True


@dataclass
class FaultProxy:
    """Forwards to ``upstream`` (scheme://host:port); ``url`` is its own address."""

    upstream: str
    timeout_s: float = 1.0  # the silence of a "timeout" lasts a little longer than this
    url: str = ""
    delay_s: float = 0.0  # added to every forwarded request (to catch a run in the middle)
    corrupted: int = 0  # records a "corrupt" fault spoiled
    requests: list[str] = field(default_factory=list)  # "<method> <path>" of every request, in order
    faults: list[Fault] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def arm(self, fault: Fault) -> Fault:
        with self.lock:
            self.faults = [fault]
        return fault

    def disarm(self) -> None:
        with self.lock:
            self.faults = []

    def corrupt(self, answer: bytes) -> bytes:
        """A JSON answer whose first record (the first object of its first list of objects) has every number
        replaced by text: an invalid record, the rest of the page intact."""
        try:
            document = json.loads(answer)
        except ValueError:
            return answer
        record = _first_record(document)
        if record is None:
            return answer
        with self.lock:
            self.corrupted += 1
        _spoil_numbers(record)
        return json.dumps(document).encode()

    def choose(self, method: str, path: str) -> str | None:
        with self.lock:
            self.requests.append(f"{method} {path}")
            for fault in self.faults:
                if fault.take(method, path):
                    return fault.kind
        return None


def _first_record(value: object) -> dict[str, object] | None:
    if isinstance(value, list):
        if value and all(isinstance(item, dict) for item in value):
            return value[0]  # type: ignore[no-any-return]
        for item in value:
            found = _first_record(item)
            if found is not None:
                return found
    if isinstance(value, dict):
        for item in value.values():
            found = _first_record(item)
            if found is not None:
                return found
    return None


def _spoil_numbers(value: object) -> None:
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in list(items):
        if isinstance(item, int | float) and not isinstance(item, bool):
            value[key] = "not-a-number"  # type: ignore[index]
        else:
            _spoil_numbers(item)


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    target = urlsplit(proxy.upstream)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (http.server's name)
            pass

        def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
            conn = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port, timeout=60)
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
                headers["Host"] = target.netloc
                conn.request(self.command, self.path, body=body or None, headers=headers)
                answer = conn.getresponse()
                return answer.status, answer.getheaders(), answer.read()
            finally:
                conn.close()

        def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers:
                if name.lower() not in HOP_HEADERS:
                    self.send_header(name, value)
            if self.command == "HEAD":  # the upstream's length of the body it would send
                length = next((v for k, v in headers if k.lower() == "content-length"), None)
                if length is not None:
                    self.send_header("Content-Length", length)
                self.end_headers()
                return
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _plain(self, status: int, body: bytes, content_type: str, **extra: str) -> None:
            self._send(status, [("Content-Type", content_type), *extra.items()], body)

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            kind = proxy.choose(self.command, self.path)
            error = b'{"message": "injected"}'
            if kind == "429-seconds":
                return self._plain(429, error, "application/json", **{"Retry-After": "1"})
            if kind == "429-date":
                when = formatdate(time.time() + 1, usegmt=True)
                return self._plain(429, error, "application/json", **{"Retry-After": when})
            if kind == "5xx":
                return self._plain(503, error, "application/json")
            if kind == "401":
                return self._plain(401, b'{"message": "Unauthorized"}', "application/json")
            if kind == "html-200":
                return self._plain(200, HTML_PAGE, "text/html")
            if kind == "timeout":
                time.sleep(proxy.timeout_s + 0.5)
                self.close_connection = True
                return None
            if proxy.delay_s:
                time.sleep(proxy.delay_s)
            status, headers, answer = self._forward(body)
            if kind == "corrupt":
                answer = proxy.corrupt(answer)
            if kind == "applied-error":  # it landed upstream; the caller only sees a proxy's error page
                return self._plain(502, HTML_PAGE, "text/html")
            if kind == "malformed":
                return self._send(status, headers, answer[: max(1, len(answer) // 2)])
            if kind == "reset":
                return self._reset(status, headers, answer)
            return self._send(status, headers, answer)

        def _reset(self, status: int, headers: list[tuple[str, str]], answer: bytes) -> None:
            """Headers announcing the whole body, half of it, then a TCP reset."""
            self.send_response(status)
            for name, value in headers:
                if name.lower() not in HOP_HEADERS:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer[: len(answer) // 2])
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()

        do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _handle  # noqa: N815 (http.server's naming)

    return Handler


@contextmanager
def fault_proxy(upstream: str, *, timeout_s: float = 1.0) -> Iterator[FaultProxy]:
    proxy = FaultProxy(upstream.rstrip("/"), timeout_s)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(proxy))
    server.daemon_threads = True
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
