"""Read records (R6, R14) appended in groups: one transaction for the records of many requests.

Most requests that read personal data append a read record (``PersonFolderViewed``,
``PersonalDataListed``): an aggregate of its own per read, so it never conflicts with anything. Appended
one by one, each takes the library's table lock, a commit and its flush. Here a request hands its
record to the process's :class:`GroupAppender` and waits: whoever holds the appender's turn writes every
record waiting at that moment in ONE save (one transaction, one lock, one commit), then wakes each
waiting request with its own record's position. A request therefore never answers before its record is
committed (R6/R14: every read recorded, nothing lost on a crash), and a failed save fails every request
of its group (:class:`~settlement_domain.errors.ReadNotRecorded`, or a conflict), never silently.

The records go through the application's own ``save``: each is encoded and sealed as a lone save would
be (the persons named sealed with the month's key, R14), their keys stored in the same transaction (R18),
and the log's order, which the hash chain follows (R20), is the order the database gives them.

No thread of its own: the first request to find the turn free writes (flat combining), so a record
that finds nothing in flight is written at once, and records arriving during a write are written
together right after it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Recording

from settlement_domain.errors import ConcurrencyConflict, ReadNotRecorded

# The most records one transaction takes (the rest wait for the next turn).
MAX_GROUP = 200


class _Waiting:
    __slots__ = ("aggregate", "done", "error", "position")

    def __init__(self, aggregate: Aggregate) -> None:
        self.aggregate = aggregate
        self.done = False
        self.position = 0
        self.error: BaseException | None = None


class GroupAppender:
    """Appends aggregates of one new event each (read records) in groups; see the module."""

    def __init__(self, save: Callable[..., Sequence[Recording[Any]]], *, max_group: int = MAX_GROUP) -> None:
        self._save = save
        self.max_group = max_group
        self._waiting: list[_Waiting] = []
        self._waiting_lock = threading.Lock()
        self._turn = threading.Lock()  # one group in flight per process
        # Figures for tests and the benchmark: saves made, records written.
        self.groups = 0
        self.records = 0

    def append(self, aggregate: Aggregate) -> int:
        """Stores ``aggregate``'s pending event with whatever else waits; answers its log position once
        committed. Raises ``ConcurrencyConflict`` or ``ReadNotRecorded`` when its group failed."""
        mine = _Waiting(aggregate)
        with self._waiting_lock:
            self._waiting.append(mine)
        while not mine.done:
            with self._turn:
                if mine.done:
                    break
                with self._waiting_lock:
                    group = self._waiting[: self.max_group]
                    del self._waiting[: self.max_group]
                self._write(group)
        if mine.error is not None:
            raise mine.error
        return mine.position

    def _write(self, group: list[_Waiting]) -> None:
        try:
            recordings = self._save(*(w.aggregate for w in group))
        except BaseException as error:
            for w in group:
                w.error = _failure(error)
                w.done = True
            if not isinstance(error, Exception):
                raise  # KeyboardInterrupt, SystemExit: the waiters are failed, the writer stops
            return
        positions = {r.domain_event.originator_id: r.notification.id for r in recordings}
        self.groups += 1
        self.records += len(group)
        for w in group:
            position = positions.get(w.aggregate.id)
            if position is None:  # not possible with the library's save; never answer unrecorded
                w.error = ReadNotRecorded("The read could not be recorded; try again.")
            else:
                w.position = position
            w.done = True


def _failure(error: BaseException) -> BaseException:
    """A new exception per waiting request (each raises its own), caused by the group's failure."""
    failure: BaseException
    if isinstance(error, IntegrityError):
        failure = ConcurrencyConflict("Someone else changed this case at the same moment; try again.")
    else:
        failure = ReadNotRecorded("The read could not be recorded; try again.")
    failure.__cause__ = error
    return failure
