"""How uvicorn serves the app: JSON-line logs, no access log, and a graceful shutdown."""

from __future__ import annotations

from typing import Any

from api.settings import Settings

# On SIGTERM or Ctrl-C uvicorn stops accepting, lets requests in flight finish for up to this long,
# then runs the app's shutdown: running imports finish, the projection runner commits its batch.
GRACEFUL_SHUTDOWN_SECONDS = 30


def uvicorn_options(settings: Settings, host: str, port: int) -> dict[str, Any]:
    """uvicorn's settings for ``settlement serve`` (one process or several workers)."""
    return {
        "host": host,
        "port": port,
        # The access log is off: query strings (audit free-text search) may carry names. Every answer
        # carries X-Correlation-ID instead, which the audit trail records.
        "access_log": False,
        "log_config": None,  # the JSON-lines handler of api.logs gets uvicorn's records too
        "log_level": settings.log_level,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
    }
