"""A few asyncpg connections for the reads that run in the event loop (PostgreSQL).

The hottest reads of the API (``GET /municipalities/{number}/places``) run one statement each
(``projections.engine.serving``) without handing the request to a worker thread. Measured on this
machine (docs/performance.md), one small select costs the client about 30 us of CPU on an asyncpg
connection, against 120-180 us on psycopg's asynchronous connection and pool and 140 us plus the
thread hand-over on psycopg's synchronous pool; asyncpg's own pool adds a reset query or 30 us per
checkout. So this is a pool of its own, as small as it can be: a stack of at most ``size``
connections, each opened when first needed, in autocommit (asyncpg opens no transaction unless asked),
with the statements prepared once per connection (asyncpg's statement cache).

A connection that failed at the connection level, or whose statement was interrupted (the client went
away and the request was cancelled), is closed and replaced by a new one on its next use; an error
the server answered (a table dropped after a swap, say) leaves the connection as it was.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import asyncpg

from projections.engine.store import schema_of

CONNECT_TIMEOUT_SECONDS = 10


# libpq's connection settings that asyncpg does not know: asyncpg would send them to the server as
# run-time parameters, which the server refuses ("unrecognized configuration parameter"). The same URL
# serves psycopg (the event store, the listener) and asyncpg (the reads), so these are left to psycopg.
LIBPQ_ONLY = frozenset(
    {
        "schema", "connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval",
        "keepalives_count", "tcp_user_timeout", "client_encoding", "fallback_application_name",
        "channel_binding", "gssencmode", "sslcompression", "requirepeer", "hostaddr", "load_balance_hosts",
        "replication", "service", "requiressl", "sslsni", "sslcertmode", "gssdelegation", "require_auth",
        "sslnegotiation",
    }
)  # fmt: skip


def asyncpg_dsn(database_url: str) -> tuple[str, dict[str, str]]:
    """A settlement PostgreSQL URL as asyncpg's DSN and server settings (``?schema=`` as the search path)."""
    parts = urlsplit(database_url)
    query = urlencode(
        [(k, v) for k, values in parse_qs(parts.query).items() if k not in LIBPQ_ONLY for v in values]
    )
    settings = {"application_name": "settlement-reads"}
    schema = schema_of(database_url)
    if schema:
        settings["search_path"] = schema
    return urlunsplit(("postgresql", parts.netloc, parts.path, query, "")), settings


class AsyncReadPool:
    """At most ``size`` asyncpg connections, handed out last-in first-out (see the module)."""

    def __init__(self, database_url: str, size: int = 8) -> None:
        self.dsn, self.server_settings = asyncpg_dsn(database_url)
        self.size = size
        self._idle: asyncio.LifoQueue[Any] | None = None
        self._open: set[Any] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def open(self) -> None:
        """Makes the slots (in the running event loop) and opens one connection, so that a server
        that cannot reach its database says so at start rather than at the first read."""
        idle: asyncio.LifoQueue[Any] = asyncio.LifoQueue()
        for _ in range(self.size - 1):
            idle.put_nowait(None)  # a slot whose connection is opened when first needed
        idle.put_nowait(await self._connect())
        self._idle = idle
        self._loop = asyncio.get_running_loop()

    def serves_this_loop(self) -> bool:
        """Whether the running event loop is the one the connections belong to (an asyncpg connection
        works in its own loop only; a test harness may call the app from another)."""
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:
            return False

    async def _connect(self) -> Any:
        conn = await asyncpg.connect(
            self.dsn, server_settings=self.server_settings, timeout=CONNECT_TIMEOUT_SECONDS
        )
        self._open.add(conn)
        return conn

    async def close(self) -> None:
        self._idle = None
        connections, self._open = self._open, set()
        for conn in connections:
            conn.terminate()  # no round trip: the server ends the session when the socket closes

    async def fetch(self, text: str, args: Sequence[Any]) -> list[Any]:
        """The rows (asyncpg records, read by column name) of one statement."""
        idle = self._idle
        if idle is None:
            raise RuntimeError("the read pool is not open")
        conn = await idle.get()
        try:
            if conn is None or conn.is_closed():
                self._open.discard(conn)
                conn = None  # should connecting fail, the slot stays empty for the next read
                conn = await self._connect()
            rows: list[Any] = await conn.fetch(text, *args)
            return rows
        except asyncpg.PostgresError:
            raise  # the server answered: the connection is fine
        except BaseException:
            # Broken, or interrupted mid-statement (cancelled): never hand this connection out again.
            if conn is not None:
                self._open.discard(conn)
                conn.terminate()
                conn = None
            raise
        finally:
            idle.put_nowait(conn)
