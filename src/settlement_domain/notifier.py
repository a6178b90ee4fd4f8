"""The NOTIFY after committed saves, sent by a thread of its own and coalesced (PostgreSQL).

After each committed save the application announces new events on its schema's channel, so that
projection runners in other processes wake at once (projections/engine/wakeup.py). Sent inline, that
NOTIFY cost each save a pool connection and a round trip, and could wait on the pool while requests
held every connection. Here a save only marks that a NOTIFY is wanted; a thread of the store sends it:
one NOTIFY for all the saves committed while the one before was being sent (a runner reads everything
new when it wakes, so one wake-up per burst is all it needs). A NOTIFY that fails is not retried: the
runners' poll (once a second) finds the events all the same.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

# A thread with nothing to send for this long ends (the next save starts another): an application
# that is never closed is not kept alive, with its store's connections, by an idle thread.
IDLE_SECONDS = 10.0


class CoalescedNotifier:
    """Calls ``send`` in a thread of its own after each :meth:`poke`, once for all pokes that arrived
    while it was sending."""

    def __init__(
        self, send: Callable[[], None], name: str = "settlement-notify", *, idle_seconds: float = IDLE_SECONDS
    ) -> None:
        self._send = send
        self.idle_seconds = idle_seconds
        self._name = name
        self._wanted = threading.Event()
        self._closed = False
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pokes = 0  # saves announced (one writer at a time per save: a lost increment is harmless)
        self._seen = 0  # the pokes the NOTIFYs sent so far cover
        self.sent = 0  # NOTIFYs sent (tests, the benchmark)
        self.failed = 0

    def poke(self) -> None:
        """A save has committed: a NOTIFY is wanted. Never blocks on the database."""
        if self._closed:
            return
        self._pokes += 1
        self._wanted.set()
        # Under the lock, after the set: a thread ending for idleness checks the flag under the same
        # lock, so either it sees this poke and goes on, or this poke sees it gone and starts another.
        with self._lock:
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        """Stops the thread after the NOTIFY wanted before this call, if any, is sent."""
        with self._lock:
            self._closed = True
            thread, self._thread = self._thread, None
        self._wanted.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            if not self._wanted.wait(self.idle_seconds):
                with self._lock:  # idle: the thread ends (a poke starts another), holding nothing
                    if not self._wanted.is_set():
                        if self._thread is threading.current_thread():
                            self._thread = None
                        return
            self._wanted.clear()
            pokes = self._pokes
            if pokes != self._seen:
                self._seen = pokes
                try:
                    self._send()
                    self.sent += 1
                except Exception as error:  # the save has committed; the runners' poll covers it
                    self.failed += 1
                    # Never the error's text (it may quote connection details): its kind only.
                    log.warning(
                        "NOTIFY after a save failed (%s); runners poll meanwhile", type(error).__name__
                    )
            if self._closed and self._pokes == self._seen:
                return
