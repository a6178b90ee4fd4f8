"""How uvicorn serves the app: bounded requests and connections, JSON-line logs, a graceful shutdown.

uvicorn's HTTP protocol (httptools) accepts request heads of any size and starts no timer on a new
connection, so one client could send a 100 MB header or hold connections open without sending
anything. :class:`BoundedHttpToolsProtocol` adds what it lacks, before a request reaches the app:

- the request line and headers together at most ``max_header_bytes``: else ``431``, closed;
- the head within ``header_timeout_seconds`` of its first byte: else ``408``, closed;
- the body within ``body_timeout_seconds`` of the head: else the connection is closed;
- a new connection that sends nothing is closed after the keep-alive timeout, as an idle one is;
- at most ``max_connections`` open connections: a request on one more answers ``429``, closed.

The body's size is bounded by the app (``request_max_body_size``, 413), and a JSON body's nesting and
keys per object by ``api.http.context.check_json_body`` (422).
"""

from __future__ import annotations

import asyncio
import functools
import json
import uuid
from dataclasses import dataclass
from typing import Any, ClassVar

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from api.http.errors import PROBLEM_BASE, PROBLEM_JSON, STATUS_TITLES
from api.messages import translate
from api.settings import Settings
from api.web.i18n import DEFAULT_LOCALE, choose_locale, gettext

# On SIGTERM or Ctrl-C uvicorn stops accepting, lets requests in flight finish for up to this long,
# then runs the app's shutdown: running imports finish, the projection runner commits its batch.
GRACEFUL_SHUTDOWN_SECONDS = 30


@dataclass(frozen=True)
class Limits:
    """The connection-level limits (docs/operations.md, "Limits on requests")."""

    max_header_bytes: int = 32_768
    max_connections: int = 1000
    keep_alive_seconds: float = 5.0
    header_timeout_seconds: float = 10.0
    body_timeout_seconds: float = 60.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            max_header_bytes=settings.max_header_bytes,
            max_connections=settings.max_connections,
            keep_alive_seconds=settings.keep_alive_seconds,
            header_timeout_seconds=settings.header_timeout_seconds,
            body_timeout_seconds=settings.body_timeout_seconds,
        )


@functools.cache
def limits_from_environment() -> Limits:
    """The limits of a worker process (``serve --workers``), which imports this protocol by name."""
    return Limits.from_settings(Settings())


def problem_parts(
    status: int, detail: str, slug: str, headers: dict[str, str] | None = None, locale: str = DEFAULT_LOCALE
) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """The headers and problem-details body of an answer that closes the connection (in bokmål unless
    the request's headers, where they were read, asked for English)."""
    body = json.dumps(
        {
            "type": PROBLEM_BASE + slug,
            "title": gettext(locale, STATUS_TITLES.get(status, "Error")),
            "status": status,
            "detail": translate(locale, detail),
        }
    ).encode()
    fields = {
        "content-type": PROBLEM_JSON,
        "content-language": locale,
        "content-length": str(len(body)),
        "connection": "close",
        "x-correlation-id": uuid.uuid4().hex,
        **(headers or {}),
    }
    return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in fields.items()], body


def problem_bytes(status: int, detail: str, slug: str, headers: dict[str, str] | None = None) -> bytes:
    """A whole HTTP/1.1 answer, for refusals made before there is a request to hand the app."""
    fields, body = problem_parts(status, detail, slug, headers)
    return (
        STATUS_LINE[status]
        + b"".join(name + b": " + value + b"\r\n" for name, value in fields)
        + b"\r\n"
        + body
    )


async def too_many_connections(scope: Any, receive: Any, send: Any) -> None:
    """The ASGI answer to a request on a connection beyond ``max_connections`` (429)."""
    accept_language = next(
        (value.decode("latin-1") for name, value in scope.get("headers", ()) if name == b"accept-language"),
        None,
    )
    fields, body = problem_parts(
        429,
        "This server has too many open connections; try again shortly.",
        "too-many-connections",
        {"retry-after": "1"},
        choose_locale(None, accept_language),
    )
    await send({"type": "http.response.start", "status": 429, "headers": fields})
    await send({"type": "http.response.body", "body": body})


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with bounded heads, timeouts and connections (see the module)."""

    limits: ClassVar[Limits | None] = None  # None: from the environment (worker processes)

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.bounds = type(self).limits or limits_from_environment()
        self._reading_head = True
        self._head_bytes = 0
        self._tail = b""
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None

    # Connections -------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # A connection that never sends a byte is idle too: the keep-alive timeout closes it.
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def _cancel_timers(self) -> None:
        for timer in (self._head_timer, self._body_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._body_timer = None

    def _refuse(self, status: int, detail: str, slug: str) -> None:
        """Answers with a problem at the protocol level and closes the connection."""
        self._cancel_timers()
        self._unset_keepalive_if_required()
        if not self.transport.is_closing():
            self.transport.write(problem_bytes(status, detail, slug))
            self.transport.close()

    # The request head --------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._reading_head:
            # Count the bytes of the head only (a body may follow in the same chunk).
            seen = self._tail + data
            end = seen.find(b"\r\n\r\n")
            self._head_bytes += len(data) if end < 0 else max(0, end + 4 - len(self._tail))
            self._tail = seen[-3:]
            if self._head_bytes > self.bounds.max_header_bytes:
                self._refuse(
                    431,
                    f"The request line and headers are larger than {self.bounds.max_header_bytes} bytes.",
                    "headers-too-large",
                )
                return
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.bounds.header_timeout_seconds, self._head_timed_out)

    def on_headers_complete(self) -> None:
        self._reading_head = False
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        self._body_timer = self.loop.call_later(self.bounds.body_timeout_seconds, self._body_timed_out)
        if len(self.connections) > self.bounds.max_connections:
            app, self.app = self.app, too_many_connections
            try:
                super().on_headers_complete()
            finally:
                self.app = app
            return
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        self._reading_head, self._head_bytes, self._tail = True, 0, b""
        super().on_message_complete()

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._reading_head:
            self._refuse(
                408,
                f"The request line and headers did not arrive within {self.bounds.header_timeout_seconds:g} s.",
                "request-timeout",
            )

    def _body_timed_out(self) -> None:
        self._body_timer = None
        if not self.transport.is_closing():
            self.logger.warning("closing a connection whose request body did not arrive in time")
            self.transport.close()


def bounded_protocol(limits: Limits) -> type[BoundedHttpToolsProtocol]:
    """The protocol with these limits (one process; workers import the class by name instead)."""
    return type("BoundedHttpToolsProtocol", (BoundedHttpToolsProtocol,), {"limits": limits})


def uvicorn_options(settings: Settings, host: str, port: int, *, workers: int = 1) -> dict[str, Any]:
    """uvicorn's settings for ``settlement serve`` (one process or several workers)."""
    return {
        "host": host,
        "port": port,
        # Worker processes are started anew and import the protocol by name, with limits from the
        # environment; one process gets the class with the limits of these settings.
        "http": (
            f"{__name__}:BoundedHttpToolsProtocol"
            if workers > 1
            else bounded_protocol(Limits.from_settings(settings))
        ),
        "timeout_keep_alive": settings.keep_alive_seconds,
        # The access log is off: query strings (audit free-text search) may carry names. Every answer
        # carries X-Correlation-ID instead, which the audit trail records.
        "access_log": False,
        "log_config": None,  # the JSON-lines handler of api.logs gets uvicorn's records too
        "log_level": settings.log_level,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
    }
