"""Worker processes that ``settlement serve --projections-process`` starts beside the API and stops
with it: ``settlement projections run`` (and ``settlement letters run``), each in a process of its own so
that the API process keeps its interpreter for requests."""

from __future__ import annotations

import ctypes
import logging
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> Callable[[], None] | None:
    """On Linux, a function for the child (between fork and exec) that asks the kernel to send it
    SIGTERM when this process dies, however it dies (SIGKILL too): no worker outlives its server.
    Resolved here, in the parent, so that the child only makes the call."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def child() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM))

    return child


RESTART_SECONDS = 2.0  # after a worker exited on its own
STOP_SECONDS = 15.0  # a worker finishes its batch in hand on SIGTERM; then it is killed


class Companions:
    """Runs each ``settlement`` command of ``commands`` in a child process; restarts one that exits on
    its own (its views and outbox resume where they committed); :meth:`stop` ends them all."""

    def __init__(
        self, commands: Sequence[Sequence[str]], *, restart_seconds: float = RESTART_SECONDS
    ) -> None:
        self.commands = [list(c) for c in commands]
        self.restart_seconds = restart_seconds
        self.processes: list[subprocess.Popen[bytes] | None] = [None] * len(self.commands)
        self.restarts = 0
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._watcher: threading.Thread | None = None
        self._preexec = _die_with_parent()

    def start(self) -> None:
        with self._lock:
            for i in range(len(self.commands)):
                self.processes[i] = self._spawn(i)
        self._watcher = threading.Thread(target=self._watch, name="settlement-companions", daemon=True)
        self._watcher.start()

    def _spawn(self, i: int) -> subprocess.Popen[bytes]:
        # The same interpreter, environment and working directory as this process: the same settings.
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli.main", *self.commands[i]], preexec_fn=self._preexec
        )
        log.info("started `settlement %s` (pid %d)", " ".join(self.commands[i]), process.pid)
        return process

    def _watch(self) -> None:
        while not self._stopping.wait(0.5):
            for i, process in enumerate(self.processes):
                if process is None or process.poll() is None:
                    continue
                log.warning(
                    "`settlement %s` exited (status %s); starting it again in %.0f s",
                    " ".join(self.commands[i]),
                    process.returncode,
                    self.restart_seconds,
                )
                if self._stopping.wait(self.restart_seconds):
                    return
                with self._lock:
                    if self._stopping.is_set():
                        return
                    try:
                        self.processes[i] = self._spawn(i)
                    except OSError as error:  # no process now (EAGAIN, ENOMEM): the next round tries again
                        # The watcher must not end: its children die with the thread that started them.
                        log.error("`settlement %s` could not be started: %s", " ".join(self.commands[i]),
                                  type(error).__name__)  # fmt: skip
                        continue
                    self.restarts += 1

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        """SIGTERM to each worker (it finishes the batch in hand), then SIGKILL after ``timeout``.
        Called again (the server's shutdown, then its exit), it does nothing more."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        with self._lock:
            running = [p for p in self.processes if p is not None and p.poll() is None]
            for process in running:
                process.terminate()
        for process in running:
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._watcher is not None:
            self._watcher.join(timeout)
