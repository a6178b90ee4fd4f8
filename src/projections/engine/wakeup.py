"""What wakes a projection runner that has nothing to do: new events, as soon as they are committed.

A runner that found no new events waits for a wake-up or its poll interval, whichever comes first:

- writes of its own process wake it directly (``SettlementApp.on_saved``: :meth:`Wakeup.wake`);
- on PostgreSQL every committed save of the application sends ``NOTIFY`` on the schema's channel
  (``SettlementApp._notify``), which :meth:`Wakeup.listen` hears on a connection of its
  own in a thread of its own, so writes of other processes (API workers, imports, the command line)
  wake it too;
- polling stays as the fallback: a notification lost while the listening connection was down (or a
  write by a process that sends none) is found at the next poll.

Under a steady stream of writes, waking for each one would fold each write in a batch of its own,
and a batch costs the same few dozen statements whether it folds one event or a thousand. So a
wake-up that comes less than ``gather`` seconds after the previous one waits out the rest of that
interval first, letting the writes of the moment join one batch: an isolated write is folded at
once, a stream of them at most every ``gather`` seconds (the views stay well within a second).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import psycopg

from projections.engine.store import schema_of
from settlement_domain.persistence import notify_channel, notify_statement

log = logging.getLogger(__name__)

RECONNECT_SECONDS = 1.0  # after the listening connection failed (the poll covers the gap)
CHECK_SECONDS = 1.0  # how often the listener looks whether it should stop
GATHER_SECONDS = 0.05  # under a stream of writes, at most one batch per this interval


class Wakeup:
    """A runner's wake-up: an event set by this process's writes and, once listening, by NOTIFY."""

    def __init__(self, gather: float = GATHER_SECONDS) -> None:
        self.gather = gather
        self._last = 0.0  # when the previous wait ended (monotonic)
        self._event = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.listening = threading.Event()  # set while the LISTEN connection is up (tests, health)
        self.heard = 0  # notifications received (tests, metrics)

    def wake(self, *_: Any) -> None:
        """New events (or a stop): the waiting runner goes on at once."""
        self._event.set()

    def wait(self, timeout: float) -> bool:
        """Waits for a wake-up or ``timeout`` seconds; True when woken. A wake-up within ``gather``
        seconds of the previous wait's end waits for the rest of that interval (see the module)."""
        woken = self._event.wait(timeout)
        if woken and (rest := self._last + self.gather - time.monotonic()) > 0:
            time.sleep(rest)
        self._event.clear()
        self._last = time.monotonic()
        return woken

    # PostgreSQL ---------------------------------------------------------------------------------

    def listen(self, database_url: str) -> None:
        """Starts listening for the schema's NOTIFY in a daemon thread (PostgreSQL URLs only)."""
        if not database_url.startswith(("postgresql", "postgres")) or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._listen, args=(database_url,), name="projection-wakeup", daemon=True
        )
        self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        """Stops listening (the thread notices within :data:`CHECK_SECONDS`)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)

    def _listen(self, database_url: str) -> None:
        schema = schema_of(database_url)
        parts = urlsplit(database_url)
        query = "&".join(f"{k}={v}" for k, vs in parse_qs(parts.query).items() if k != "schema" for v in vs)
        conninfo = urlunsplit(("postgresql", parts.netloc, parts.path, query, ""))
        listen = notify_statement(notify_channel(schema)).replace("NOTIFY", "LISTEN", 1)
        while not self._stop.is_set():
            try:
                with psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as conn:
                    conn.execute(listen)
                    self.listening.set()
                    # Events committed while not listening: one wake-up to look for them.
                    self.wake()
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=CHECK_SECONDS):
                            self.heard += 1
                            self.wake()
            except psycopg.Error as error:
                # Never the error's text (it may quote connection details): its kind only.
                log.warning(
                    "projection wake-up lost its connection (%s); polling meanwhile", type(error).__name__
                )
            finally:
                self.listening.clear()
            self._stop.wait(RECONNECT_SECONDS)
