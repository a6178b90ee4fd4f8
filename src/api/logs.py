"""Logs as JSON lines (standard library ``logging``), each line with the correlation id of its request.

One line per record: ``time``, ``level``, ``logger``, ``message``, ``correlation_id`` (the request's
``X-Correlation-ID``; ``null`` for work outside a request, such as the projection runner), and for
an error its exception type and stack. Never the exception's message: a database error quotes SQL
and the values of the row it failed on (names, birth dates), so only its type and where it happened.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TextIO

# Set by the HTTP edge for the length of a request; copied into the threads handlers run in.
CORRELATION_ID: ContextVar[str | None] = ContextVar("correlation_id", default=None)

LEVELS = ("debug", "info", "warning", "error", "critical")


class JsonLines(logging.Formatter):
    """Formats a record as one JSON object on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "correlation_id": CORRELATION_ID.get(),
        }
        if record.exc_info and record.exc_info[0] is not None:
            line["exception"] = record.exc_info[0].__name__
            line["stack"] = "".join(traceback.format_tb(record.exc_info[2]))
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(level: str = "info", stream: TextIO | None = None) -> None:
    """Sends every logger's records (the server's own and uvicorn's) to ``stream`` as JSON lines."""
    if level.lower() not in LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LEVELS)}, not {level!r}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLines())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # uvicorn's access log would carry query strings (free-text audit searches may hold names).
    logging.getLogger("uvicorn.access").disabled = True
    # WeasyPrint logs seven "Step n" lines per letter it renders at info: its warnings are what matter.
    for name in ("weasyprint", "weasyprint.progress", "fontTools"):
        logging.getLogger(name).setLevel(logging.WARNING)
