"""What a flow run started from the command line shows, and where Prefect keeps it.

- The terminal: Prefect's progress lines on stdout, one line each (no traceback); stderr is left to the
  command's own one-line verdict. The full log, tracebacks included, goes to LOG_FILE as well.
- Without a Prefect server (no PREFECT_API_URL), Prefect starts a temporary one; its database is set to
  ``var/prefect-local.db`` here, so command-line and demo runs never land in the database of a Prefect server
  started from the same home directory (``~/.prefect``) for operations.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from pathlib import Path

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
            handler.setStream(sys.stdout)
            handler.console.file = sys.stdout
            if handler.formatter is not None and not isinstance(handler.formatter, WithoutTraceback):
                handler.setFormatter(WithoutTraceback(handler.formatter))
    if log_file and not any(isinstance(h, _FullLog) for h in root.handlers):
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        full = _FullLog(log_file, maxBytes=10 * 1024 * 1024, backupCount=3, encoding="utf-8")
        full.setFormatter(logging.Formatter(LOG_FORMAT))
        full.setLevel(logging.INFO)
        root.addHandler(full)
