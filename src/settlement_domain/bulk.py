"""Bulk runs: many commands, one transaction per flush (imports, the generated demo history).

A :class:`BulkRun` keeps every aggregate it loaded or changed in an identity map, so that a later
command sees the unsaved changes of an earlier one without reading the store. A refused command
leaves no trace: the aggregates it touched are put back as they were before it ran. Events are stored
in the order the commands caused them, as if each command had been saved on its own, so that the
log (and every read model folding it) sees the same history either way.
"""

from __future__ import annotations

import copy
import gc
from collections.abc import Iterator
from contextlib import contextmanager
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate, DomainEventProtocol
from eventsourcing.persistence import IntegrityError

from settlement_domain.application import CommandResult, SettlementApp
from settlement_domain.commands import Command
from settlement_domain.context import CommandContext
from settlement_domain.errors import ConcurrencyConflict, Text

MAX_TRANSACTION = 5_000  # events stored in one transaction (see BulkRun.flush)


class BulkRun:
    """Commands handled in memory and saved together by :meth:`flush` (see the module docstring)."""

    def __init__(self, app: SettlementApp, *, undo: bool = True) -> None:
        """``undo=False``: a refused command is not put back (its aggregates are not copied before
        each command), for a caller that drops the whole run when any command is refused."""
        self.app = app
        self.undo = undo
        self.identity: dict[UUID, Aggregate] = {}
        self.dirty: dict[UUID, Aggregate] = {}
        self._events: list[DomainEventProtocol[UUID]] = []  # in the order the commands caused them
        self._backups: dict[UUID, Aggregate] = {}
        self._absent: set[UUID] = set()
        self._ends: list[int] = []  # where each command's events end in ``_events``
        self.commands = 0

    def assume_absent(self, aggregate_ids: set[UUID]) -> None:
        """Ids the caller found not stored (in one query): loading them fails without asking the store."""
        self._absent |= aggregate_ids

    def _load(self, aggregate_id: UUID) -> Aggregate:
        aggregate = self.identity.get(aggregate_id)
        if aggregate is None:
            if aggregate_id in self._absent:
                raise AggregateNotFoundError(aggregate_id)
            aggregate = self.app.repository.get(aggregate_id)
            self.identity[aggregate_id] = aggregate
        if self.undo and aggregate_id not in self._backups:
            self._backups[aggregate_id] = _backup(aggregate)
        return aggregate

    def handle(self, ctx: CommandContext, command: Command) -> CommandResult:
        """Runs one command against the unsaved state; its result carries position 0 until flushed.

        Idempotency keys are not taken here: a bulk run's own row keys make it repeatable.
        """
        if ctx.idempotency_key:
            raise ValueError("Idempotency keys are not accepted in a bulk run.")
        self._backups = {}
        try:
            outcome = self.app.run_handler(ctx, command, self._load)
        except BaseException:
            for aggregate_id, backup in self._backups.items():
                self.identity[aggregate_id] = backup
                if aggregate_id in self.dirty:  # its earlier unflushed events are in the backup too
                    self.dirty[aggregate_id] = backup
            raise
        finally:
            self._backups = {}
        for aggregate in (outcome.primary, *outcome.changed):
            self.identity[aggregate.id] = aggregate
            self.dirty[aggregate.id] = aggregate
            self._events.extend(aggregate.collect_events())
        self._ends.append(len(self._events))
        self.commands += 1
        return CommandResult(str(outcome.primary.id), outcome.primary.version, 0, extra=outcome.extra)

    def flush(self) -> int:
        """Saves everything changed since the last flush; returns the log position.

        Up to :data:`MAX_TRANSACTION` events are one transaction. More are stored in transactions of
        about that size that end where a command's events end, in command order: psycopg's pipeline mode, which the library's PostgreSQL recorder
        inserts in, can hang on one very large insert. Each transaction is a prefix of the run, so a
        crash between them leaves the log consistent; an import writes its record last, so running the
        same file again completes it.
        """
        if not self.dirty:
            return self.app.position()
        # The events in command order, handed over as one object (the library asks each object it is
        # given whether it is an event, a protocol check that costs more than storing one).
        snapshotted = [a for a in self.dirty.values() if type(a) in self.app.snapshotting_intervals]
        first_versions = {e.originator_id: e.originator_version for e in reversed(self._events)}
        events, ends, self.dirty, self._events, self._ends = self._events, self._ends, {}, [], []
        position = self.app.position()
        for start, end in _chunks(ends, MAX_TRANSACTION):
            try:
                chunk = _InCommandOrder(events[start:end])
                recordings = self.app.save(chunk)  # type: ignore[arg-type]  # collects events, as an aggregate
            except IntegrityError:
                stored = (
                    Text("nothing of this batch was stored")
                    if start == 0
                    else Text("its first %(count)s events were stored", {"count": start})
                )
                raise ConcurrencyConflict(
                    "Another writer changed the same aggregates during the bulk run; %(stored)s.",
                    {"stored": stored},
                ) from None
            if recordings:
                position = recordings[-1].notification.id
        self._take_snapshots(snapshotted, first_versions)
        return position

    def _take_snapshots(self, aggregates: list[Aggregate], first_versions: dict[UUID, int]) -> None:
        """A snapshot of each aggregate the run took past a multiple of its snapshotting interval, taken
        of the state in memory (the library would read each one back from the store, once every
        interval): what loading it later starts from."""
        for aggregate in aggregates:
            interval = self.app.snapshotting_intervals[type(aggregate)]
            first = first_versions.get(aggregate.id)
            if first is not None and aggregate.version // interval > (first - 1) // interval:
                snapshot_class = getattr(type(aggregate), "Snapshot", type(self.app).snapshot_class)
                self.app.snapshots.put([snapshot_class.take(aggregate)])  # type: ignore[union-attr]


@contextmanager
def bulk_run(app: SettlementApp) -> Iterator[BulkRun]:
    """A bulk run, flushed at the end of the block; on an error leaving it, unflushed work is dropped."""
    run = BulkRun(app)
    yield run
    run.flush()


def _chunks(ends: list[int], size: int) -> list[tuple[int, int]]:
    """Spans of about ``size`` events that end where a command's events end: a transaction never
    stores part of one command (a selection without its place), so a crash between two leaves whole
    commands only. A command of more than ``size`` events is a span of its own."""
    spans: list[tuple[int, int]] = []
    start = last = 0
    for end in ends:
        if end - start > size and last > start:
            spans.append((start, last))
            start = last
        last = end
    if last > start:
        spans.append((start, last))
    return spans


class _InCommandOrder:
    """A bulk run's events, given to ``Application.save`` as one collection of events."""

    def __init__(self, events: list[DomainEventProtocol[UUID]]) -> None:
        self.id = uuid4()  # the library files what it saves by id; nothing is ever stored under it
        self._events = events

    def collect_events(self) -> list[DomainEventProtocol[UUID]]:
        return self._events


def _backup(aggregate: Aggregate) -> Aggregate:
    """A copy good enough to undo one command: the aggregates' event methods replace values or
    change containers one level deep (a dict of deviations, a list of members), and events are
    immutable, so copying each container once is enough (and much cheaper than ``deepcopy``).
    """
    clone = copy.copy(aggregate)
    for name, value in vars(aggregate).items():
        if isinstance(value, (list, dict, set)):
            setattr(clone, name, copy.copy(value))
    return clone


@contextmanager
def paused_garbage_collector() -> Iterator[None]:
    """Pauses Python's cyclic garbage collector for a block of bulk work, the caller's choice.

    Bulk work builds large maps of objects without reference cycles (a bulk run's identity map, a
    rebuild's rows); the collector's repeated full scans of them cost more than the work itself.
    Reference counting still frees everything as usual.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
