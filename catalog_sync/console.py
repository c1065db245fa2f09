"""What a flow run started from the command line shows, and where Prefect keeps it.

- The terminal: Prefect's progress lines on stdout, one line each (no traceback); stderr is left to the
  command's own one-line verdict. The full log, tracebacks included, goes to LOG_FILE as well.
- A run's progress (pages done of expected, rate, ETA; sync_core.engine.progress): a bar on stderr rewritten
  in place when stderr is a terminal, else plain lines on stdout every 2 s at most (showing_progress).
- Without a Prefect server (no PREFECT_API_URL), Prefect starts a temporary one; its database is set to
  ``var/prefect-local.db`` here, so command-line and demo runs never land in the database of a Prefect server
  started from the same home directory (``~/.prefect``) for operations.
"""

from __future__ import annotations

import functools
import logging
import logging.handlers
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from sync_core.engine.progress import INTERVAL_S, Clock, Snapshot, Throttle, describe, listening

LOCAL_PREFECT_DATABASE = Path("var") / "prefect-local.db"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class WithoutTraceback(logging.Formatter):
    """Formats a record with another formatter, leaving out its traceback and stack."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        saved = record.exc_info, record.exc_text, record.stack_info
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        try:
            return self.inner.format(record)
        finally:
            record.exc_info, record.exc_text, record.stack_info = saved


class _FullLog(logging.handlers.RotatingFileHandler):
    """The LOG_FILE handler (a class of its own, so a second set-up finds it)."""


def prepare_flow_run(log_file: str) -> None:
    """Point the temporary Prefect server (if one is needed) at its own database, say it is starting, and
    set up the terminal and LOG_FILE as the module docstring says. Imports Prefect: call it only to run."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from prefect.settings import get_current_settings

    if get_current_settings().api.url is None:
        LOCAL_PREFECT_DATABASE.parent.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault(
            "PREFECT_SERVER_DATABASE_CONNECTION_URL",
            f"sqlite+aiosqlite:///{LOCAL_PREFECT_DATABASE.resolve()}",
        )
        print(
            "no PREFECT_API_URL: starting a temporary Prefect server for this run (about 10 s; "
            "set PREFECT_API_URL to use a running one)",
            flush=True,
        )
    _terminal_and_file(log_file)


def _terminal_and_file(log_file: str) -> None:
    from prefect.logging.configuration import ensure_logging_setup
    from prefect.logging.handlers import PrefectConsoleHandler

    ensure_logging_setup()  # Prefect configures logging on first use; do it now, then adjust it

    root = logging.getLogger()
    for handler in root.handlers:
        if isinstance(handler, PrefectConsoleHandler):
            # Not setStream: it flushes the stream it replaces, which a caller may have closed (a run before
            # this one in the same process, whose stdout was a capture).
            handler.acquire()
            try:
                handler.stream = sys.stdout
            finally:
                handler.release()
            handler.console.file = sys.stdout
            if handler.formatter is not None and not isinstance(handler.formatter, WithoutTraceback):
                handler.setFormatter(WithoutTraceback(handler.formatter))
    if log_file and not any(isinstance(h, _FullLog) for h in root.handlers):
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        full = _FullLog(log_file, maxBytes=10 * 1024 * 1024, backupCount=3, encoding="utf-8")
        full.setFormatter(logging.Formatter(LOG_FORMAT))
        full.setLevel(logging.INFO)
        root.addHandler(full)


CLEAR_LINE = "\r\x1b[K"


def _separator(stream: TextIO) -> str:
    """`` · `` where the stream can encode it (a text buffer without an encoding can), else `` - ``."""
    try:
        " · ".encode(getattr(stream, "encoding", None) or "utf-8")
    except (LookupError, UnicodeEncodeError):
        return " - "
    return " · "


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


class ProgressBar:
    """A run's progress as one line on a terminal, rewritten in place (``\\r``) at most ``min_interval_s``
    apart; log lines print above it (:meth:`print_above`); a finished run's line stays, ending in a newline."""

    WIDTH = 20

    def __init__(self, stream: TextIO, *, min_interval_s: float = 0.1, clock: Clock = time.monotonic) -> None:
        self.stream = stream
        self._sep = _separator(stream)
        self._throttle = Throttle(min_interval_s, clock)
        self._lock = threading.RLock()
        self._shown: Snapshot | None = None  # what the line shows now; None: no line

    def __call__(self, snapshot: Snapshot) -> None:
        with self._lock:
            if snapshot.finished:
                self._write(CLEAR_LINE + self._text(snapshot) + "\n")
                self._shown = None
            else:
                self._shown = snapshot  # a redraw after a log line shows the latest
                if self._throttle.due():
                    self._draw()

    def print_above(self, emit: Callable[[logging.LogRecord], None], record: logging.LogRecord) -> None:
        """``emit(record)`` (a console handler's) with the bar taken away first and drawn again after."""
        with self._lock:
            if self._shown is None:
                emit(record)
                return
            self._write(CLEAR_LINE)
            try:
                emit(record)
            finally:
                self._draw()

    def close(self) -> None:
        """Take the line away (a run that stopped: the verdict comes next)."""
        with self._lock:
            if self._shown is not None:
                self._write(CLEAR_LINE)
                self._shown = None

    def _text(self, snapshot: Snapshot) -> str:
        fraction = snapshot.fraction
        filled = round(self.WIDTH * fraction) if fraction is not None else 0
        bar = f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] " if fraction is not None else ""
        return bar + describe(snapshot, self._sep)

    def _draw(self) -> None:
        if self._shown is not None:
            self._write(CLEAR_LINE + self._text(self._shown)[: self._columns() - 1])  # no wrap: rewritable

    def _columns(self) -> int:
        try:
            return os.get_terminal_size(self.stream.fileno()).columns
        except (AttributeError, OSError, ValueError):  # not a real terminal (a test's)
            return shutil.get_terminal_size().columns

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()


class ProgressLines:
    """A run's progress as plain lines (no ``\\r``, no bar), one every ``interval_s`` at most and a last one
    when it finishes: for a log file, cron, a pipe."""

    def __init__(
        self, stream: TextIO, *, interval_s: float = INTERVAL_S, clock: Clock = time.monotonic
    ) -> None:
        self.stream = stream
        self._sep = _separator(stream)
        self._throttle = Throttle(interval_s, clock)

    def __call__(self, snapshot: Snapshot) -> None:
        if self._throttle.due(final=snapshot.finished):
            print(f"progress {snapshot.name}: {describe(snapshot, self._sep)}", file=self.stream, flush=True)

    def close(self) -> None:
        pass


@contextmanager
def showing_progress(
    err: TextIO | None = None, out: TextIO | None = None
) -> Iterator[ProgressBar | ProgressLines]:
    """Inside the block, the progress of this process's runs shows: as a bar on ``err`` (stderr) when it is a
    terminal, else as plain lines on ``out`` (stdout, with the run's other progress lines: stderr keeps the
    verdict alone). The bar is gone or finished when the block ends, before any verdict."""
    err, out = err or sys.stderr, out or sys.stdout
    view: ProgressBar | ProgressLines = ProgressBar(err) if _is_terminal(err) else ProgressLines(out)
    wrapped: list[tuple[logging.Handler, object]] = []  # a handler, and the emit of its own it had if any
    if isinstance(view, ProgressBar):  # log lines to the terminal print above the bar
        screens = (err, out) if _is_terminal(out) else (err,)
        for handler in logging.getLogger().handlers:
            if getattr(handler, "stream", None) in screens:
                wrapped.append((handler, vars(handler).get("emit")))
                vars(handler)["emit"] = functools.partial(view.print_above, handler.emit)
    try:
        with listening(view):
            yield view
    finally:
        for handler, before in wrapped:
            if before is None:
                vars(handler).pop("emit", None)  # the class's own again
            else:
                vars(handler)["emit"] = before
        view.close()
