"""Running the service under uvicorn on sockets bound first, so a taken port is a one-line ConfigError.

With several workers, each is a process of its own with its own app (``create_app()``, settings from the
environment) and, on Linux, its own ``SO_REUSEPORT`` socket on the port: the kernel spreads connections
evenly. On one shared socket (uvicorn's ``--workers``), whichever worker wakes first accepts a whole burst of
connections, and measured with 32 keep-alive clients, one worker of two got all of them in two runs of three.
"""

from __future__ import annotations

import multiprocessing
import signal
import socket
import threading
import time
from multiprocessing.process import BaseProcess
from types import FrameType

import uvicorn
from fastapi import FastAPI

from sync_core.errors import ConfigError

RESTART_PAUSE_S = 1.0  # a worker that dies sooner than this after its start stops the service instead
REUSE_PORT = hasattr(socket, "SO_REUSEPORT")


def listen(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A listening TCP socket on host:port; raises ConfigError when the address is taken or invalid."""
    try:
        family, kind, proto = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][:3]
        # The protocol must be IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on such sockets, and without it
        # every keep-alive answer waits ~40 ms for the client's delayed ACK (Nagle).
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    try:
        sock.setsockopt(
            socket.SOL_SOCKET, socket.SO_REUSEADDR, 1
        )  # as uvicorn does; a live listener still wins
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def listen_workers(host: str, port: int, workers: int) -> list[socket.socket]:
    """One listening socket per worker (one shared by all without SO_REUSEPORT); raises ConfigError."""
    first = listen(host, port)  # without SO_REUSEPORT: fails when anything listens there, reuse-port or not
    if workers == 1 or not REUSE_PORT:
        return [first] * workers
    port = first.getsockname()[1]
    first.close()
    sockets: list[socket.socket] = []
    try:
        for _ in range(workers):
            sockets.append(listen(host, port, reuse_port=True))
    except ConfigError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def serve(app: FastAPI, sock: socket.socket) -> None:
    """Serve ``app`` on ``sock`` in this process until SIGINT or SIGTERM. After SIGTERM it raises SystemExit(0)
    once uvicorn has shut down (uvicorn raises the signal again then, which would end the process before the
    caller's cleanup: `serve` removes its metrics directory)."""
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=5)
    previous = signal.signal(signal.SIGTERM, _exit)  # the handler uvicorn restores, then calls
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        signal.signal(signal.SIGTERM, previous)


def _exit(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


def _worker(sock: socket.socket) -> None:
    from catalog_sync.service.app import create_app

    serve(create_app(), sock)


def serve_workers(sockets: list[socket.socket]) -> None:
    """One worker process per socket until SIGINT or SIGTERM; a worker that dies is replaced, unless it died
    right after starting (a broken app would only die again): then every worker is stopped."""
    context = multiprocessing.get_context("spawn")
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)
    workers: list[tuple[BaseProcess, float]] = []
    for sock in sockets:
        workers.append(_start(context, sock))
    try:
        while not stop.wait(0.5):
            for n, (process, started) in enumerate(workers):
                if process.is_alive():
                    continue
                if time.monotonic() - started < RESTART_PAUSE_S:
                    stop.set()
                    break
                workers[n] = _start(context, sockets[n])
    finally:
        for process, _ in workers:
            process.terminate()
        for process, _ in workers:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join()


def _start(context: multiprocessing.context.SpawnContext, sock: socket.socket) -> tuple[BaseProcess, float]:
    process = context.Process(target=_worker, args=(sock,), daemon=False)
    process.start()
    return process, time.monotonic()
